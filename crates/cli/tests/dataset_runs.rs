//! Runs over datasets (issue 17): labelled folders, shards merged into one report, resume
//! after a kill, the bad inputs, and the report page opened in headless Chromium.
//!
//! The model is the demo's shapes CNN (classes red_disk, blue_square, yellow_triangle); the
//! photos are drawn here: one shape on a plain background.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Class folders named so that their sorted order is the model's class order.
const CLASSES: [&str; 3] = ["0_red_disk", "1_blue_square", "2_yellow_triangle"];

fn demo_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/shapes_cnn.keras")
}

/// A 120 x 90 photo of shape `kind` (0 red disk, 1 blue square, 2 yellow triangle).
fn shape_photo(kind: usize, seed: u32) -> image::RgbImage {
    let (cx, cy) = (
        35.0 + (seed * 13 % 50) as f32,
        30.0 + (seed * 7 % 30) as f32,
    );
    let r = 16.0 + (seed % 5) as f32;
    let background = image::Rgb([190 + (seed % 20) as u8, 200, 185]);
    image::RgbImage::from_fn(120, 90, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let inside = match kind {
            0 => dx * dx + dy * dy <= r * r,
            1 => dx.abs() <= r && dy.abs() <= r,
            _ => dy <= r && dy >= -r && dx.abs() <= (dy + r) / 2.0,
        };
        match (inside, kind) {
            (false, _) => background,
            (true, 0) => image::Rgb([220, 30, 30]),
            (true, 1) => image::Rgb([30, 60, 220]),
            (true, _) => image::Rgb([235, 210, 30]),
        }
    })
}

/// A labelled folder: `per_class` photos of each class in its own folder, plus one red disk
/// filed under the blue squares (a photo the model must get "wrong").
fn labelled_folder(root: &Path, per_class: u32) {
    for (kind, class) in CLASSES.iter().enumerate() {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..per_class {
            let seed = i + 10 * kind as u32;
            let path = root.join(class).join(format!("p{i:03}.png"));
            shape_photo(kind, seed).save(path).unwrap();
        }
    }
    shape_photo(0, 3)
        .save(root.join("1_blue_square/misfiled_disk.png"))
        .unwrap();
}

fn labels_file(dir: &Path) -> PathBuf {
    let file = dir.join("labels.txt");
    std::fs::write(&file, CLASSES.join("\n")).unwrap();
    file
}

/// `kerascam report DIRS... --out OUT`.
fn report(dirs: &[PathBuf], out: &Path) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("kerascam"))
        .arg("report")
        .args(dirs)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// `explain` of the demo model over `input` into `out` with `more` options.
fn explain(input: &Path, out: &Path, more: &[&str]) -> Output {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("kerascam"));
    cmd.arg("explain")
        .arg(demo_model())
        .arg(input)
        .arg("--out")
        .arg(out);
    cmd.args(more).args([
        "--quiet",
        "--device",
        &kerascam_tests::device::device_name(),
    ]);
    cmd.output().unwrap()
}

