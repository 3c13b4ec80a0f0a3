//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Grad-CAM heatmaps for Keras image classifiers (.keras and .h5), without Python.
#[derive(Debug, Parser)]
#[command(name = "kerascam", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe a model: format, parameters, layers, backbone, preprocessing, target layer.
    Inspect(InspectArgs),
    /// Compute Grad-CAM heatmaps for photos (files or folders) and write overlays.
    Explain(ExplainArgs),
    /// Time Grad-CAM on models: load, first image, steady state, batches, peak memory.
    Bench(BenchArgs),
    /// Build the HTML report of explain runs' results (merges shards; rebuilds a report).
    Report(crate::report::ReportArgs),
    /// Score explanation methods on photos: pointing game, deletion/insertion, ROAD, confidence.
    Evaluate(EvaluateArgs),
}

/// A metric of `kerascam evaluate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricArg {
    /// Pointing game (needs --boxes; TorchRay's rule, 15 px).
    Pointing,
    /// Deletion AUC (RISE).
    Deletion,
    /// Insertion AUC (RISE).
    Insertion,
    /// ROAD most/least relevant first and combined (noisy linear imputation).
    Road,
    /// Drop and increase in confidence (pytorch-grad-cam).
    Confidence,
}

/// Options of `kerascam evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The model file (.keras or .h5).
    pub model: PathBuf,
    /// Photos, or folders searched recursively for images.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Explanation methods to score, comma-separated.
    #[arg(
        long = "method",
        value_name = "M[,M...]",
        value_delimiter = ',',
        default_value = "gradcam"
    )]
    pub methods: Vec<String>,
    /// Score-CAM: score only the N channels with the largest spatial spread (Faster Score-CAM).
    #[arg(long, value_name = "N")]
    pub max_channels: Option<usize>,
    /// Ground-truth boxes for the pointing game: JSON, {"boxes": {"photo.png": [[x0, y0, x1, y1], ...]}}.
    #[arg(long, value_name = "FILE")]
    pub boxes: Option<PathBuf>,
    /// Metrics to compute, comma-separated (default: all).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "pointing,deletion,insertion,road,confidence"
    )]
    pub metrics: Vec<MetricArg>,
    /// Target layer path. Default: the method's default layer.
    #[arg(long, value_name = "PATH")]
    pub layer: Option<String>,
    /// Preprocessing applied to the 0..255 RGB pixels.
    #[arg(long, value_enum, default_value_t = PreprocessArg::Auto)]
    pub preprocess: PreprocessArg,
    /// Perturbed images per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Seed of ROAD's imputation noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Print one JSON document instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Options of `kerascam bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Model files; each is measured in a process of its own.
    #[arg(required = true)]
    pub models: Vec<PathBuf>,
    /// The photo every image of the benchmark is made from.
    #[arg(long)]
    pub photo: PathBuf,
    /// Steady-state repetitions at batch 1.
    #[arg(long, default_value_t = 20)]
    pub steady: usize,
    /// Images per batch of the throughput measurement.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Print one JSON object per model instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Measure the single model in this process (used by the parent process).
    #[arg(long, hide = true)]
    pub in_process: bool,
}

/// Options of `kerascam inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The model file (.keras or .h5; the format is detected from the bytes).
    pub model: PathBuf,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

/// Preprocessing choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PreprocessArg {
    /// Recognise the backbone and use its preprocessing (default).
    Auto,
    /// RGB->BGR, minus the ImageNet BGR mean (VGG, ResNet v1).
    Caffe,
    /// x / 127.5 - 1 (MobileNet v1/v2, Inception, Xception, NASNet, ResNet v2).
    Tf,
    /// x / 255, minus the ImageNet mean, over its std (DenseNet).
    Torch,
    /// Raw 0..255 pixels: the model normalises inside.
    None,
    /// x / 255.
    Unit,
}

/// Device choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    /// The CPU (always available).
    Cpu,
    /// The first CUDA GPU (build with `--features cuda`).
    Cuda,
    /// The Apple GPU (build with `--features metal`).
    Metal,
}

