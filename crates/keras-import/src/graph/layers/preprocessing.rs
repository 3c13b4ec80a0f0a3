//! Image preprocessing layers (Keras 3 and tf_keras): what each does at inference, where
//! most random augmentations are the identity and Resizing, CenterCrop and tf_keras'
//! RandomCrop resample — their options and output shapes.

use super::{LayerInput, LayerRules};
use crate::config::fields::Fields;
use crate::config::Dialect;
use crate::error::Result;
use crate::graph::shape::{image, Broadcast, ShapeResult};
use crate::ir::{AspectFit, ClaheParams, Op, ResizeMethod, ResizeParams, Shape};

/// A random augmentation layer (RandomFlip, RandomRotation, MixUp, Solarization, ...):
/// the identity at inference in both dialects (each layer's `call` or `transform_images`
/// returns its input unchanged when `training=False`).
pub(crate) fn augmentation(input: &LayerInput) -> Result<Op> {
    input.fields.require_channels_last()?;
    input.single_shape()?;
    Ok(Op::Identity)
}

/// `Resizing`: `height`, `width`, `interpolation`, `antialias`, `crop_to_aspect_ratio`,
/// `pad_to_aspect_ratio` with `fill_mode` `constant` and `fill_value`.
pub(crate) fn resizing(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    f.require_channels_last()?;
    let name = f.str_or("interpolation", "bilinear")?;
    let method = match name.to_ascii_lowercase().as_str() {
        "bilinear" => ResizeMethod::Bilinear,
        "nearest" => ResizeMethod::Nearest,
        "bicubic" => ResizeMethod::Bicubic,
        "area" => ResizeMethod::Area,
        "lanczos3" => ResizeMethod::Lanczos3,
        "lanczos5" => ResizeMethod::Lanczos5,
        "gaussian" => ResizeMethod::Gaussian,
        "mitchellcubic" => ResizeMethod::MitchellCubic,
        _ => return Err(f.unsupported("interpolation", name)),
    };
    let crop = f.bool_or("crop_to_aspect_ratio", false)?;
    let pad = f.bool_or("pad_to_aspect_ratio", false)?;
    let fit = match (crop, pad) {
        (false, false) => AspectFit::Stretch,
        (true, false) => AspectFit::Crop,
        (false, true) => {
            let mode = f.str_or("fill_mode", "constant")?;
            if mode != "constant" {
                return Err(f.unsupported("fill_mode", mode));
            }
            AspectFit::Pad {
                fill: f.f32_or("fill_value", 0.0)?,
            }
        }
        (true, true) => {
            return Err(f.unsupported(
                "pad_to_aspect_ratio",
                "true together with crop_to_aspect_ratio",
            ))
        }
    };
    Ok(Op::Resize(ResizeParams {
        size: [f.size("height")?, f.size("width")?],
        method,
        antialias: f.bool_or("antialias", false)?,
        fit,
    }))
}

/// `CenterCrop`: `height`, `width`.
pub(crate) fn center_crop(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    f.require_channels_last()?;
    Ok(Op::CenterCrop {
        size: [f.size("height")?, f.size("width")?],
    })
}

/// `RandomCrop` at inference. tf_keras: the largest centred window of the target aspect
/// ratio, resized bilinearly to `height` × `width`. Keras 3.15: the identity (its
/// `transform_images` returns the input unchanged when `training=False`, whatever its size).
pub(crate) fn random_crop(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    f.require_channels_last()?;
    let size = [f.size("height")?, f.size("width")?];
    Ok(match input.dialect {
        Dialect::Keras3 => Op::Identity,
        Dialect::Keras2 => Op::Resize(ResizeParams {
            size,
            method: ResizeMethod::Bilinear,
            antialias: false,
            fit: AspectFit::Crop,
        }),
    })
}

/// `AutoContrast` (Keras 3, active at inference): `value_range`, default `[0, 255]`.
pub(crate) fn auto_contrast(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    f.require_channels_last()?;
    let [a, b] = value_range(f)?;
    Ok(Op::AutoContrast {
        value_range: [a.min(b), a.max(b)],
    })
}

