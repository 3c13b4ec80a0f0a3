//! Reads Keras `.keras` and `.h5` model files into a flat graph IR with weights, without
//! Python or TensorFlow.
//!
//! All four ways Keras saves a whole model are read, and told apart by their bytes (never by
//! the file extension):
//!
//! | [`Format`] | written by | container |
//! | --- | --- | --- |
//! | `keras3-zip` | Keras 3 `model.save("m.keras")` | zip: `config.json`, `metadata.json`, `model.weights.h5` |
//! | `keras3-h5` | Keras 3 `model.save("m.h5")` | HDF5: `model_config` attribute, `model_weights` group |
//! | `keras2-h5` | tf.keras 2 / tf_keras `model.save("m.h5")` | HDF5, Keras 2 config dialect, `:0` weight names |
//! | `keras2-zip` | tf.keras 2.13+ `model.save("m.keras")` | zip, Keras 2 config dialect |
//!
//! [`load_model`] returns a [`Model`]: one flat [`Graph`] in topological order, where nested
//! Functional/Sequential models are expanded in place and every [`Node`] keeps its full path
//! (`mobilenetv2_1.00_224/block_16_project`), and every [`Weight`] is f32 in Keras layout.
//! Failures are typed [`ImportError`]s whose [`ErrorKind`] is stable and whose message names
//! the file, layer and shapes involved. Lambda layers are refused and nothing stored in a file
//! is ever executed; every size read from a file is checked against the bytes present before
//! anything is allocated for it. HDF5 is read by the pure-Rust `hdf5-reader` crate, so no
//! system HDF5 library is needed.
//!
//! ```
//! use std::path::Path;
//!
//! let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_cnn.keras");
//! let model = keras_import::load_model(&path)?;
//! println!(
//!     "{} written by Keras {}",
//!     model.format.as_str(),
//!     model.keras_version.as_deref().unwrap_or("?")
//! );
//! for node in &model.graph.nodes {
//!     println!("{:<12} {:<24} {:?}", node.path, node.class_name, node.output_shape);
//! }
//!
//! let conv = model.graph.node_by_path("conv").expect("the model has a layer named conv");
//! let kernel = &model.graph.weights[model.graph.nodes[conv].weights[0]];
//! assert_eq!(kernel.shape, [3, 3, 3, 4]); // height, width, input channels, filters
//! println!("{}: first value {}", kernel.name, kernel.data[0]);
//! # Ok::<(), keras_import::ImportError>(())
//! ```
pub mod config;
mod container;
pub mod error;
pub mod graph;
pub mod ir;
mod load;
mod queries;
pub mod weights;
pub use error::{ErrorKind, ImportError, Result};
pub use graph::graph_from_config_json;
pub use ir::*;
pub use load::{load_model, load_model_from_bytes, load_weight_store_from_bytes};
pub use queries::normalize_axis;
