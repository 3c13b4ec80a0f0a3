//! The report: `OUT/index.html`, one page that opens from disk (no network), with its data in
//! `report-data.js` beside it and the thumbnails under `thumbs/`.
//!
//! Built by streaming results.jsonl files: each photo becomes one compact row appended to the
//! data file as it is read, and only counts (`aggregate::Summary`) stay in memory, so a
//! million photos take no more memory than ten. `kerascam report OUT... --out DIR` merges the
//! results of shards the same way.

mod aggregate;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::atomic;
use crate::error::{CliError, Result};
use crate::results::{lines, FILE_NAME};
use aggregate::{location, ReportLine, Summary};

/// The page; its script reads `report-data.js`.
const PAGE: &str = include_str!("page.html");
/// The data file beside the page.
const DATA_FILE: &str = "report-data.js";

/// Options of `kerascam report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output folders of `kerascam explain` (each holding results.jsonl), e.g. one per shard.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Where the report goes (index.html, report-data.js, thumbs/).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `kerascam report`.
pub fn run(args: &ReportArgs) -> Result<ExitCode> {
    let summary = build(&args.inputs, &args.out)?;
    println!(
        "{}: {} photos{}",
        args.out.join("index.html").display(),
        summary.photos,
        if summary.labelled > 0 {
            format!(
                ", accuracy {:.1}% ({}/{})",
                100.0 * summary.correct as f64 / summary.labelled as f64,
                summary.correct,
                summary.labelled
            )
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the report of the results in `inputs` to `out`; thumbnails of other folders are
/// copied into `out/thumbs`.
pub fn build(inputs: &[PathBuf], out: &Path) -> Result<Summary> {
    std::fs::create_dir_all(out).map_err(|e| CliError::io(out, e))?;
    let data_path = out.join(DATA_FILE);
    let mut summary = Summary::default();
    atomic::write_with(&data_path, |partial| {
        let file = File::create(partial).map_err(|e| CliError::io(partial, e))?;
        let mut data = BufWriter::new(file);
        let io = |e| CliError::io(&data_path, e);
        data.write_all(b"window.KERASCAM_ROWS = [\n").map_err(io)?;
        for input in inputs {
            add_results(input, out, &mut summary, &mut data)?;
        }
        summary.finish();
        let totals = serde_json::to_string(&summary).map_err(|e| CliError::Usage(e.to_string()))?;
        write!(data, "];\nwindow.KERASCAM_SUMMARY = {totals};\n").map_err(io)?;
        data.flush().map_err(io)
    })?;
    atomic::write_bytes(&out.join("index.html"), PAGE.as_bytes())?;
    Ok(summary)
}

/// Streams one folder's results.jsonl into the rows and the summary.
fn add_results(
    input: &Path,
    out: &Path,
    summary: &mut Summary,
    data: &mut impl Write,
) -> Result<()> {
    let path = input.join(FILE_NAME);
    let same_folder = same_place(input, out);
    let mut number = 0;
    lines::for_each_complete_line(&path, |line, _| {
        number += 1;
        let parsed: ReportLine = lines::parse(&path, number, line)?;
        if parsed.target_index != 0 {
            return Ok(());
        }
        summary.add(&parsed, &location(&path, number))?;
        if let (Some(thumb), false) = (&parsed.thumbnail, same_folder) {
            copy_thumbnail(input, out, thumb)?;
        }
        let row = row(&parsed);
        writeln!(data, "{row},").map_err(|e| CliError::io(&out.join(DATA_FILE), e))
    })?;
    Ok(())
}

/// The page's compact row: `[image, thumbnail, predicted, true, probability, border, box]`.
fn row(line: &ReportLine) -> serde_json::Value {
    let best = line.top_k.first();
    serde_json::json!([
        line.image,
        line.thumbnail,
        best.map(|b| b.class),
        line.true_class,
        best.map(|b| b.probability),
        line.border_mass,
        line.box_mass,
    ])
}

/// Copies `input/thumb` to `out/thumb`, whole or not at all; a thumbnail already there (a
/// report rebuilt) is kept.
fn copy_thumbnail(input: &Path, out: &Path, thumb: &str) -> Result<()> {
    let from = input.join(thumb);
    let to = out.join(thumb);
    if to.exists() {
        return Ok(());
    }
    atomic::write_with(&to, |partial| {
        std::fs::copy(&from, partial)
            .map(|_| ())
            .map_err(|e| CliError::io(&from, e))
    })
}

/// Whether two folders are the same one.
fn same_place(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
