//! `kerascam explain`: heatmaps and overlays for photos and folders.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use backbones::ColorMode;
use gradcam_core::cam::registry::{method_by_name, method_names};
use gradcam_core::candle_core::Device;
use gradcam_core::{
    CamMethod, CamRequest, CamResult, HeadInfo, MethodOptions, Network, Normalize, OutputChoice,
    Target,
};
use image::RgbImage;
use overlay::{ClassCaption, Colormap, Heatmap, MethodMap, OverlayOptions};
use serde::Serialize;

use crate::args::{DeviceArg, ExplainArgs, NormalizeArg};
use crate::dataset::{self, DatasetRun};
use crate::error::{CliError, Result};
use crate::inputs::InputImage;
use crate::labels;
use crate::npy;
use crate::session::Session;

/// How many classes the `top_k` field of the JSON record lists.
const REPORTED_TOP_K: usize = 5;

/// One JSON line of `--json`: one image and one explained class.
#[derive(Debug, Serialize)]
pub struct ExplainRecord {
    /// The photo.
    pub image: String,
    /// The overlay PNG written.
    pub output: String,
    /// The raw heatmap `.npy` (with `--save-heatmap`).
    pub heatmap: Option<String>,
    /// The explained class index.
    pub class: usize,
    /// Its name, when labels are known.
    pub label: Option<String>,
    /// The score whose gradient was taken (the pre-activation logit).
    pub score: f32,
    /// The model's probability for that class.
    pub probability: f32,
    /// The most probable classes.
    pub top_k: Vec<ClassProbability>,
    /// Every logit.
    pub logits: Vec<f32>,
    /// The layer whose activations were weighted (the first of `layers`).
    pub target_layer: String,
    /// Every target layer, as fused.
    pub layers: Vec<String>,
    /// The CAM method.
    pub method: String,
    /// The model output explained: its node path.
    pub model_output: String,
    /// The preprocessing applied.
    pub preprocessing: String,
    /// The recognised backbone (`family/variant`), if any.
    pub backbone: Option<String>,
}

/// A class with its probability.
#[derive(Debug, Serialize)]
pub struct ClassProbability {
    /// Class index.
    pub class: usize,
    /// Class name, when known.
    pub label: Option<String>,
    /// Probability.
    pub probability: f32,
}

/// Everything fixed for the whole run.
struct Job<'a> {
    args: &'a ExplainArgs,
    session: Session,
    network: Network,
    head: HeadInfo,
    /// The model output explained.
    output: OutputChoice,
    labels: Option<Vec<String>>,
    request: CamRequest,
    /// The methods run, one picture each.
    methods: Vec<Box<dyn CamMethod>>,
    overlay: OverlayOptions,
    input_size: Option<(usize, usize)>,
    /// The colour layout the model takes (1, 3 or 4 channels).
    color: ColorMode,
    /// results.jsonl, thumbnails and where-it-looks numbers.
    dataset: DatasetRun,
}

