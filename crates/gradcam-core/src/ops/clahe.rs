//! Keras 3.15's ContrastLimitedAdaptiveHistogramEqualization, step for step in float32 as
//! its `_clahe` runs on TensorFlow: the image (mapped to 0–255) padded symmetrically to whole
//! tiles; per tile and channel a 256-bin histogram of the truncated values, clipped at
//! `clip_limit · tile pixels / 256` with the excess spread evenly, turned into a lookup table
//! (`(cdf − cdf_min) · 255 / (tile pixels − cdf_min)`, clipped to 0–255); each pixel's value
//! looked up in the four nearest tiles' tables and blended bilinearly, edge tiles repeated.
//!
//! The result depends on the input only through integer bins, so TensorFlow's gradient is
//! zero; the output is a new, untracked tensor.

use candle_core::{Device, Tensor};
use keras_import::ClaheParams;

use crate::error::{CamError, ErrorKind, Result};

/// The 0–255 scale the histograms are taken on.
const FULL: [f32; 2] = [0.0, 255.0];
/// Bins of each histogram.
const BINS: usize = 256;
/// Most lookup-table entries (tiles × channels × 256) one image may need: 256 MiB of f32.
const MAX_TABLE: usize = 1 << 26;

/// The tiling of one image: tile size and padding on each axis.
#[derive(Debug, Clone, Copy)]
struct Tiling {
    /// Tiles along (height, width).
    grid: [usize; 2],
    /// Tile (height, width).
    tile: [usize; 2],
}

impl Tiling {
    /// The tiling of an `h` × `w` image, refused when TensorFlow's symmetric padding cannot
    /// reach whole tiles (padding wider than the image) or the tables would be too large.
    fn new(h: usize, w: usize, channels: usize, grid: [usize; 2]) -> Result<Tiling> {
        let tile = [h.div_ceil(grid[0]), w.div_ceil(grid[1])];
        let pad = [tile[0] * grid[0] - h, tile[1] * grid[1] - w];
        if pad[0] > h || pad[1] > w {
            return Err(CamError::new(
                ErrorKind::InvalidInput,
                format!(
                    "a {h}×{w} image is too small for a {}×{} tile grid (TensorFlow pads it \
                     symmetrically by {}×{}, at most its own size)",
                    grid[0], grid[1], pad[0], pad[1]
                ),
            ));
        }
        let entries = grid[0]
            .checked_mul(grid[1])
            .and_then(|t| t.checked_mul(channels))
            .and_then(|t| t.checked_mul(BINS));
        if entries.is_none_or(|e| e > MAX_TABLE) {
            return Err(CamError::new(
                ErrorKind::InvalidInput,
                format!(
                    "a {}×{} tile grid over {channels} channels needs more than {MAX_TABLE} \
                     table entries",
                    grid[0], grid[1]
                ),
            ));
        }
        Ok(Tiling { grid, tile })
    }

    /// The source row (or column) of padded position `i` on `axis` of a `len`-long side:
    /// TensorFlow's `SYMMETRIC` mirror, which repeats the edge.
    fn source(i: usize, len: usize) -> usize {
        if i < len {
            i
        } else {
            2 * len - 1 - i
        }
    }
}

/// `x` (NHWC) equalised as Keras' CLAHE layer does; a new tensor on `x`'s device.
pub(crate) fn clahe(x: &Tensor, p: &ClaheParams) -> Result<Tensor> {
    let (n, h, w, c) = x.dims4()?;
    let tiling = Tiling::new(h, w, c, p.tile_grid)?;
    let data = x
        .detach()
        .to_device(&Device::Cpu)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let image = h * w * c;
    let mut out = Vec::with_capacity(data.len());
    for one in data.chunks_exact(image).take(n) {
        let scaled = rescale(one, p.value_range, FULL);
        let tables = lookup_tables(&scaled, [h, w, c], tiling, p.clip_limit);
        let equalised = interpolate(&scaled, [h, w, c], tiling, &tables);
        out.extend(rescale(&equalised, FULL, p.value_range));
    }
    Ok(Tensor::from_vec(out, (n, h, w, c), &Device::Cpu)?.to_device(x.device())?)
}

/// `values` mapped linearly from `from` to `to` in Keras' order of operations, or unchanged
/// when the ranges are equal (`_transform_value_range`).
fn rescale(values: &[f32], from: [f32; 2], to: [f32; 2]) -> Vec<f32> {
    if from == to {
        return values.to_vec();
    }
    values
        .iter()
        .map(|&v| (v - from[0]) / (from[1] - from[0]) * (to[1] - to[0]) + to[0])
        .collect()
}

