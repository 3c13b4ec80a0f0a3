//! `kerascam evaluate`: scores explanation methods on a set of photos with the pointing game,
//! deletion and insertion, ROAD and the change in confidence (`gradcam_core::metrics`), and
//! prints one table per method (or JSON).
//!
//! Each photo is explained for its top-1 class; the heatmap is resized to the model input
//! (bilinear, half-pixel centres) for the perturbation metrics, which run in the model-ready
//! space, and to the photo for the pointing game, whose boxes are in photo pixels. Scores are
//! the model's output for the class (softmax probabilities, as RISE and pytorch-grad-cam's
//! metric tutorial use).

mod boxes;
mod report;

use std::cell::RefCell;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::rc::Rc;

use backbones::ColorMode;
use gradcam_core::cam::registry;
use gradcam_core::metrics::{self, CausalOptions, Classifier, ModelInput, RoadOptions};
use gradcam_core::{CamMethod, CamRequest, HeadInfo, MethodOptions, Network, Target};
use overlay::{resize_bilinear, Heatmap};

use crate::args::{EvaluateArgs, MetricArg};
use crate::error::{CliError, Result};
use crate::explain::{cam_showing_passes, layer_caption, make_device, model_input};
use crate::inputs::{self, InputImage};
use crate::session::Session;

use boxes::Boxes;
use report::{Failure, MethodReport, PhotoScores};

/// The explanation method called `name` on the command line, from gradcam-core's registry
/// (the same names as `explain --method`).
fn method_by_name(name: &str, options: &MethodOptions) -> Result<Box<dyn CamMethod>> {
    registry::method_by_name(name, options).ok_or_else(|| {
        CliError::Usage(format!(
            "unknown method {name:?} (known: {})",
            registry::method_names()
        ))
    })
}

/// A network prepared for one input height and width.
type SizedNetwork = ((usize, usize), Rc<Network>);

/// Everything fixed for the whole run.
struct Job<'a> {
    args: &'a EvaluateArgs,
    session: Session,
    network: Network,
    head: HeadInfo,
    boxes: Option<Boxes>,
    /// The model's input size; `None` when free (each photo then runs at its own size).
    size: Option<(usize, usize)>,
    /// A free-size model prepared for the last photo size met (photos of one size in a row
    /// share it).
    resized: RefCell<Option<SizedNetwork>>,
    color: ColorMode,
}

/// A photo decoded and prepared for the network.
struct Prepared {
    tensor: Vec<f32>,
    /// The model-ready input's height and width.
    size: (usize, usize),
    photo_size: (usize, usize),
}