/// Runs `kerascam explain`. Exit code 0 when every photo was explained, 1 when some failed.
pub fn run(args: &ExplainArgs) -> Result<ExitCode> {
    let overlay = overlay_options(args)?;
    let methods = methods(args)?;
    if args.batch_size == 0 {
        return Err(CliError::Usage("--batch-size must be at least 1".into()));
    }
    let device = make_device(args.device)?;
    let mut session = Session::open(&args.model, args.preprocess)?;
    let graph = &session.model.graph;
    let output = OutputChoice::parse(args.output.as_deref().unwrap_or("0"));
    // An unknown output, or one without a feature map, is refused before any photo is read.
    let output_node = gradcam_core::resolve_output(graph, &output)?;
    if args.layers.is_empty() {
        gradcam_core::default_target_layer_for(graph, output_node)?;
    }
    let (input_size, color) = model_input(&session, &args.model)?;
    let network = if input_size.is_some() {
        // The network takes over the weights: only a free-size model, prepared again for
        // each photo size, needs the graph to keep them.
        Network::load_releasing_with(&mut session.model.graph, &device, &output)?
    } else {
        Network::load_with(&session.model.graph, &device, &output)?
    };
    let graph = &session.model.graph;
    let head = network.head();
    let logits_len = graph.nodes[head.logits_node]
        .output_shape
        .last()
        .copied()
        .flatten()
        .unwrap_or(0);
    let num_classes = head.num_classes(logits_len);
    let mut labels = match &args.labels {
        Some(path) => Some(labels::read_labels(path)?),
        None => session.imagenet_labels(num_classes),
    };
    let request = CamRequest {
        layers: args.layers.clone(),
        targets: targets(args, num_classes)?,
        aug_smooth: args.aug_smooth,
        eigen_smooth: args.eigen_smooth,
        normalize: match args.normalize {
            NormalizeArg::Max => Normalize::Max,
            NormalizeArg::Minmax => Normalize::MinMax,
        },
    };
    let plan = dataset::plan(
        args,
        &mut labels,
        num_classes,
        &session.preprocessing.to_string(),
    )?;
    let images = plan.images;
    let names: Vec<&str> = methods.iter().map(|m| m.name()).collect();
    guard_inputs(&images, &args.out, &names, request.targets.len())?;
    std::fs::create_dir_all(&args.out).map_err(|e| CliError::io(&args.out, e))?;
    let job = Job {
        args,
        head,
        output,
        session,
        network,
        labels,
        request,
        methods,
        overlay,
        input_size,
        color,
        dataset: plan.run,
    };
    let failures = job.run_all(&images)?;
    if args.dataset.report {
        crate::report::build(std::slice::from_ref(&args.out), &args.out)?;
    }
    if failures > 0 {
        eprintln!("kerascam: {failures} of {} images failed", images.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn overlay_options(args: &ExplainArgs) -> Result<OverlayOptions> {
    if !(0.0..=1.0).contains(&args.alpha) {
        return Err(CliError::Usage(format!(
            "--alpha must lie in [0, 1], got {}",
            args.alpha
        )));
    }
    let colormap: Colormap = args.colormap.parse().map_err(|_| {
        CliError::Usage(format!(
            "unknown colormap {:?} (choose jet, turbo, viridis, inferno, magma or gray)",
            args.colormap
        ))
    })?;
    Ok(OverlayOptions {
        colormap,
        alpha: args.alpha,
        panel: args.panel,
        colorbar: args.colorbar,
    })
}

/// Opens the requested device (CUDA and Metal need the matching cargo feature).
pub(crate) fn make_device(choice: DeviceArg) -> Result<Device> {
    let (name, opened) = match choice {
        DeviceArg::Cpu => return Ok(Device::Cpu),
        DeviceArg::Cuda => ("cuda", Device::new_cuda(0)),
        DeviceArg::Metal => ("metal", Device::new_metal(0)),
    };
    opened.map_err(|source| CliError::Device {
        device: name,
        source,
    })
}

/// The methods `--method` names (comma-separated, each once, in order).
fn methods(args: &ExplainArgs) -> Result<Vec<Box<dyn CamMethod>>> {
    let options = MethodOptions {
        max_channels: args.max_channels,
        ..MethodOptions::default()
    };
    if args.max_channels == Some(0) {
        return Err(CliError::Usage("--max-channels must be at least 1".into()));
    }
    let mut names: Vec<&str> = Vec::new();
    for name in args.method.split(',').map(str::trim) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            method_by_name(name, &options).ok_or_else(|| {
                CliError::Usage(format!(
                    "unknown --method {name:?} (choose {})",
                    method_names()
                ))
            })
        })
        .collect()
}

fn targets(args: &ExplainArgs, num_classes: usize) -> Result<Vec<Target>> {
    if let Some(&bad) = args.classes.iter().find(|&&c| c >= num_classes) {
        return Err(CliError::Usage(format!(
            "--class {bad} is out of range: the model has {num_classes} output(s)"
        )));
    }
    Ok(match (args.top_k, args.classes.is_empty()) {
        (Some(0), _) => return Err(CliError::Usage("--top-k must be at least 1".into())),
        (Some(k), _) => Target::top_k(k.min(num_classes)),
        (None, true) => vec![Target::Rank(0)],
        (None, false) => args.classes.iter().map(|&c| Target::Class(c)).collect(),
    })
}

/// The model's fixed input size (`None` when free) and colour layout; a channel count other
/// than 1, 3 or 4, or a preprocessing mode the layout has no meaning for, is refused.
pub(crate) fn model_input(
    session: &Session,
    file: &Path,
) -> Result<(Option<(usize, usize)>, ColorMode)> {
    let graph = &session.model.graph;
    let shape = graph
        .inputs
        .first()
        .map(|&i| graph.nodes[i].output_shape.clone())
        .unwrap_or_default();
    let file = file.display();
    let [h, w, Some(channels)] = shape.as_slice() else {
        return Err(CliError::Usage(format!(
            "{file}: the model input {shape:?} is not an image (h, w, channels)"
        )));
    };
    let color =
        ColorMode::from_channels(*channels).map_err(|e| CliError::Usage(format!("{file}: {e}")))?;
    let mode = session.preprocessing;
    if !mode.accepts_channels(*channels) {
        return Err(CliError::Usage(format!(
            "{file}: preprocessing `{mode}` is defined for RGB (3-channel) models; this model takes {channels} channel(s): use --preprocess tf, unit or none"
        )));
    }
    Ok((h.zip(*w), color))
}

/// Refuses an output location that would overwrite one of the inputs.
fn guard_inputs(
    images: &[InputImage],
    out: &Path,
    methods: &[&str],
    per_image: usize,
) -> Result<()> {
    for image in images {
        let Ok(input) = image.path.canonicalize() else {
            continue;
        };
        for class_suffix in output_suffixes(methods, per_image) {
            let candidate = out.join(output_name(&image.out_stem, &class_suffix, "png"));
            if candidate.canonicalize().is_ok_and(|c| c == input) {
                return Err(CliError::Usage(format!(
                    "{}: the output would overwrite this input; choose another --out",
                    input.display()
                )));
            }
        }
    }
    Ok(())
}

/// Every output name suffix: `.<method>` when several methods run, then `.<i>` when several
/// classes are explained.
fn output_suffixes(methods: &[&str], per_image: usize) -> Vec<String> {
    methods
        .iter()
        .flat_map(|m| (0..per_image).map(move |i| output_suffix(methods.len(), m, per_image, i)))
        .collect()
}

/// The output name suffix of method `method` (one of `methods`) and class `i` of `per_image`.
fn output_suffix(methods: usize, method: &str, per_image: usize, i: usize) -> String {
    let method = if methods > 1 {
        format!(".{method}")
    } else {
        String::new()
    };
    if per_image == 1 {
        method
    } else {
        format!("{method}.{i}")
    }
}

fn output_name(stem: &Path, suffix: &str, ext: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(suffix);
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

/// `network.cam_with_progress` on the batch `(values, n)`, showing a slow method's passes
/// (Score-CAM, Ablation-CAM) in `progress`'s message while it runs.
pub(crate) fn cam_showing_passes(
    network: &Network,
    method: &dyn CamMethod,
    (batch, n): (&[f32], usize),
    request: &CamRequest,
    progress: &indicatif::ProgressBar,
) -> gradcam_core::Result<Vec<Vec<CamResult>>> {
    let name = method.name();
    let report = |done, total| progress.set_message(format!("{name}: {done}/{total} passes"));
    let results = network.cam_with_progress(method, batch, n, request, &report);
    progress.set_message("");
    results
}

/// The layer line of a caption: none for the pixel-level methods that use no layer, the
/// layer for one, and the first and last of several fused layers (their last path
/// components) with their count.
pub(crate) fn layer_caption(result: &CamResult) -> Option<String> {
    use gradcam_core::saliency::{GUIDED_BACKPROP, SMOOTH_GRAD};
    if [GUIDED_BACKPROP, SMOOTH_GRAD].contains(&result.method.as_str()) {
        return None;
    }
    match result.layers.as_slice() {
        [first, .., last] => {
            // Last path components: the nested model's name would fill the tile.
            let short = |path: &str| path.rsplit('/').next().unwrap_or(path).to_string();
            let n = result.layers.len();
            Some(format!("{} … {} ({n} fused)", short(first), short(last)))
        }
        _ => Some(result.target_layer.clone()),
    }
}

/// A photo decoded and prepared for the network.
struct Prepared<'a> {
    input: &'a InputImage,
    photo: RgbImage,
    tensor: Vec<f32>,
    size: (usize, usize),
}

impl Job<'_> {
    fn run_all(&self, images: &[InputImage]) -> Result<usize> {
        let progress = self.progress_bar(images.len());
        let mut failures = 0;
        for chunk in images.chunks(self.args.batch_size) {
            let mut prepared = Vec::with_capacity(chunk.len());
            for input in chunk {
                match self.prepare(input) {
                    Ok(p) => prepared.push(p),
                    Err(e) => {
                        failures += 1;
                        self.report_failure(&progress, &e);
                        progress.inc(1);
                    }
                }
            }
            for group in group_by_size(prepared) {
                let n = group.len();
                match self.explain_group(&group, &progress) {
                    Ok(lines) => {
                        for line in lines {
                            progress.suspend(|| println!("{line}"));
                        }
                    }
                    Err(e) => {
                        failures += n;
                        self.report_failure(&progress, &e);
                    }
                }
                progress.inc(n as u64);
            }
        }
        progress.finish_and_clear();
        Ok(failures)
    }

    /// A bar over the images on stderr when there are several, or when a method runs many
    /// passes per image (Score-CAM, Ablation-CAM: its message counts them); hidden with
    /// `--quiet` or when stderr is not a terminal.
    fn progress_bar(&self, total: usize) -> indicatif::ProgressBar {
        let slow = self
            .methods
            .iter()
            .any(|m| ["scorecam", "ablationcam"].contains(&m.name()));
        let visible = (total > 1 || slow) && !self.args.quiet && std::io::stderr().is_terminal();
        if !visible {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} images  {elapsed_precise} (eta {eta})  {msg}",
        ) {
            bar.set_style(style);
        }
        bar
    }

    fn report_failure(&self, progress: &indicatif::ProgressBar, err: &CliError) {
        progress.suspend(|| eprintln!("kerascam: error: {err}"));
    }

    fn prepare<'a>(&self, input: &'a InputImage) -> Result<Prepared<'a>> {
        let decoded = backbones::load_photo(&input.path)?;
        let (height, width) = match self.input_size {
            Some((h, w)) => (Some(h as u32), Some(w as u32)),
            None => (None, None),
        };
        let pixels = backbones::to_color_mode(decoded.clone(), self.color);
        let photo = backbones::to_rgb8(decoded);
        let tensor =
            backbones::pixels_to_tensor(&pixels, height, width, self.session.preprocessing)?;
        Ok(Prepared {
            input,
            photo,
            size: (tensor.height as usize, tensor.width as usize),
            tensor: tensor.data,
        })
    }

    /// Explains photos that share one input size in one batch; returns the lines to print.
    /// A slow method's passes show in `progress`'s message.
    fn explain_group(
        &self,
        group: &[Prepared<'_>],
        progress: &indicatif::ProgressBar,
    ) -> Result<Vec<String>> {
        let batch: Vec<f32> = group
            .iter()
            .flat_map(|p| p.tensor.iter().copied())
            .collect();
        // A free-size model is prepared for each photo size it meets.
        let resized;
        let network = match self.input_size {
            Some(_) => &self.network,
            None => {
                let (h, w) = group[0].size;
                let graph = &self.session.model.graph;
                resized = Network::load_with(graph, self.network.device(), &self.output)?
                    .with_input_size(h, w)?;
                &resized
            }
        };
        let mut lines = Vec::new();
        let mut per_method = Vec::with_capacity(self.methods.len());
        for method in &self.methods {
            let input = (batch.as_slice(), group.len());
            per_method.push(cam_showing_passes(
                network,
                method.as_ref(),
                input,
                &self.request,
                progress,
            )?);
        }
        for (g, prepared) in group.iter().enumerate() {
            let mut results = Vec::new();
            let mut records = Vec::new();
            for (method, per_image) in self.methods.iter().zip(&per_method) {
                let per_target = per_image[g].len();
                for (i, result) in per_image[g].iter().enumerate() {
                    let suffix = output_suffix(self.methods.len(), method.name(), per_target, i);
                    records.push(self.write_outputs(prepared, result, &suffix)?);
                    results.push(result.clone());
                }
            }
            if self.method_panels() {
                self.write_method_panels(prepared, &results, &mut records)?;
            }
            let json = self.dataset.finish_photo(
                prepared.input,
                &prepared.photo,
                &results,
                &records,
                &self.overlay,
            )?;
            if self.args.json {
                lines.extend(json);
            } else if !self.args.quiet {
                lines.extend(records.iter().map(|r| self.human_line(r)));
            }
        }
        Ok(lines)
    }

    fn write_outputs(
        &self,
        prepared: &Prepared<'_>,
        result: &CamResult,
        suffix: &str,
    ) -> Result<ExplainRecord> {
        let out = self
            .args
            .out
            .join(output_name(&prepared.input.out_stem, suffix, "png"));
        let heat = Heatmap::new(
            result.width as u32,
            result.height as u32,
            result.heatmap.clone(),
        )?;
        // With one panel for all methods, the panel is the picture (written per class below).
        if !self.method_panels() {
            let picture = self.picture(prepared, result, &heat)?;
            crate::atomic::save_image(&picture.into(), &out, image::ImageFormat::Png)?;
        }
        let npy_path = if self.args.save_heatmap {
            let path = self
                .args
                .out
                .join(output_name(&prepared.input.out_stem, suffix, "npy"));
            crate::atomic::write_with(&path, |partial| {
                npy::write_f32_2d(partial, result.height, result.width, &result.heatmap)
            })?;
            Some(path)
        } else {
            None
        };
        Ok(self.record(prepared, result, &out, npy_path.as_deref()))
    }

    /// The human output line of one photo and class.
    fn human_line(&self, record: &ExplainRecord) -> String {
        // The output is named only when the model has several.
        let output = if self.session.model.graph.outputs.len() > 1 {
            format!(" [output '{}']", record.model_output)
        } else {
            String::new()
        };
        format!(
            "{}: {} (p={:.3}){output} -> {}",
            record.image,
            record
                .label
                .clone()
                .unwrap_or_else(|| format!("class {}", record.class)),
            record.probability,
            record.output
        )
    }

    /// The overlay, or with `--panel` the captioned `photo | heatmap | overlay` panel.
    fn picture(
        &self,
        prepared: &Prepared<'_>,
        result: &CamResult,
        heat: &Heatmap,
    ) -> Result<RgbImage> {
        if !self.overlay.panel {
            return Ok(overlay::render(&prepared.photo, heat, &self.overlay)?);
        }
        let class = self.class_caption(result);
        let layer = layer_caption(result);
        let map = MethodMap {
            method: &result.method,
            layer: layer.as_deref(),
            heatmap: heat,
        };
        Ok(overlay::explained_panel(
            &prepared.photo,
            &class,
            &map,
            &self.overlay,
        )?)
    }

    /// The explained class's name and probability, as captions show them.
    fn class_caption(&self, result: &CamResult) -> ClassCaption {
        let probabilities = self.head.class_probabilities(&result.probabilities);
        ClassCaption {
            class: self
                .label(result.class)
                .unwrap_or_else(|| format!("class {}", result.class)),
            probability: probabilities.get(result.class).copied().unwrap_or(f32::NAN),
        }
    }

    /// Whether `--panel` with several methods writes one panel per class (photo | each
    /// method's captioned overlay) instead of a picture per method.
    fn method_panels(&self) -> bool {
        self.overlay.panel && self.methods.len() > 1
    }

    /// One panel per explained class of a photo; `results` and `records` are method-major
    /// (every class of the first method, then of the next), and each record's `output`
    /// becomes its class's panel.
    fn write_method_panels(
        &self,
        prepared: &Prepared<'_>,
        results: &[CamResult],
        records: &mut [ExplainRecord],
    ) -> Result<()> {
        let per_target = results.len() / self.methods.len().max(1);
        for i in 0..per_target {
            let of_class: Vec<&CamResult> = results.iter().skip(i).step_by(per_target).collect();
            let heats = of_class
                .iter()
                .map(|r| Heatmap::new(r.width as u32, r.height as u32, r.heatmap.clone()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let layers: Vec<Option<String>> = of_class.iter().map(|r| layer_caption(r)).collect();
            let maps: Vec<MethodMap<'_>> = of_class
                .iter()
                .zip(&heats)
                .zip(&layers)
                .map(|((r, heatmap), layer)| MethodMap {
                    method: &r.method,
                    layer: layer.as_deref(),
                    heatmap,
                })
                .collect();
            let class = self.class_caption(of_class[0]);
            let panel = overlay::method_panel(&prepared.photo, &class, &maps, &self.overlay)?;
            let suffix = output_suffix(1, "", per_target, i);
            let out = self
                .args
                .out
                .join(output_name(&prepared.input.out_stem, &suffix, "png"));
            crate::atomic::save_image(&panel.into(), &out, image::ImageFormat::Png)?;
            for record in records.iter_mut().skip(i).step_by(per_target) {
                record.output = out.display().to_string();
            }
        }
        Ok(())
    }

    fn label(&self, class: usize) -> Option<String> {
        self.labels.as_ref()?.get(class).cloned()
    }

    fn record(
        &self,
        prepared: &Prepared<'_>,
        result: &CamResult,
        out: &Path,
        npy_path: Option<&Path>,
    ) -> ExplainRecord {
        let probabilities = self.head.class_probabilities(&result.probabilities);
        let mut ranked: Vec<usize> = (0..probabilities.len()).collect();
        ranked.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
        ExplainRecord {
            image: prepared.input.path.display().to_string(),
            output: out.display().to_string(),
            heatmap: npy_path.map(|p| p.display().to_string()),
            class: result.class,
            label: self.label(result.class),
            score: result.score,
            probability: probabilities.get(result.class).copied().unwrap_or(f32::NAN),
            top_k: ranked
                .into_iter()
                .take(REPORTED_TOP_K)
                .map(|class| ClassProbability {
                    class,
                    label: self.label(class),
                    probability: probabilities[class],
                })
                .collect(),
            logits: result.logits.clone(),
            target_layer: result.target_layer.clone(),
            layers: result.layers.clone(),
            method: result.method.clone(),
            model_output: self.network.graph().nodes[self.head.output_node]
                .path
                .clone(),
            preprocessing: self.session.preprocessing.to_string(),
            backbone: self.session.backbone.as_ref().map(|b| match &b.variant {
                Some(variant) => format!("{}/{variant}", b.family),
                None => b.family.to_string(),
            }),
        }
    }
}

/// Splits prepared photos into runs of equal input size (only free-size models mix sizes).
fn group_by_size(prepared: Vec<Prepared<'_>>) -> Vec<Vec<Prepared<'_>>> {
    let mut groups: Vec<Vec<Prepared<'_>>> = Vec::new();
    for p in prepared {
        match groups.iter_mut().find(|g| g[0].size == p.size) {
            Some(group) => group.push(p),
            None => groups.push(vec![p]),
        }
    }
    groups
}
