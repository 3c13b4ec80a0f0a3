//! What the pixel-level methods share: each runs its [`crate::saliency`] function image by
//! image for the class the pipeline explains, and hands back the map a user sees at the
//! input's resolution.

use candle_core::{DType, Tensor};

use crate::cam::{CamContext, Contribution, Target};
use crate::error::{CamError, ErrorKind, Result};
use crate::saliency::PixelMap;

/// `[N, H, W]` display maps of `run` (one image, one class) over the context's images.
pub(crate) fn pixel_maps(
    ctx: &CamContext<'_>,
    run: impl Fn(&[f32], Target) -> Result<Vec<Vec<PixelMap>>>,
) -> Result<Contribution> {
    let input = ctx.input();
    let (n, h, w, _) = input.dims4()?;
    let mut maps = Vec::with_capacity(n * h * w);
    for image in 0..n {
        let class = ctx.class(image)?;
        let x = input
            .narrow(0, image, 1)?
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let map = run(&x, Target::Class(class))?
            .into_iter()
            .flatten()
            .next()
            .ok_or_else(|| {
                CamError::at(
                    ErrorKind::MissingGradient,
                    ctx.layer(),
                    "the pixel-level method returned no map",
                )
            })?;
        maps.extend(map.heatmap);
    }
    Ok(Contribution::Map(Tensor::from_vec(
        maps,
        (n, h, w),
        input.device(),
    )?))
}
