//! A folder run: 200 photos of which 3 are broken gives 197 overlays, 3 reported errors and
//! exit code 1; the rest goes on.

use std::path::Path;
use std::process::Command;

fn demo_model() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/shapes_cnn.keras")
}

fn write_photo(path: &Path, seed: u32) {
    let img = image::RgbImage::from_fn(40 + seed % 7, 30 + seed % 5, |x, y| {
        image::Rgb([(x * 7 + seed) as u8, (y * 5) as u8, (seed * 3) as u8])
    });
    img.save(path).unwrap();
}

#[test]
fn folder_with_broken_files_goes_on_and_fails_at_the_end() {
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    std::fs::create_dir(input.path().join("nested")).unwrap();
    for i in 0..197u32 {
        let sub = if i % 2 == 0 { "" } else { "nested/" };
        let ext = if i % 3 == 0 { "jpg" } else { "png" };
        write_photo(&input.path().join(format!("{sub}photo{i:03}.{ext}")), i);
    }
    let mut truncated = std::fs::read(input.path().join("photo002.png")).unwrap();
    truncated.truncate(truncated.len() / 2);
    std::fs::write(input.path().join("broken_truncated.png"), truncated).unwrap();
    std::fs::write(
        input.path().join("broken_text.jpg"),
        b"this is not a picture",
    )
    .unwrap();
    std::fs::write(input.path().join("nested/broken_empty.webp"), b"").unwrap();

    let output = Command::new(assert_cmd::cargo::cargo_bin("kerascam"))
        .arg("explain")
        .arg(demo_model())
        .arg(input.path())
        .arg("--out")
        .arg(out.path())
        .args(["--batch-size", "16", "--quiet"])
        .args(["--device", &kerascam_tests::device::device_name()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 3, "{stderr}");
    for name in [
        "broken_truncated.png",
        "broken_text.jpg",
        "broken_empty.webp",
    ] {
        assert!(
            errors.iter().any(|l| l.contains(name)),
            "{name} not reported: {stderr}"
        );
    }
    let overlays = count_pngs(out.path());
    assert_eq!(overlays, 197);
}

/// The `.png` files under `dir`, at any depth.
fn count_pngs(dir: &Path) -> usize {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().is_file())
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "png"))
        .count()
}