/// Runs `kerascam evaluate`. Exit code 0 when every photo was evaluated, 1 when some failed.
pub fn run(args: &EvaluateArgs) -> Result<ExitCode> {
    if args.max_channels == Some(0) {
        return Err(CliError::Usage("--max-channels must be at least 1".into()));
    }
    let options = MethodOptions {
        max_channels: args.max_channels,
        ..MethodOptions::default()
    };
    let methods = args
        .methods
        .iter()
        .map(|name| method_by_name(name, &options).map(|m| (name.as_str(), m)))
        .collect::<Result<Vec<_>>>()?;
    if args.batch_size == 0 {
        return Err(CliError::Usage("--batch-size must be at least 1".into()));
    }
    let boxes = args.boxes.as_deref().map(Boxes::read).transpose()?;
    let device = make_device(args.device)?;
    let mut session = Session::open(&args.model, args.preprocess)?;
    let (size, color) = model_input(&session, &args.model)?;
    let network = if size.is_some() {
        Network::load_releasing(&mut session.model.graph, &device)?
    } else {
        // A free-size model is prepared again for each photo's size: the graph keeps its
        // weights.
        Network::load(&session.model.graph, &device)?
    };
    let images = inputs::collect(&args.inputs)?;
    let job = Job {
        args,
        head: network.head(),
        session,
        network,
        boxes,
        size,
        resized: RefCell::new(None),
        color,
    };
    let progress = progress_bar(args, images.len() * methods.len());
    let mut reports = Vec::with_capacity(methods.len());
    for (name, method) in &methods {
        reports.push(job.evaluate_method(name, method.as_ref(), &images, &progress));
    }
    progress.finish_and_clear();
    print_reports(args, &reports);
    let failures: usize = reports.iter().map(|r| r.failed.len()).sum();
    Ok(if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_reports(args: &EvaluateArgs, reports: &[MethodReport]) {
    if args.json {
        let doc = serde_json::json!({
            "model": args.model.display().to_string(),
            "methods": reports,
        });
        println!("{doc}");
        return;
    }
    for (i, report) in reports.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", report.table());
    }
}

/// A bar over photos × methods on stderr, hidden with `--quiet` or when not a terminal.
fn progress_bar(args: &EvaluateArgs, total: usize) -> indicatif::ProgressBar {
    if args.quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} photos × methods  {elapsed_precise} (eta {eta})  {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

impl Job<'_> {
    fn evaluate_method(
        &self,
        name: &str,
        method: &dyn CamMethod,
        images: &[InputImage],
        progress: &indicatif::ProgressBar,
    ) -> MethodReport {
        let mut per_photo = Vec::with_capacity(images.len());
        let (mut unboxed, mut failed, mut layer) = (Vec::new(), Vec::new(), None);
        for (index, image) in images.iter().enumerate() {
            let shown = image.path.display().to_string();
            match self.evaluate_photo(method, image, index as u64, progress) {
                Ok((scores, caption)) => {
                    if self.wants(MetricArg::Pointing) && scores.pointing_hit.is_none() {
                        unboxed.push(shown);
                    }
                    if layer.is_none() {
                        layer = caption;
                    }
                    per_photo.push(scores);
                }
                Err(e) => failed.push(Failure {
                    image: shown,
                    error: e.to_string(),
                }),
            }
            progress.inc(1);
        }
        MethodReport::new(name, layer, per_photo, unboxed, failed)
    }

    /// The free-size model prepared for `size` images (the last one, when it has that size).
    fn network_at(&self, size: (usize, usize)) -> Result<Rc<Network>> {
        if let Some((at, network)) = self.resized.borrow().as_ref() {
            if *at == size {
                return Ok(Rc::clone(network));
            }
        }
        let graph = &self.session.model.graph;
        let network =
            Rc::new(Network::load(graph, self.network.device())?.with_input_size(size.0, size.1)?);
        *self.resized.borrow_mut() = Some((size, Rc::clone(&network)));
        Ok(network)
    }

    fn wants(&self, metric: MetricArg) -> bool {
        self.args.metrics.contains(&metric)
    }

    fn prepare(&self, image: &InputImage) -> Result<Prepared> {
        let decoded = backbones::load_photo(&image.path)?;
        let photo_size = (decoded.height() as usize, decoded.width() as usize);
        let pixels = backbones::to_color_mode(decoded, self.color);
        let (height, width) = match self.size {
            Some((h, w)) => (Some(h as u32), Some(w as u32)),
            None => (None, None),
        };
        let tensor =
            backbones::pixels_to_tensor(&pixels, height, width, self.session.preprocessing)?;
        Ok(Prepared {
            size: (tensor.height as usize, tensor.width as usize),
            tensor: tensor.data,
            photo_size,
        })
    }

    /// One photo's metrics and the layers its map came from, as a caption (see
    /// `explain::layer_caption`; `None` for a pixel-level method). A slow method's passes
    /// show in `progress`'s message.
    fn evaluate_photo(
        &self,
        method: &dyn CamMethod,
        image: &InputImage,
        index: u64,
        progress: &indicatif::ProgressBar,
    ) -> Result<(PhotoScores, Option<String>)> {
        let prepared = self.prepare(image)?;
        let (h, w) = prepared.size;
        let resized;
        let network = match self.size {
            Some(_) => &self.network,
            None => {
                resized = self.network_at((h, w))?;
                resized.as_ref()
            }
        };
        let request = CamRequest::for_layer(self.args.layer.clone(), vec![Target::Rank(0)]);
        let input = (prepared.tensor.as_slice(), 1);
        let cam = cam_showing_passes(network, method, input, &request, progress)?;
        let cam = cam.into_iter().flatten().next().ok_or_else(|| {
            CliError::Usage(format!("{}: no map was computed", image.path.display()))
        })?;
        let caption = layer_caption(&cam);
        let heat = Heatmap::new(cam.width as u32, cam.height as u32, cam.heatmap)?;
        let probabilities = self.head.class_probabilities(&cam.probabilities);
        let mut scores = PhotoScores {
            image: image.path.display().to_string(),
            class: cam.class,
            score: probabilities.get(cam.class).copied().unwrap_or(f32::NAN),
            ..PhotoScores::default()
        };
        if self.wants(MetricArg::Pointing) {
            self.pointing(image, &heat, prepared.photo_size, &mut scores)?;
        }
        let at_input = resize_bilinear(&heat, w as u32, h as u32)?.into_data();
        let channels = prepared.tensor.len() / (h * w);
        let input = ModelInput::new(&prepared.tensor, h, w, channels)?;
        let target = (cam.class, at_input.as_slice());
        self.perturbation_metrics(network, &input, target, index, &mut scores)?;
        Ok((scores, caption))
    }

    fn pointing(
        &self,
        image: &InputImage,
        heat: &Heatmap,
        (height, width): (usize, usize),
        scores: &mut PhotoScores,
    ) -> Result<()> {
        let Some(boxes) = self.boxes.as_ref().and_then(|b| b.find(image)) else {
            return Ok(());
        };
        let at_photo = resize_bilinear(heat, width as u32, height as u32)?;
        let outcome = metrics::pointing_game(
            at_photo.data(),
            width,
            height,
            boxes,
            metrics::POINTING_TOLERANCE,
        )?;
        scores.pointing_hit = Some(outcome.hit);
        scores.point = Some([outcome.point.0, outcome.point.1]);
        Ok(())
    }

    /// The metrics that perturb the model-ready `input` for `class` by `heatmap` (at the
    /// input's size), run by `network`.
    fn perturbation_metrics(
        &self,
        network: &Network,
        input: &ModelInput<'_>,
        (class, heatmap): (usize, &[f32]),
        index: u64,
        scores: &mut PhotoScores,
    ) -> Result<()> {
        let mut classifier = Classifier::new(
            |batch: &[f32], n: usize| {
                Ok(network
                    .predict(batch, n)?
                    .iter()
                    .map(|p| self.head.class_probabilities(&p.probabilities))
                    .collect())
            },
            self.args.batch_size,
        );
        let causal = CausalOptions::default();
        if self.wants(MetricArg::Deletion) {
            let curve = metrics::deletion(&mut classifier, input, class, heatmap, causal)?;
            scores.deletion = Some(curve.auc);
        }
        if self.wants(MetricArg::Insertion) {
            let curve = metrics::insertion(&mut classifier, input, class, heatmap, causal)?;
            scores.insertion = Some(curve.auc);
        }
        if self.wants(MetricArg::Road) {
            let options = RoadOptions {
                seed: self.args.seed.wrapping_add(index.wrapping_mul(1 << 20)),
                ..RoadOptions::default()
            };
            let road = metrics::road(&mut classifier, input, class, heatmap, &options)?;
            scores.road_morf = Some(road.morf_mean);
            scores.road_lerf = Some(road.lerf_mean);
            scores.road_combined = Some(road.combined);
        }
        if self.wants(MetricArg::Confidence) {
            let change = metrics::confidence_change(&mut classifier, input, class, heatmap)?;
            scores.drop_in_confidence = Some(change.drop);
            scores.increase_in_confidence = Some(change.increase);
        }
        Ok(())
    }
}