/// `ContrastLimitedAdaptiveHistogramEqualization` (Keras 3; its `transform_images` ignores
/// `training`, so it equalises at inference too): `value_range` (default `[0, 255]`, used as
/// written: Keras does not sort it), `clip_limit` (4), `tile_grid_size` (8 × 8).
pub(crate) fn clahe(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    f.require_channels_last()?;
    let clip_limit = match f.get("clip_limit") {
        None => 4.0,
        Some(v) => v
            .as_f64()
            .filter(|l| l.is_finite())
            .ok_or_else(|| f.malformed("clip_limit", "a finite number"))?,
    };
    Ok(Op::Clahe(ClaheParams {
        value_range: value_range(f)?,
        clip_limit,
        tile_grid: f.pair_or("tile_grid_size", [8, 8])?,
    }))
}

/// A `value_range` of two different finite numbers, `[0, 255]` when absent.
fn value_range(f: &Fields) -> Result<[f32; 2]> {
    let range = f
        .f32_list("value_range")?
        .unwrap_or_else(|| vec![0.0, 255.0]);
    match range[..] {
        [a, b] if a != b && a.is_finite() && b.is_finite() => Ok([a, b]),
        _ => Err(f.malformed("value_range", "two different finite numbers")),
    }
}

/// The preprocessing family's view of an op.
pub(crate) enum Preprocessing<'a> {
    /// An image resampled to a fixed size (height, width).
    Resampling(&'a [usize; 2]),
    /// An image transformed in place.
    Image,
}

