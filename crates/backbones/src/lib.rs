//! Recognises keras.applications backbones in an imported Keras graph, picks the matching input
//! preprocessing, and turns image files into preprocessed NHWC float32 tensors.
//!
//! - [`detect`]: which pretrained family (and where: whole model or nested) a graph contains,
//!   with a confidence and the evidence, from the [`signatures`] table generated from the
//!   conformance corpus ([`signatures_table`]).
//! - [`Preprocessing`] and [`choose_preprocessing`]: the five modes (`caffe`, `tf`, `torch`,
//!   `none`, `unit`) and the automatic choice.
//! - [`load_image`], [`to_tensor`], [`to_batch`]: decoding (EXIF orientation, grey/alpha/16-bit
//!   handled, decompression-bomb limits) and bilinear resizing; [`load_photo`],
//!   [`to_color_mode`], [`pixels_to_tensor`] for grey (1-channel) and RGBA (4-channel) models.
//!
//! See `docs/backbones.md` in the repository for the supported families and resampling notes.

mod affine_chain;
mod auto_preprocessing;
mod channels;
mod detect;
mod evidence;
mod image_input;
mod input_pipeline;
mod preprocessing;
pub mod signatures;
pub mod signatures_table;
mod tensor;
#[cfg(test)]
mod test_graph;

pub use auto_preprocessing::{choose_preprocessing, normalises_input};
pub use channels::{pil_luma, to_color_mode, ColorMode, Pixels};
pub use detect::{detect, Detection, ACCEPT};
pub use image_input::{
    load_image, load_image_from_bytes, load_photo, to_rgb8, ImageInputError, MAX_DECODE_BYTES,
    MAX_IMAGE_SIDE,
};
pub use input_pipeline::{InputPipeline, Stage, StageRole};
pub use preprocessing::{Preprocessing, UnknownPreprocessing};
pub use tensor::{
    pixels_to_tensor, resize_bilinear, target_size, to_batch, to_tensor, InputTensor,
    FREE_SIZE_MAX_SIDE,
};
