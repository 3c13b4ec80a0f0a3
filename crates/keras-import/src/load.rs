//! The public entry points: load a Keras model file (`.keras` zip or `.h5` HDF5, Keras 2 or 3)
//! from a path or from bytes into a [`Model`].

use std::borrow::Cow;
use std::path::Path;

use crate::config::{parse_model_config, Dialect, ModelConfig};
use crate::container::h5::{Attributes, H5File, H5Group};
use crate::container::keras_zip::{KerasArchive, WEIGHTS_MEMBER};
use crate::container::{detect, Container};
use crate::error::{ErrorKind, ImportError, Result};
use crate::graph::build_graph;
use crate::ir::{Format, Model};
use crate::weights::{read_h5_layout, read_keras_layout, WeightStore};

/// Loads the Keras model stored at `path`.
///
/// The format is recognised from the file's bytes, never from its extension: a zip archive is
/// read as a `.keras` file, an HDF5 file as a legacy `.h5` model. Lambda layers are refused;
/// nothing from the file is ever executed.
///
/// # Errors
/// An [`ImportError`] naming the file, whose [`ErrorKind`] tells what went wrong: the file
/// cannot be read ([`ErrorKind::Io`]), is empty, is not a model file, has no or a broken
/// model description, damaged weights, weights that do not fit the layers, or layers this
/// importer does not support.
pub fn load_model(path: &Path) -> Result<Model> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        ImportError::new(ErrorKind::Io, &file, format!("cannot read the file: {e}"))
    })?;
    load(Cow::Owned(bytes), &file)
}

/// Loads a Keras model from the bytes of a `.keras` or `.h5` file; `file` names it in errors.
///
/// # Errors
/// As [`load_model`], without [`ErrorKind::Io`].
pub fn load_model_from_bytes(bytes: &[u8], file: &str) -> Result<Model> {
    load(Cow::Borrowed(bytes), file)
}

/// Reads only the stored variables of a `.keras` or `.h5` model file, keyed by layer path, each
/// with the dataset it came from ([`crate::weights::RawTensor::name`]); the model config is
/// parsed to find them but no graph is built, so the shapes are not checked against the layers.
/// For inspecting a file, or checking it against an index of its datasets.
///
/// # Errors
/// As [`load_model_from_bytes`], except the errors of building the graph.
pub fn load_weight_store_from_bytes(bytes: &[u8], file: &str) -> Result<WeightStore> {
    Ok(read_parts(Cow::Borrowed(bytes), file)?.weights)
}

/// What a container yields before the graph is built.
struct ModelParts {
    format: Format,
    keras_version: Option<String>,
    config: ModelConfig,
    weights: WeightStore,
    warnings: Vec<String>,
}

fn load(bytes: Cow<'_, [u8]>, file: &str) -> Result<Model> {
    let parts = read_parts(bytes, file)?;
    let graph = build_graph(&parts.config, Some(&parts.weights), file)?;
    Ok(Model {
        format: parts.format,
        keras_version: parts.keras_version,
        graph,
        warnings: parts.warnings,
    })
}

/// Detects the container and reads the config and weights from it.
fn read_parts(bytes: Cow<'_, [u8]>, file: &str) -> Result<ModelParts> {
    match detect(&bytes, file)? {
        Container::Zip => {
            let archive = KerasArchive::read(&bytes, file)?;
            // The members are copies: the archive's own bytes (as large as the weights) are
            // released before the weights are decoded, so the two are never held with them.
            drop(bytes);
            read_keras_archive(archive, file)
        }
        Container::Hdf5 => read_h5_model(bytes.into_owned(), file),
    }
}