impl DeviceArg {
    /// The name `--device` takes.
    pub fn name(self) -> &'static str {
        match self {
            DeviceArg::Cpu => "cpu",
            DeviceArg::Cuda => "cuda",
            DeviceArg::Metal => "metal",
        }
    }
}

/// Heatmap normalisation of `kerascam explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NormalizeArg {
    /// Divide by the maximum.
    Max,
    /// `(x - min) / (max(x - min) + 1e-7)`.
    Minmax,
}

/// Options of `kerascam explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The model file (.keras or .h5).
    pub model: PathBuf,
    /// Photos, or folders searched recursively for .jpg .jpeg .png .webp .bmp .tif .tiff .gif.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Explain this class index (repeatable). Default: the top-1 class.
    #[arg(long = "class", value_name = "N", conflicts_with = "top_k")]
    pub classes: Vec<usize>,
    /// Explain each of the K most probable classes.
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// Class names: a text file with one name per line, or a JSON list of strings.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Target layer path (e.g. `mobilenetv2_1.00_224/out_relu`); repeatable, several layers
    /// are fused; `stages` = the last layer of each resolution from 1/4 to 1/32 of the input.
    /// Default: the last feature map.
    #[arg(long = "layer", value_name = "PATH")]
    pub layers: Vec<String>,
    /// CAM method, or several comma-separated (one picture each): gradcam, hirescam,
    /// gradcam-elementwise, gradcam++, xgradcam, layercam, eigencam, eigengradcam, scorecam,
    /// ablationcam.
    #[arg(long, value_name = "NAME[,NAME…]", default_value = "gradcam")]
    pub method: String,
    /// Score-CAM: score only the N channels with the largest spatial spread (Faster Score-CAM).
    #[arg(long, value_name = "N")]
    pub max_channels: Option<usize>,
    /// Average six passes: horizontal flip x input multiplied by 0.9, 1, 1.1.
    #[arg(long)]
    pub aug_smooth: bool,
    /// Use the first principal component of the weighted activations instead of their sum.
    #[arg(long)]
    pub eigen_smooth: bool,
    /// Heatmap normalisation: `max` (divide by the maximum) or `minmax` (pytorch-grad-cam's).
    #[arg(long, value_enum, default_value_t = NormalizeArg::Max)]
    pub normalize: NormalizeArg,
    /// The model output to explain, by position (0 is the first) or by layer name or path.
    /// Default: the first output.
    #[arg(long, value_name = "NAME|INDEX")]
    pub output: Option<String>,
    /// Preprocessing applied to the 0..255 RGB pixels.
    #[arg(long, value_enum, default_value_t = PreprocessArg::Auto)]
    pub preprocess: PreprocessArg,
    /// Heatmap opacity in the overlay, 0 (photo only) to 1 (heatmap only).
    #[arg(long, default_value_t = 0.4)]
    pub alpha: f32,
    /// Colormap: jet, turbo, viridis, inferno, magma or gray.
    #[arg(long, default_value = "jet")]
    pub colormap: String,
    /// Write a side-by-side panel (photo | heatmap | overlay) instead of the overlay alone,
    /// captioned with the class name, probability, method and layer.
    #[arg(long)]
    pub panel: bool,
    /// Append a colour bar to the right of the picture (labelled 1, 0.5 and 0 on a panel).
    #[arg(long)]
    pub colorbar: bool,
    /// Output folder (created if needed).
    #[arg(long, default_value = "heatmap")]
    pub out: PathBuf,
    /// Also write the normalised heatmap (feature-map resolution, the finest layer's when
    /// several are fused; float32) as `.npy`.
    #[arg(long)]
    pub save_heatmap: bool,
    /// Images per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Print one JSON object per image and class on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
    /// Dataset runs: labelled folders, report, resume, shards, boxes.
    #[command(flatten)]
    pub dataset: Box<crate::dataset::DatasetArgs>,
}
