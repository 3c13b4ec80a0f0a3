//! The 20 model files of the corpus (`cases[]`): the backbone (family, nested model name or
//! none) and the preprocessing must be found automatically, and preprocessing the stored PNGs
//! must reproduce the stored `inputs/*.npy` tensors.

use std::collections::BTreeSet;
use std::path::Path;

use backbones::{choose_preprocessing, detect, load_image, resize_bilinear, to_tensor};
use kerascam_tests::manifest::Case;
use kerascam_tests::{corpus, npy};

/// Loads one case's model and compares detection and preprocessing with the manifest.
fn check_case(dir: &Path, case: &Case) -> Result<String, String> {
    let model =
        keras_import::load_model(&dir.join(&case.file)).map_err(|e| format!("load: {e}"))?;
    let d = detect(&model.graph);
    let chosen = choose_preprocessing(&model.graph, d.as_ref());
    let mut problems = Vec::new();
    match (&d, &case.backbone) {
        (None, None) => {}
        (Some(d), None) => problems.push(format!("unexpected backbone {d:?}")),
        (None, Some(_)) => problems.push("backbone not detected".into()),
        (Some(d), Some(expected)) => {
            let scope = expected.nested_layer_name.as_deref().unwrap_or("");
            if d.family != expected.family || d.scope != scope {
                problems.push(format!(
                    "detected {} in `{}`, expected {} in `{scope}`",
                    d.family, d.scope, expected.family
                ));
            }
        }
    }
    if chosen.as_str() != case.preprocessing {
        problems.push(format!("preprocessing {chosen}"));
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(d.map_or("none".into(), |d| {
        format!(
            "{} {} in `{}` include_top={} ({:.2})",
            d.family,
            d.variant.unwrap_or_default(),
            d.scope,
            d.include_top,
            d.confidence
        )
    }))
}

#[test]
fn every_case_backbone_and_preprocessing_is_found() {
    let Some((dir, manifest)) = corpus::manifest() else {
        return;
    };
    let cases = &manifest.cases;
    let mut failures = Vec::new();
    for case in cases {
        let id = &case.id;
        match check_case(&dir, case) {
            Ok(found) => println!("{id}: {found}, {}", case.preprocessing),
            Err(e) => failures.push(format!("{id}: {e}")),
        }
    }
    println!(
        "backbones_cases: {} of {} cases detected and preprocessed as recorded",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn stored_pngs_preprocess_to_the_stored_inputs() {
    let Some((dir, manifest)) = corpus::manifest() else {
        return;
    };
    let mut done = BTreeSet::new();
    let mut worst = 0.0f32;
    for case in &manifest.cases {
        let pre = case.preprocessing.parse().expect("known mode");
        for image in &case.images {
            let input = &image.input;
            if !done.insert(input.clone()) {
                continue;
            }
            let expected = npy::read_f32(&dir.join(input));
            let [1, h, w, 3] = expected.shape[..] else {
                panic!("{input}: shape {:?}", expected.shape);
            };
            let img = load_image(dir.join(&image.image)).expect("PNG decodes");
            let t = to_tensor(&img, Some(h as u32), Some(w as u32), pre).expect("tensor");
            assert_eq!(t.shape(), [1, h, w, 3], "{input}");
            for (i, (a, b)) in t.data.iter().zip(&expected.data).enumerate() {
                let err = (a - b).abs();
                worst = worst.max(err / b.abs().max(1.0));
                assert!(
                    err <= 1e-5 * b.abs().max(1.0),
                    "{input}[{i}]: {a} vs {b} ({pre})"
                );
            }
        }
    }
    println!(
        "preprocessing: {} stored inputs reproduced, worst relative error {worst:e}",
        done.len()
    );
    assert!(!done.is_empty());
}

/// Our bilinear resize against the corpus' PIL `resize(BILINEAR)` of the same photo.
#[test]
fn bilinear_resize_is_close_to_pil() {
    let Some(dir) = corpus::conformance_dir() else {
        return;
    };
    let original = load_image(dir.join("images/chelsea.png")).expect("original decodes");
    for size in [32u32, 48, 64, 96, 128] {
        let pil = load_image(dir.join(format!("images/chelsea_{size}x{size}.png"))).expect("png");
        let ours = resize_bilinear(&original, size, size).expect("resize");
        let diffs: Vec<i32> = ours
            .as_raw()
            .iter()
            .zip(pil.as_raw())
            .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
            .collect();
        let max = diffs.iter().copied().max().unwrap_or(0);
        let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
        println!("resize 451x300 -> {size}x{size}: max |ours - PIL| {max} levels, mean {mean:.3}");
        // Measured: at most 1 level, mean 0.07-0.13 (different intermediate rounding).
        assert!(mean < 0.2 && max <= 1, "{size}: max {max}, mean {mean}");
    }
}