/// Reads the members of a `.keras` archive: `metadata.json`, `config.json`, then
/// `model.weights.h5`.
fn read_keras_archive(archive: KerasArchive, file: &str) -> Result<ModelParts> {
    let keras_version = match &archive.metadata {
        Some(metadata) => metadata_keras_version(metadata, file)?,
        None => None,
    };
    let config = parse_model_config(&archive.config, file)?;
    let mut warnings = Vec::new();
    let weights = match archive.weights {
        Some(weights) => read_keras_layout(&H5File::open(weights, file, WEIGHTS_MEMBER)?, &config)?,
        None => {
            warnings.push(format!(
                "the archive has no {WEIGHTS_MEMBER}: every layer is read without weights"
            ));
            WeightStore::default()
        }
    };
    let format = match generation(keras_version.as_deref(), config.dialect) {
        Dialect::Keras2 => Format::Keras2Zip,
        Dialect::Keras3 => Format::Keras3Zip,
    };
    Ok(ModelParts {
        format,
        keras_version,
        config,
        weights,
        warnings,
    })
}

/// `keras_version` of `metadata.json` (absent is fine; text that is not JSON is not).
fn metadata_keras_version(metadata: &str, file: &str) -> Result<Option<String>> {
    let value: serde_json::Value = serde_json::from_str(metadata).map_err(|e| {
        ImportError::new(
            ErrorKind::BadJson,
            file,
            format!("metadata.json is not valid JSON: {e}"),
        )
    })?;
    Ok(value
        .get("keras_version")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string))
}

/// Reads a legacy `.h5` model: root attributes `model_config` and `keras_version`, then the
/// `model_weights` group.
fn read_h5_model(bytes: Vec<u8>, file: &str) -> Result<ModelParts> {
    let h5 = H5File::open(bytes, file, "")?;
    let root = h5.root()?;
    let attributes = root.attributes()?;
    let Some(model_config) = attributes.string("model_config")? else {
        return Err(no_model_config(&h5, &root, &attributes)?);
    };
    let keras_version = match attributes.string("keras_version")? {
        Some(version) => Some(version),
        None => match h5.group("model_weights")? {
            Some(group) => group.attributes()?.string("keras_version")?,
            None => None,
        },
    };
    let config = parse_model_config(&model_config, file)?;
    let weights = read_h5_layout(&h5, &config)?;
    let format = match generation(keras_version.as_deref(), config.dialect) {
        Dialect::Keras2 => Format::Keras2H5,
        Dialect::Keras3 => Format::Keras3H5,
    };
    Ok(ModelParts {
        format,
        keras_version,
        config,
        weights,
        warnings: Vec::new(),
    })
}

/// The error for an HDF5 file without `model_config`: a weights-only file when it holds a
/// Keras weights layout, otherwise not a Keras model at all.
fn no_model_config(
    h5: &H5File,
    root: &H5Group<'_>,
    attributes: &Attributes<'_>,
) -> Result<ImportError> {
    let keras2_weights = attributes.has("layer_names") || attributes.has("layer_names0");
    let keras_weights =
        keras2_weights || root.child("layers")?.is_some() || root.child("model_weights")?.is_some();
    Ok(if keras_weights {
        h5.error(
            ErrorKind::WeightsOnly,
            "a weights-only file (save_weights): it holds weights but no model_config \
             describing the architecture; save the whole model with model.save(...)"
                .to_string(),
        )
    } else {
        h5.error(
            ErrorKind::MissingConfig,
            "an HDF5 file without a model_config attribute: not a saved Keras model".to_string(),
        )
    })
}

/// The Keras generation that wrote a file: from its `keras_version` major when recorded,
/// otherwise from the config dialect.
fn generation(keras_version: Option<&str>, dialect: Dialect) -> Dialect {
    let major = keras_version
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.trim().parse::<u32>().ok());
    match major {
        Some(2) => Dialect::Keras2,
        Some(3) => Dialect::Keras3,
        _ => dialect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_prefers_the_recorded_version() {
        assert_eq!(generation(Some("2.21.0"), Dialect::Keras3), Dialect::Keras2);
        assert_eq!(generation(Some("3.15.1"), Dialect::Keras2), Dialect::Keras3);
        assert_eq!(
            generation(Some("garbage"), Dialect::Keras2),
            Dialect::Keras2
        );
        assert_eq!(generation(None, Dialect::Keras3), Dialect::Keras3);
    }
}