/// The histogram bin of a value: truncated toward zero, clipped to 0–255.
fn bin(v: f32) -> usize {
    // `as` saturates (NaN becomes 0), as the clip that follows TensorFlow's cast does.
    (v as i32).clamp(0, BINS as i32 - 1) as usize
}

/// Every tile's lookup table, `[tile_y][tile_x][channel][bin]` flattened, over the image
/// padded symmetrically to whole tiles.
fn lookup_tables(image: &[f32], [h, w, c]: [usize; 3], t: Tiling, clip_limit: f64) -> Vec<f32> {
    let [th, tw] = t.tile;
    let pixels = th * tw;
    let mut tables = vec![0f32; t.grid[0] * t.grid[1] * c * BINS];
    for (index, table) in tables.chunks_exact_mut(BINS).enumerate() {
        let channel = index % c;
        let tile_x = (index / c) % t.grid[1];
        let tile_y = index / c / t.grid[1];
        let mut hist = [0f32; BINS];
        for y in tile_y * th..(tile_y + 1) * th {
            let row = Tiling::source(y, h) * w;
            for x in tile_x * tw..(tile_x + 1) * tw {
                hist[bin(image[(row + Tiling::source(x, w)) * c + channel])] += 1.0;
            }
        }
        equalise(&mut hist, pixels, clip_limit);
        table.copy_from_slice(&hist);
    }
    tables
}

/// Turns a histogram of `pixels` values into its lookup table, in place: clipping and
/// redistribution, cumulative sum, normalisation, as Keras in float32.
fn equalise(hist: &mut [f32; BINS], pixels: usize, clip_limit: f64) {
    if clip_limit > 0.0 {
        // Keras computes the limit in Python floats, then casts it to float32.
        let limit = (clip_limit * pixels as f64 / 256.0) as f32;
        let mut excess = 0f32;
        for v in hist.iter_mut() {
            let clipped = v.clamp(0.0, limit);
            excess += *v - clipped;
            *v = clipped;
        }
        let redistributed = excess / 256.0;
        for v in hist.iter_mut() {
            *v += redistributed;
        }
    }
    let mut sum = 0f32;
    for v in hist.iter_mut() {
        sum += *v;
        *v = sum;
    }
    let low = hist.iter().copied().fold(f32::INFINITY, f32::min);
    let mut denominator = pixels as f32 - low;
    if denominator == 0.0 {
        denominator = 1.0;
    }
    for v in hist.iter_mut() {
        *v = ((*v - low) * 255.0 / denominator).clamp(0.0, 255.0);
    }
}

/// The position of pixel `i` between tile centres on one axis: the index of the tile before
/// it in the edge-padded grid (0 and `grid + 1` repeat the edge tiles), and its weight.
fn tile_coordinate(i: usize, tile: usize, grid: usize) -> ([usize; 2], f32) {
    let g = (i as f32 - tile as f32 / 2.0) / tile as f32 + 1.0;
    let lower = g.floor();
    let weight = g - lower;
    // Padded index k holds tile k − 1, clamped to the grid.
    let tile_of = |k: f32| (k.clamp(0.0, (grid + 1) as f32) as usize).clamp(1, grid) - 1;
    ([tile_of(lower), tile_of(lower + 1.0)], weight)
}

/// Each pixel's value looked up in the tables of its four nearest tiles, blended bilinearly.
fn interpolate(image: &[f32], [h, w, c]: [usize; 3], t: Tiling, tables: &[f32]) -> Vec<f32> {
    let table = |ty: usize, tx: usize, channel: usize, v: usize| {
        tables[((ty * t.grid[1] + tx) * c + channel) * BINS + v]
    };
    let columns: Vec<_> = (0..w)
        .map(|x| tile_coordinate(x, t.tile[1], t.grid[1]))
        .collect();
    let mut out = Vec::with_capacity(image.len());
    for y in 0..h {
        let ([y0, y1], wy) = tile_coordinate(y, t.tile[0], t.grid[0]);
        for (x, &([x0, x1], wx)) in columns.iter().enumerate() {
            for channel in 0..c {
                let v = bin(image[(y * w + x) * c + channel]);
                let top = table(y0, x0, channel, v) * (1.0 - wx) + table(y0, x1, channel, v) * wx;
                let bottom =
                    table(y1, x0, channel, v) * (1.0 - wx) + table(y1, x1, channel, v) * wx;
                out.push(top * (1.0 - wy) + bottom * wy);
            }
        }
    }
    out
}