fn results(out: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert!(text.ends_with('\n'), "results.jsonl ends in a cut line");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The report's rows (sorted) and summary, read from report-data.js.
fn report_data(out: &Path) -> (Vec<Value>, Value) {
    let text = std::fs::read_to_string(out.join("report-data.js")).unwrap();
    let rows_text = text
        .strip_prefix("window.KERASCAM_ROWS = [\n")
        .and_then(|t| t.split_once("];\n"))
        .unwrap();
    let mut rows: Vec<Value> = rows_text
        .0
        .lines()
        .map(|l| serde_json::from_str(l.trim_end_matches(',')).unwrap())
        .collect();
    rows.sort_by_key(|r| r[0].as_str().unwrap().to_string());
    let summary = rows_text
        .1
        .strip_prefix("window.KERASCAM_SUMMARY = ")
        .unwrap()
        .trim_end()
        .trim_end_matches(';');
    (rows, serde_json::from_str(summary).unwrap())
}

fn stderr_line(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(text.lines().count(), 1, "not one line: {text}");
    text
}

#[test]
fn a_labelled_folder_gives_true_class_correct_and_accuracy() {
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    labelled_folder(input.path(), 4);
    // An unreadable photo is reported on one line; the others go on.
    std::fs::write(
        input.path().join("2_yellow_triangle/broken.png"),
        b"not a png",
    )
    .unwrap();
    let labels = labels_file(out.path());
    let run = explain(
        input.path(),
        out.path(),
        &[
            "--labels-from-folders",
            "--report",
            "--labels",
            labels.to_str().unwrap(),
        ],
    );
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let errors = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        errors.lines().filter(|l| l.contains("error")).count(),
        1,
        "{errors}"
    );
    assert!(errors.contains("broken.png"), "{errors}");

    let lines = results(out.path());
    assert_eq!(lines.len(), 13);
    let mut correct = 0;
    for line in &lines {
        let image = line["image"].as_str().unwrap();
        let folder = Path::new(image)
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let truth = CLASSES.iter().position(|c| *c == folder).unwrap();
        assert_eq!(line["true_class"], truth, "{image}");
        assert_eq!(line["true_label"], folder);
        let predicted = line["top_k"][0]["class"].as_u64().unwrap() as usize;
        assert_eq!(line["correct"], predicted == truth, "{image}");
        correct += usize::from(predicted == truth);
        let border = line["border_mass"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&border), "{border}");
        assert!(out
            .path()
            .join(line["thumbnail"].as_str().unwrap())
            .is_file());
    }
    // Plain shapes are easy for the demo model; the disk filed as a square is its mistake.
    let misfiled = lines
        .iter()
        .find(|l| l["image"].as_str().unwrap().contains("misfiled"))
        .unwrap();
    assert_eq!(misfiled["top_k"][0]["class"], 0);
    assert_eq!(misfiled["correct"], false);
    assert_eq!(correct, 12);

    let (rows, summary) = report_data(out.path());
    assert_eq!(rows.len(), 13);
    assert_eq!(
        (summary["photos"].as_u64(), summary["labelled"].as_u64()),
        (Some(13), Some(13))
    );
    assert_eq!(summary["correct"], 12);
    assert!(summary["confusion"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!([1, 0, 1])));
    assert_eq!(summary["classes"]["1"], "1_blue_square");
}

#[test]
fn three_shards_then_a_merge_equal_one_whole_run() {
    let input = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    labelled_folder(input.path(), 5);
    let whole = work.path().join("whole");
    let opts = ["--labels-from-folders", "--report"];
    assert!(explain(input.path(), &whole, &opts).status.success());

    let mut shard_dirs = Vec::new();
    let mut shard_images = Vec::new();
    for k in 1..=3 {
        let dir = work.path().join(format!("shard{k}"));
        let spec = format!("{k}/3");
        let run = explain(input.path(), &dir, &[opts[0], opts[1], "--shard", &spec]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        shard_images.extend(
            results(&dir)
                .iter()
                .map(|l| l["image"].as_str().unwrap().to_string()),
        );
        shard_dirs.push(dir);
    }
    let mut whole_images: Vec<String> = results(&whole)
        .iter()
        .map(|l| l["image"].as_str().unwrap().to_string())
        .collect();
    // The shards are disjoint, none is empty, and together they are the whole run.
    assert!(shard_dirs.iter().all(|d| !results(d).is_empty()));
    shard_images.sort();
    whole_images.sort();
    assert_eq!(shard_images, whole_images);

    let merged = work.path().join("merged");
    let report = report(&shard_dirs, &merged);
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let (merged_rows, merged_summary) = report_data(&merged);
    let (whole_rows, whole_summary) = report_data(&whole);
    assert_eq!(merged_rows, whole_rows);
    assert_eq!(merged_summary, whole_summary);
    for row in &whole_rows {
        let thumb = row[1].as_str().unwrap();
        let a = std::fs::read(whole.join(thumb)).unwrap();
        assert_eq!(a, std::fs::read(merged.join(thumb)).unwrap(), "{thumb}");
    }
    assert_eq!(
        std::fs::read(whole.join("index.html")).unwrap(),
        std::fs::read(merged.join("index.html")).unwrap()
    );
}

/// Every file under `dir`, relative, at any depth.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_path_buf())
        .collect()
}

