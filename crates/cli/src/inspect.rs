//! `kerascam inspect`: what is in a model file.

use std::process::ExitCode;

use keras_import::{Graph, Model, Shape};
use serde::Serialize;

use crate::args::{InspectArgs, PreprocessArg};
use crate::error::Result;
use crate::session::Session;

/// The `--json` report. Field names are a stable interface.
#[derive(Debug, Serialize)]
pub struct InspectReport {
    /// `keras3-zip`, `keras3-h5`, `keras2-h5` or `keras2-zip`.
    pub format: &'static str,
    /// The Keras version that wrote the file.
    pub keras_version: Option<String>,
    /// Total parameters (Keras `count_params()`).
    pub param_count: u64,
    /// Trainable parameters.
    pub trainable_param_count: u64,
    /// Non-trainable parameters.
    pub non_trainable_param_count: u64,
    /// Input shape `[h, w, c]` (`null` for a free dimension).
    pub input_shape: Shape,
    /// Output shape without the batch axis.
    pub output_shape: Shape,
    /// Every node of the flattened graph.
    pub layers: Vec<LayerRow>,
    /// Nested models.
    pub scopes: Vec<ScopeRow>,
    /// The default Grad-CAM target layer (`null` when the model has no feature map).
    pub target_layer: Option<String>,
    /// Its output shape `[h, w, c]`.
    pub target_shape: Option<Shape>,
    /// `softmax`, `sigmoid` or `linear` (of the first output).
    pub head: Option<&'static str>,
    /// Every model output, in order (`explain --output` picks one by index or name).
    pub outputs: Vec<OutputRow>,
    /// The recognised backbone.
    pub backbone: Option<BackboneRow>,
    /// The preprocessing `explain` applies by default.
    pub preprocessing: String,
    /// Why: what the model's own input layers do (see [`InputPipelineRow`]).
    pub input_pipeline: InputPipelineRow,
    /// Remarks from the import and analysis.
    pub warnings: Vec<String>,
}

/// One node in the layer table.
#[derive(Debug, Serialize)]
pub struct LayerRow {
    /// Full path (`nested_model/layer`).
    pub path: String,
    /// Keras class.
    pub class: String,
    /// Output shape without the batch axis.
    pub output_shape: Shape,
    /// Parameters owned by this layer (0 for a repeated call of a shared layer).
    pub params: u64,
}

/// One model output.
#[derive(Debug, Serialize)]
pub struct OutputRow {
    /// Its position in the model's output list.
    pub index: usize,
    /// The output node's full path.
    pub path: String,
    /// Its shape without the batch axis.
    pub shape: Shape,
    /// `softmax`, `sigmoid` or `linear`.
    pub head: Option<&'static str>,
}

/// What the model does to the raw input before its first feature layer.
#[derive(Debug, Serialize)]
pub struct InputPipelineRow {
    /// The pipeline in words, ending with the backbone or first layer.
    pub summary: String,
    /// The input layers in groups: `{role, layers}`, role `identity` (augmentation at
    /// inference), `resampling` or `normalising`.
    pub stages: Vec<StageRow>,
    /// The keras.applications `preprocess_input` mode (`caffe`, `tf`, `torch`) the model's
    /// normalising ops compute, or `null`.
    pub preprocess_input_mode: Option<String>,
}

/// One group of input layers.
#[derive(Debug, Serialize)]
pub struct StageRow {
    /// `identity`, `resampling` or `normalising`.
    pub role: &'static str,
    /// Layer classes (a TF-op layer's function), each once.
    pub layers: Vec<String>,
}

/// One nested model.
#[derive(Debug, Serialize)]
pub struct ScopeRow {
    /// Scope path.
    pub path: String,
    /// Keras class (`Functional`, `Sequential`).
    pub class: String,
    /// Parameters inside it.
    pub params: u64,
}

/// The recognised backbone.
#[derive(Debug, Serialize)]
pub struct BackboneRow {
    /// keras.applications module name (`resnet`, `mobilenet_v2`, ...).
    pub family: String,
    /// Constructor and arguments (`MobileNetV2(alpha=0.35)`), when determinable.
    pub variant: Option<String>,
    /// Scope path of the backbone (`""` when it is the whole model).
    pub scope: String,
    /// Its preprocessing mode.
    pub preprocessing: String,
    /// Confidence in [0, 1].
    pub confidence: f32,
}

