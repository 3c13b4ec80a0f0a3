//! Runs over a dataset: labelled folders, shards, resumable results and the report's inputs.
//!
//! `explain` hands each finished photo to a `DatasetRun`, which measures where the heatmaps
//! look, writes the photo's lines to results.jsonl and its report thumbnail.

pub mod boxes;
pub mod labelled;
pub mod looks;
pub mod shard;
pub mod thumbnail;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Args;
use gradcam_core::CamResult;
use image::RgbImage;
use overlay::{Heatmap, OverlayOptions};

use crate::args::ExplainArgs;
use crate::error::{CliError, Result};
use crate::explain::ExplainRecord;
use crate::inputs::{self, InputImage};
use crate::results::{resume, DatasetFields, ResultLine, ResultsFile};
use boxes::PixelBox;
use shard::ShardSpec;

/// The dataset options of `kerascam explain`.
#[derive(Debug, Args)]
pub struct DatasetArgs {
    /// The input folder's sub-folders are the classes, as Keras' image_dataset_from_directory
    /// reads them; each line gets `true_class` and `correct`.
    #[arg(long)]
    pub labels_from_folders: bool,
    /// Write OUT/index.html, a self-contained page of accuracy, confusion matrix and gallery.
    #[arg(long)]
    pub report: bool,
    /// Continue OUT/results.jsonl: skip the photos it already holds for this model and options.
    #[arg(long)]
    pub resume: bool,
    /// Take shard K of N (1 <= K <= N): a fixed share of the photos chosen by their path.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// CSV of boxes `path,x_min,y_min,x_max,y_max` (photo pixels): adds `box_mass`.
    #[arg(long, value_name = "FILE")]
    pub boxes: Option<PathBuf>,
}

/// What a run writes beside the overlays, fixed for the whole run.
#[derive(Debug)]
pub struct DatasetRun {
    out: PathBuf,
    classes: Option<Vec<String>>,
    boxes: HashMap<String, PixelBox>,
    results: ResultsFile,
    sha256: String,
    options: serde_json::Value,
    thumbnails: bool,
}

/// The photos to explain and the run that records them.
pub struct Plan {
    /// The photos of this shard not done yet, in path order.
    pub images: Vec<InputImage>,
    /// The run.
    pub run: DatasetRun,
}

/// Collects the photos (labelled or not), settles the class names, takes this shard, and
/// opens results.jsonl (continued with `--resume`, else started afresh).
pub fn plan(
    args: &ExplainArgs,
    labels: &mut Option<Vec<String>>,
    num_classes: usize,
    preprocessing: &str,
) -> Result<Plan> {
    let opts = &args.dataset;
    let shard = opts.shard.as_deref().map(ShardSpec::parse).transpose()?;
    let (images, classes) = collect(args, labels, num_classes)?;
    let images: Vec<InputImage> = match shard {
        Some(spec) => images
            .into_iter()
            .filter(|i| spec.takes(&relative_key(i)))
            .collect(),
        None => images,
    };
    let boxes = match &opts.boxes {
        Some(file) => boxes::read(file)?,
        None => HashMap::new(),
    };
    let options = result_options(args, preprocessing)?;
    let sha256 = crate::digest::file_sha256(&args.model)?;
    std::fs::create_dir_all(&args.out).map_err(|e| CliError::io(&args.out, e))?;
    let previous = if opts.resume {
        resume::scan(&args.out.join(crate::results::FILE_NAME), &sha256, &options)?
    } else {
        resume::Previous::default()
    };
    let images = images
        .into_iter()
        .filter(|i| !previous.is_done(&i.path.display().to_string()))
        .collect();
    let run = DatasetRun {
        results: ResultsFile::open(&args.out, previous.keep)?,
        out: args.out.clone(),
        classes,
        boxes,
        sha256,
        options,
        thumbnails: opts.report,
    };
    Ok(Plan { images, run })
}