/// A stop point that differs from run to run (no timing is asserted on).
fn random_stop(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    2 + u64::from(nanos) % (n - 4)
}

#[test]
fn resume_after_a_kill_loses_nothing_and_repeats_nothing() {
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    labelled_folder(input.path(), 10);
    let total = 31;
    let stop = random_stop(total);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("kerascam"))
        .arg("explain")
        .arg(demo_model())
        .arg(input.path())
        .arg("--out")
        .arg(out.path())
        .args([
            "--labels-from-folders",
            "--report",
            "--batch-size",
            "1",
            "--quiet",
        ])
        .args(["--device", &kerascam_tests::device::device_name()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let jsonl = out.path().join("results.jsonl");
    loop {
        let done = std::fs::read_to_string(&jsonl).map_or(0, |t| t.lines().count() as u64);
        if done >= stop || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = std::fs::read_to_string(&jsonl).unwrap();
    let kept = before.lines().count();
    assert!(kept < total as usize, "the run ended before the kill");
    // A write cut short by the kill leaves a line without its newline: resume must drop it.
    let first = before.lines().next().unwrap();
    std::fs::write(&jsonl, format!("{before}{}", &first[..first.len() / 2])).unwrap();

    let resumed = explain(
        input.path(),
        out.path(),
        &["--labels-from-folders", "--report", "--resume"],
    );
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let lines = results(out.path());
    let mut images: Vec<&str> = lines.iter().map(|l| l["image"].as_str().unwrap()).collect();
    images.sort();
    let count = images.len();
    images.dedup();
    assert_eq!(
        (count, images.len()),
        (total as usize, total as usize),
        "stopped after {kept}"
    );
    // What the killed run finished is kept as it was, the rest appended after it.
    let whole_lines = &before[..before.rfind('\n').map_or(0, |i| i + 1)];
    let after = std::fs::read_to_string(&jsonl).unwrap();
    assert!(after.starts_with(whole_lines), "stopped after {kept}");
    let files = files_under(out.path());
    let partial: Vec<_> = files
        .iter()
        .filter(|f| f.to_string_lossy().contains(".partial"))
        .collect();
    assert!(partial.is_empty(), "{partial:?}");
    for line in &lines {
        image::open(line["output"].as_str().unwrap()).unwrap();
        image::open(out.path().join(line["thumbnail"].as_str().unwrap())).unwrap();
    }
    assert_eq!(report_data(out.path()).1["photos"], total);
}

#[test]
fn bad_inputs_each_give_one_clear_line() {
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    labelled_folder(input.path(), 1);
    let empty = tempfile::tempdir().unwrap();
    let run = explain(empty.path(), out.path(), &[]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr_line(&run).contains("no photos found"));

    let run = explain(input.path(), out.path(), &["--shard", "3/2"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr_line(&run).contains("--shard \"3/2\": expected K/N with 1 <= K <= N"));

    // The demo's own labels list the classes in another order than the sorted folders.
    let demo_labels = demo_model().with_file_name("labels.txt");
    let run = explain(
        input.path(),
        out.path(),
        &[
            "--labels-from-folders",
            "--labels",
            demo_labels.to_str().unwrap(),
        ],
    );
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr_line(&run)
        .contains("the labels do not match the class folders: class 0 is \"red_disk\""));

    assert!(explain(input.path(), out.path(), &[]).status.success());
    let other = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/heads/models/logit_k3.keras");
    let run = Command::new(assert_cmd::cargo::cargo_bin("kerascam"))
        .arg("explain")
        .arg(&other)
        .arg(input.path())
        .arg("--out")
        .arg(out.path())
        .arg("--resume")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr_line(&run).contains("results.jsonl:1: results of another model"));
}

/// Runs headless Chromium on the report page with `hash`; returns the DOM after the scripts.
fn chromium(page: &Path, hash: &str, screenshot: Option<&Path>) -> String {
    let url = format!("file://{}#{hash}", page.display());
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--allow-file-access-from-files",
    ]);
    cmd.arg("--window-size=1280,1400");
    match screenshot {
        Some(file) => cmd.arg(format!("--screenshot={}", file.display())),
        None => cmd.arg("--dump-dom"),
    };
    let output = cmd
        .arg(url)
        .output()
        .expect("chromium is needed (apt-get install -y chromium)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `attr="value"` of the element with `id` in a DOM dump.
fn attribute(dom: &str, id: &str, attr: &str) -> String {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let tag_end = at + dom[at..].find('>').unwrap();
    let tag_start = dom[..at].rfind('<').unwrap();
    let tag = &dom[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let from = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {attr} in {tag}"))
        + key.len();
    tag[from..from + tag[from..].find('"').unwrap()].to_string()
}

#[test]
fn the_report_page_renders_and_a_confusion_cell_filters_the_gallery() {
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    labelled_folder(input.path(), 3);
    assert!(explain(
        input.path(),
        out.path(),
        &["--labels-from-folders", "--report"]
    )
    .status
    .success());
    let page = out.path().join("index.html");

    let dom = chromium(&page, "", None);
    assert_eq!(attribute(&dom, "gallery", "data-matching"), "10");
    assert_eq!(dom.matches("class=\"card").count(), 10);
    assert_eq!(dom.matches("<img loading=\"lazy\"").count(), 10, "{dom}");
    assert!(dom.contains("accuracy 90.0% (9/10 labelled)"), "{dom}");
    assert_eq!(dom.matches("id=\"cm-").count(), 9);
    assert!(dom.contains("<option value=\"1\">1_blue_square</option>"));

    // Clicking the cell "blue square predicted as red disk" leaves the one misfiled disk.
    let dom = chromium(&page, "click=cm-1-0", None);
    assert_eq!(attribute(&dom, "gallery", "data-matching"), "1");
    assert_eq!(dom.matches("class=\"card").count(), 1);
    assert!(dom.contains("misfiled_disk.png"));
    assert!(
        dom.contains("class=\"cell off active\""),
        "the clicked cell is marked"
    );
    // The wrong-only filter, from the URL, shows the same photo.
    let dom = chromium(&page, "ok=wrong", None);
    assert_eq!(attribute(&dom, "gallery", "data-matching"), "1");

    let artefacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dataset-report");
    std::fs::create_dir_all(&artefacts).unwrap();
    let shot = artefacts.join("report.png");
    let _ = std::fs::remove_file(&shot);
    chromium(&page, "click=cm-1-0", Some(&shot));
    let picture = image::open(&shot).unwrap();
    assert_eq!((picture.width(), picture.height()), (1280, 1400));
}

#[test]
fn labelled_folders_give_the_photos_and_classes_keras_gives() {
    // tests/fixtures/dataset/manifest.json holds Keras 3's image_dataset_from_directory
    // answer for the tree beside it (made by its generate.py).
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let tree = fixtures.join("dataset/tree");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("dataset/manifest.json")).unwrap(),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(assert_cmd::cargo::cargo_bin("kerascam"))
        .arg("explain")
        .arg(fixtures.join("models/nested.keras"))
        .arg(&tree)
        .arg("--out")
        .arg(out.path())
        .args(["--labels-from-folders", "--json"])
        .args(["--device", &kerascam_tests::device::device_name()])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut got: Vec<(String, u64, String)> = String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let line: Value = serde_json::from_str(l).unwrap();
            let image = Path::new(line["image"].as_str().unwrap());
            let rel = image
                .strip_prefix(&tree)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let label = line["true_label"].as_str().unwrap().to_string();
            (rel, line["true_class"].as_u64().unwrap(), label)
        })
        .collect();
    let names = manifest["class_names"].as_array().unwrap();
    let mut want: Vec<(String, u64, String)> = manifest["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let label = p["label"].as_u64().unwrap();
            let name = names[label as usize].as_str().unwrap().to_string();
            (p["path"].as_str().unwrap().to_string(), label, name)
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}