impl LayerRules for Preprocessing<'_> {
    fn output_shape(&self, inputs: &[&Shape], _: Broadcast) -> ShapeResult<Shape> {
        let x = image(inputs)?;
        Ok(match self {
            Preprocessing::Resampling(size) => vec![Some(size[0]), Some(size[1]), x[2]],
            Preprocessing::Image => x.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::error::{ErrorKind, ImportError};
    use crate::graph::shape::infer_one;
    use crate::ir::{AspectFit, ClaheParams, Graph, Op, ResizeMethod, ResizeParams};

    /// A Keras 3 Sequential model: a free-size RGB input, then `layer` (a JSON layer object).
    fn model(layer: &str) -> Result<Graph, ImportError> {
        let json = format!(
            r#"{{"class_name": "Sequential", "keras_version": "3.15.1",
                "config": {{"name": "m", "layers": [
                    {{"class_name": "InputLayer",
                      "config": {{"name": "x", "batch_shape": [null, null, null, 3]}}}},
                    {layer}]}}}}"#
        );
        crate::graph_from_config_json(&json, "m.json")
    }

    /// The error of a model whose only layer is `layer`; it must name that layer.
    fn refusal(layer: &str) -> ImportError {
        let err = model(layer).expect_err("refused");
        assert!(err.to_string().contains("'p'"), "{err}");
        err
    }

    #[test]
    fn bad_resampling_options_are_refused_naming_the_layer() {
        let zero =
            r#"{"class_name": "Resizing", "config": {"name": "p", "height": 0, "width": 8}}"#;
        assert_eq!(refusal(zero).kind, ErrorKind::BadJson);
        let zero =
            r#"{"class_name": "CenterCrop", "config": {"name": "p", "height": 4, "width": 0}}"#;
        assert_eq!(refusal(zero).kind, ErrorKind::BadJson);
        let unknown = r#"{"class_name": "Resizing",
            "config": {"name": "p", "height": 8, "width": 8, "interpolation": "sinc"}}"#;
        let err = refusal(unknown);
        assert_eq!(err.kind, ErrorKind::UnsupportedOption);
        assert!(err.to_string().contains("interpolation = sinc"), "{err}");
        let both = r#"{"class_name": "Resizing", "config": {"name": "p", "height": 8,
            "width": 8, "crop_to_aspect_ratio": true, "pad_to_aspect_ratio": true}}"#;
        assert_eq!(refusal(both).kind, ErrorKind::UnsupportedOption);
        let flat = r#"{"class_name": "AutoContrast",
            "config": {"name": "p", "value_range": [1, 1]}}"#;
        assert_eq!(refusal(flat).kind, ErrorKind::BadJson);
        let first = r#"{"class_name": "RandomFlip",
            "config": {"name": "p", "data_format": "channels_first"}}"#;
        assert_eq!(refusal(first).kind, ErrorKind::UnsupportedOption);
    }

    #[test]
    fn clahe_options_are_read_and_checked() {
        let layer = r#"{"class_name": "ContrastLimitedAdaptiveHistogramEqualization",
            "config": {"name": "p", "value_range": [0, 1], "clip_limit": 2.5,
                       "tile_grid_size": [3, 5]}}"#;
        let graph = model(layer).unwrap();
        let want = ClaheParams {
            value_range: [0.0, 1.0],
            clip_limit: 2.5,
            tile_grid: [3, 5],
        };
        assert_eq!(graph.nodes[1].op, Op::Clahe(want));
        let defaults = r#"{"class_name": "ContrastLimitedAdaptiveHistogramEqualization",
            "config": {"name": "p"}}"#;
        let Op::Clahe(p) = &model(defaults).unwrap().nodes[1].op else {
            panic!("not CLAHE")
        };
        assert_eq!(
            (p.value_range, p.clip_limit, p.tile_grid),
            ([0.0, 255.0], 4.0, [8, 8])
        );
        for bad in [
            r#""tile_grid_size": [0, 8]"#,
            r#""value_range": [3, 3]"#,
            r#""clip_limit": "x""#,
        ] {
            let layer = format!(
                r#"{{"class_name": "ContrastLimitedAdaptiveHistogramEqualization",
                    "config": {{"name": "p", {bad}}}}}"#
            );
            assert_eq!(refusal(&layer).kind, ErrorKind::BadJson, "{bad}");
        }
    }

    #[test]
    fn a_pipeline_runs_its_layers_in_order() {
        let pipeline = r#"{"class_name": "Pipeline", "config": {"name": "pipe", "layers": [
            {"class_name": "RandomFlip", "config": {"name": "flip"}},
            {"class_name": "Resizing", "config": {"name": "size", "height": 8, "width": 6}},
            {"class_name": "Rescaling", "config": {"name": "unit", "scale": 0.5}}]}}"#;
        let graph = model(pipeline).unwrap();
        let paths: Vec<_> = graph.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths[1..], ["pipe/flip", "pipe/size", "pipe/unit"]);
        assert_eq!(graph.nodes[3].output_shape, vec![Some(8), Some(6), Some(3)]);
        for (i, node) in graph.nodes.iter().enumerate().skip(1) {
            assert_eq!(node.inputs, vec![i - 1], "{}", node.path);
        }
    }

    #[test]
    fn random_crop_follows_the_dialect() {
        let crop =
            r#"{"class_name": "RandomCrop", "config": {"name": "c", "height": 8, "width": 6}}"#;
        let graph = model(crop).unwrap();
        assert_eq!(graph.nodes[1].op, Op::Identity);
        assert_eq!(graph.nodes[1].output_shape, vec![None, None, Some(3)]);
    }

    #[test]
    fn resampling_fixes_the_size_of_free_inputs() {
        let resize = Op::Resize(ResizeParams {
            size: [32, 48],
            method: ResizeMethod::Bilinear,
            antialias: false,
            fit: AspectFit::Stretch,
        });
        assert_eq!(
            infer_one(&resize, vec![None, None, Some(3)]).unwrap(),
            vec![Some(32), Some(48), Some(3)]
        );
        let crop = Op::CenterCrop { size: [8, 8] };
        assert_eq!(
            infer_one(&crop, vec![Some(4), Some(40), Some(1)]).unwrap(),
            vec![Some(8), Some(8), Some(1)]
        );
        assert!(infer_one(&crop, vec![Some(4), Some(1)]).is_err());
    }
}