/// The photos and, for a labelled folder, its classes (which become the labels when
/// `--labels` is absent, and must equal them when present).
fn collect(
    args: &ExplainArgs,
    labels: &mut Option<Vec<String>>,
    num_classes: usize,
) -> Result<(Vec<InputImage>, Option<Vec<String>>)> {
    let (images, classes) = if args.dataset.labels_from_folders {
        let root = labelled::single_root(&args.inputs)?;
        let folder = labelled::read(root)?;
        if folder.classes.len() > num_classes {
            return Err(CliError::Usage(format!(
                "{}: {} class folders, but the model has {num_classes} classes",
                root.display(),
                folder.classes.len()
            )));
        }
        match (&args.labels, labels.as_ref()) {
            (Some(file), Some(given)) => {
                labelled::check_against_labels(&folder.classes, given, file)?
            }
            _ => *labels = Some(folder.classes.clone()),
        }
        (folder.images, Some(folder.classes))
    } else {
        (inputs::collect(&args.inputs)?, None)
    };
    if images.is_empty() {
        let names: Vec<String> = args
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(CliError::Usage(format!(
            "{}: no photos found (.jpg .jpeg .png .webp .bmp .tif .tiff .gif)",
            names.join(", ")
        )));
    }
    Ok((images, classes))
}

/// The options that change results, stamped on every line (`--resume` compares them).
fn result_options(args: &ExplainArgs, preprocessing: &str) -> Result<serde_json::Value> {
    let boxes = match &args.dataset.boxes {
        Some(file) => Some(crate::digest::file_sha256(file)?),
        None => None,
    };
    Ok(serde_json::json!({
        "preprocessing": preprocessing,
        "layers": args.layers,
        "method": args.method,
        "max_channels": args.max_channels,
        "aug_smooth": args.aug_smooth,
        "eigen_smooth": args.eigen_smooth,
        "normalize": format!("{:?}", args.normalize),
        "output": args.output,
        "class": args.classes,
        "top_k": args.top_k,
        "labels_from_folders": args.dataset.labels_from_folders,
        "boxes_sha256": boxes,
    }))
}

/// A photo's path relative to its input folder, with its extension and `/` separators:
/// what shards and the boxes file key on.
fn relative_key(input: &InputImage) -> String {
    match input.path.extension() {
        Some(ext) => slash_path(&input.out_stem.with_extension(ext)),
        None => slash_path(&input.out_stem),
    }
}

/// A relative path written with `/` separators on every platform.
pub fn slash_path(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

impl DatasetRun {
    /// Measures, writes the thumbnail and appends the lines of one finished photo; returns
    /// the lines (what `--json` prints).
    pub fn finish_photo(
        &self,
        input: &InputImage,
        photo: &RgbImage,
        results: &[CamResult],
        records: &[ExplainRecord],
        look: &OverlayOptions,
    ) -> Result<Vec<String>> {
        let true_class = self
            .classes
            .as_ref()
            .and_then(|c| labelled::class_of(c, &input.out_stem));
        let pixel_box = self.boxes.get(&relative_key(input));
        let mut lines = Vec::with_capacity(records.len());
        for (index, (result, record)) in results.iter().zip(records).enumerate() {
            let heat = Heatmap::new(
                result.width as u32,
                result.height as u32,
                result.heatmap.clone(),
            )?;
            let looks = looks::measure(&heat, photo.width(), photo.height(), pixel_box)?;
            let thumbnail = (self.thumbnails && index == 0)
                .then(|| self.write_thumbnail(input, photo, &heat, look))
                .transpose()?;
            let fields = DatasetFields {
                true_class,
                true_label: true_class.and_then(|c| self.classes.as_ref()?.get(c).cloned()),
                correct: true_class.map(|c| record.top_k.first().is_some_and(|t| t.class == c)),
                border_mass: looks.border_mass,
                box_mass: looks.box_mass,
                thumbnail,
                target_index: index,
                targets: records.len(),
                model_sha256: self.sha256.clone(),
                options: self.options.clone(),
            };
            let line = ResultLine {
                record,
                dataset: &fields,
            };
            lines.push(serde_json::to_string(&line).map_err(|e| CliError::Usage(e.to_string()))?);
        }
        self.results.append_photo(&lines)?;
        Ok(lines)
    }

    /// Writes the photo's thumbnail; returns its path relative to the output folder.
    fn write_thumbnail(
        &self,
        input: &InputImage,
        photo: &RgbImage,
        heat: &Heatmap,
        look: &OverlayOptions,
    ) -> Result<String> {
        let mut name = Path::new("thumbs").join(&input.out_stem).into_os_string();
        name.push(".jpg");
        let rel = PathBuf::from(name);
        thumbnail::write(photo, heat, look, &self.out.join(&rel))?;
        Ok(slash_path(&rel))
    }
}
