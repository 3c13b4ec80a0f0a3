//! Every malformed or unsupported file of the corpus (`bad` in manifest.json) gives exactly the
//! error kind it names, with a message naming the file, and never panics. `no_feature_map` is a
//! valid model (Grad-CAM, not import, refuses it): it must import.

use std::panic::{catch_unwind, AssertUnwindSafe};

use keras_import::load_model;
use kerascam_tests::corpus;

#[test]
fn every_bad_file_gives_the_error_kind_it_names() {
    let Some((dir, manifest)) = corpus::manifest() else {
        return;
    };
    let bad = &manifest.bad;
    assert!(!bad.is_empty(), "manifest.json lists no bad files");
    let mut failures = Vec::new();
    for entry in bad {
        let (file, kind) = (entry.file.as_str(), entry.kind.as_str());
        let path = dir.join(file);
        let outcome = catch_unwind(AssertUnwindSafe(|| load_model(&path)));
        let problem = match (outcome, kind) {
            (Err(_), _) => Some("panicked".to_string()),
            (Ok(Ok(_)), "no_feature_map") => None,
            (Ok(Err(e)), "no_feature_map") => Some(format!("a valid model was refused: {e}")),
            (Ok(Ok(_)), _) => Some("loaded without error".to_string()),
            (Ok(Err(e)), _) if e.kind().as_str() != kind => Some(format!("got {} ({e})", e.kind())),
            (Ok(Err(e)), _) if !e.to_string().contains(&path.display().to_string()) => {
                Some(format!("message does not name the file: {e}"))
            }
            (Ok(Err(_)), _) => None,
        };
        if let Some(problem) = problem {
            failures.push(format!("{file} (expected {kind}): {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{} bad files give their error kind", bad.len());
}