/// Runs `kerascam inspect`.
pub fn run(args: &InspectArgs) -> Result<ExitCode> {
    let session = Session::open(&args.model, PreprocessArg::Auto)?;
    let report = build_report(&session);
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("report serialises")
        );
    } else {
        print_human(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds the report for a loaded session.
pub fn build_report(session: &Session) -> InspectReport {
    let Model {
        format,
        keras_version,
        graph,
        warnings,
    } = &session.model;
    let counts = graph.param_counts();
    let mut warnings = warnings.clone();
    let target = match gradcam_core::default_target_layer(graph) {
        Ok(id) => Some(&graph.nodes[id]),
        Err(e) => {
            warnings.push(e.to_string());
            None
        }
    };
    let head = match gradcam_core::find_head(graph) {
        Ok(info) => Some(head_name(info.kind)),
        Err(e) => {
            warnings.push(e.to_string());
            None
        }
    };
    InspectReport {
        format: format.as_str(),
        keras_version: keras_version.clone(),
        param_count: counts.total,
        trainable_param_count: counts.trainable,
        non_trainable_param_count: counts.non_trainable,
        input_shape: first_shape(graph, &graph.inputs),
        output_shape: first_shape(graph, &graph.outputs),
        layers: layer_rows(graph),
        scopes: graph
            .scopes
            .iter()
            .enumerate()
            .skip(1)
            .map(|(id, s)| ScopeRow {
                path: s.path.clone(),
                class: s.class_name.clone(),
                params: graph.scope_param_counts(id).total,
            })
            .collect(),
        target_layer: target.map(|n| n.path.clone()),
        target_shape: target.map(|n| n.output_shape.clone()),
        head,
        outputs: output_rows(graph),
        backbone: session.backbone.as_ref().map(|b| BackboneRow {
            family: b.family.to_string(),
            variant: b.variant.clone(),
            scope: b.scope.clone(),
            preprocessing: b.preprocessing.to_string(),
            confidence: b.confidence,
        }),
        preprocessing: session.preprocessing.to_string(),
        input_pipeline: pipeline_row(graph, session.backbone.as_ref()),
        warnings,
    }
}

fn pipeline_row(graph: &Graph, backbone: Option<&backbones::Detection>) -> InputPipelineRow {
    let pipeline = backbones::InputPipeline::of(graph);
    InputPipelineRow {
        summary: pipeline.describe(graph, backbone),
        stages: pipeline
            .stages
            .iter()
            .map(|stage| StageRow {
                role: match stage.role {
                    backbones::StageRole::Identity => "identity",
                    backbones::StageRole::Resampling => "resampling",
                    backbones::StageRole::Normalising => "normalising",
                },
                layers: stage.layers.clone(),
            })
            .collect(),
        preprocess_input_mode: pipeline.mode.map(|m| m.to_string()),
    }
}

fn head_name(head: gradcam_core::Head) -> &'static str {
    match head {
        gradcam_core::Head::Softmax => "softmax",
        gradcam_core::Head::Sigmoid => "sigmoid",
        gradcam_core::Head::Linear => "linear",
    }
}

fn output_rows(graph: &Graph) -> Vec<OutputRow> {
    graph
        .outputs
        .iter()
        .enumerate()
        .filter_map(|(index, &id)| {
            let node = graph.nodes.get(id)?;
            Some(OutputRow {
                index,
                path: node.path.clone(),
                shape: node.output_shape.clone(),
                head: gradcam_core::find_head_for(graph, id)
                    .ok()
                    .map(|h| head_name(h.kind)),
            })
        })
        .collect()
}

fn first_shape(graph: &Graph, ids: &[usize]) -> Shape {
    ids.first()
        .and_then(|&id| graph.nodes.get(id))
        .map(|n| n.output_shape.clone())
        .unwrap_or_default()
}

fn layer_rows(graph: &Graph) -> Vec<LayerRow> {
    graph
        .nodes
        .iter()
        .map(|node| LayerRow {
            path: node.path.clone(),
            class: node.class_name.clone(),
            output_shape: node.output_shape.clone(),
            params: if node.call_index == 0 {
                node.weights
                    .iter()
                    .map(|&w| graph.weights[w].shape.iter().product::<usize>() as u64)
                    .sum()
            } else {
                0
            },
        })
        .collect()
}

fn shape_text(shape: &Shape) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or("?".to_string(), |d| d.to_string()))
        .collect();
    format!("({})", dims.join(", "))
}

fn print_human(r: &InspectReport) {
    println!(
        "format        {} (Keras {})",
        r.format,
        r.keras_version.as_deref().unwrap_or("unknown")
    );
    println!(
        "parameters    {} ({} trainable, {} non-trainable)",
        r.param_count, r.trainable_param_count, r.non_trainable_param_count
    );
    println!(
        "input/output  {} -> {}",
        shape_text(&r.input_shape),
        shape_text(&r.output_shape)
    );
    match &r.backbone {
        Some(b) => println!(
            "backbone      {} ({}) at {:?}, confidence {:.2}",
            b.variant.as_deref().unwrap_or("unknown variant"),
            b.family,
            b.scope,
            b.confidence
        ),
        None => println!("backbone      none recognised"),
    }
    println!("preprocessing {}", r.preprocessing);
    println!("input         {}", r.input_pipeline.summary);
    println!("head          {}", r.head.unwrap_or("unknown"));
    let outputs: Vec<String> = r
        .outputs
        .iter()
        .map(|o| {
            let head = o.head.unwrap_or("unknown");
            format!("{} {} {} {head}", o.index, o.path, shape_text(&o.shape))
        })
        .collect();
    println!("outputs       {}", outputs.join("; "));
    match (&r.target_layer, &r.target_shape) {
        (Some(t), Some(s)) => println!("target layer  {t} {}", shape_text(s)),
        _ => println!("target layer  none"),
    }
    for s in &r.scopes {
        println!(
            "scope         {} ({}, {} params)",
            s.path, s.class, s.params
        );
    }
    let width = r
        .layers
        .iter()
        .map(|l| l.path.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!();
    println!(
        "{:<width$}  {:<24} {:<20} {:>10}",
        "path", "class", "output", "params"
    );
    for l in &r.layers {
        println!(
            "{:<width$}  {:<24} {:<20} {:>10}",
            l.path,
            l.class,
            shape_text(&l.output_shape),
            l.params
        );
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
}
