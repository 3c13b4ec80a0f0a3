//! Winograd convolution F(2×2, 3×3) for 3×3 stride-1 dense convolutions (Lavin & Gray,
//! "Fast Algorithms for Convolutional Neural Networks", 2016).
//!
//! Each 2×2 tile of output pixels is computed from a 4×4 tile of input pixels: the input
//! tile and the kernel are transformed (`V = Bᵀ d B`, `U = G g Gᵀ`), multiplied position by
//! position — for each of the 16 positions one product `[tiles × C] · [C × O]`, so the work
//! is still matrix products — and transformed back (`Y = Aᵀ M A`). That is 16 multiplies per
//! 4 outputs instead of 36 (2.25× fewer), with rounding errors the size of the direct
//! product's. (F(4×4, 3×3) would save 4× but was measured 20× less accurate in f32 over 256
//! channels, for a gain lost in this machine's noise.) Every transform is a linear
//! combination of whole channel vectors (NHWC keeps the channels contiguous), so it
//! vectorises.
//!
//! The tiles are cut into bands of whole tile rows, each band's output a contiguous range of
//! the NHWC output; bands run in parallel, each with its transformed tiles in cache.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

use super::epilogue::Epilogue;
use super::geometry::Geometry;
use super::host::{par_chunks_filled, par_chunks_filled_with};
use super::matmul::{matmul_strided, Strided};
use super::LANES;

/// Output tile side.
const M: usize = 2;

/// Input tile side.
const N: usize = M + 2;

/// Input transform `Bᵀ` (interpolation points 0, 1, −1, ∞).
const INPUT: [[f32; N]; N] = [
    [1.0, 0.0, -1.0, 0.0],
    [0.0, 1.0, 1.0, 0.0],
    [0.0, -1.0, 1.0, 0.0],
    [0.0, 1.0, 0.0, -1.0],
];

/// Kernel transform `G`.
const KERNEL: [[f32; 3]; N] = [
    [1.0, 0.0, 0.0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0.0, 0.0, 1.0],
];

/// Output transform `Aᵀ`.
const OUTPUT: [[f32; N]; M] = [[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]];

/// Fewest tiles for the Winograd path when the transformed kernel is computed at the call:
/// below it that transform costs more than the products save (measured on ResNet50's 14×14
/// and 28×28 layers at batch 1: docs/gradcam-bench.md).
const MIN_TILES: usize = 128;

/// Fewest tiles for the Winograd path with the transformed kernel kept from an earlier call.
const MIN_TILES_KEPT: usize = 32;

/// Largest `C · O` whose transformed kernel is kept between calls (4 MB: ResNet50's fourth
/// stage, 30 MB for all its kept layers): past it the per-call transform is small next to the
/// products, and keeping it would cost more memory than it saves time.
const MAX_KEPT_PAIRS: usize = 256 * 256;

/// A convolution kernel's Winograd transform, computed at the first call that needs it and
/// kept by the layer that owns the kernel (shared by its clones, which hold the same kernel).
#[derive(Debug, Clone, Default)]
pub(crate) struct KeptTransform(Arc<OnceLock<Vec<f32>>>);

impl KeptTransform {
    /// The transform of `kernel [3·3·C, O]`: the kept one, else computed now (and kept when
    /// [`MAX_KEPT_PAIRS`] allows; a concurrent first call waits for it).
    pub fn of<'a>(&'a self, kernel: &[f32], c: usize, o: usize) -> Cow<'a, [f32]> {
        if !Self::keeps(c, o) {
            return Cow::Owned(transformed_kernel(kernel, c, o));
        }
        let kept = self.0.get_or_init(|| transformed_kernel(kernel, c, o));
        if kept.len() == c * N * N * o {
            Cow::Borrowed(kept)
        } else {
            Cow::Owned(transformed_kernel(kernel, c, o))
        }
    }

    /// Whether a transform of `C · O` values' kernel would be kept (then [`pays`] takes fewer
    /// tiles).
    pub fn keeps(c: usize, o: usize) -> bool {
        c * o <= MAX_KEPT_PAIRS
    }
}

/// Tiles per band (rounded to whole tile rows) when the tiles are cut into bands.
const BAND_TILES: usize = 64;

/// Narrowest channel counts for the Winograd path: below them the transforms, whose cost
/// grows with C + O while the products grow with C · O, do not pay.
const MIN_CHANNELS: usize = 32;

/// Whether a convolution of geometry `g` into `out_c` channels takes the Winograd path: a
/// 3×3 stride-1 undilated window over wide enough channels, with enough tiles (fewer when
/// the transformed kernel is `kept`).
pub(crate) fn pays(g: &Geometry, out_c: usize, kept: bool) -> bool {
    let w = &g.win;
    let three_by_three = [w.h, w.w]
        .iter()
        .all(|a| a.kernel == 3 && a.stride == 1 && a.dilation == 1);
    let tiles = g.n * g.rows.out.div_ceil(M) * g.cols.out.div_ceil(M);
    let min_tiles = if kept { MIN_TILES_KEPT } else { MIN_TILES };
    three_by_three && g.c >= MIN_CHANNELS && out_c >= MIN_CHANNELS && tiles >= min_tiles
}

/// How the work of one Winograd convolution is split across the cores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Split {
    /// Bands of about this many tiles (whole tile rows), each done start to end by one task:
    /// its tiles stay in cache from the input transform to the output.
    Bands(usize),
    /// Every tile's input transform, then the 16 products, then the output transform, each
    /// phase split across the cores: for too few tiles to give every core two bands.
    Phases,
}

impl Split {
    /// The split for a convolution of geometry `g` on `threads` cores.
    pub fn of(g: &Geometry, threads: usize) -> Split {
        let tiles = g.n * g.rows.out.div_ceil(M) * g.cols.out.div_ceil(M);
        if tiles >= threads * BAND_TILES * 2 {
            Split::Bands(BAND_TILES)
        } else {
            Split::Phases
        }
    }
}

/// The convolution `job` describes, with the transformed kernel `u`
/// ([`transformed_kernel`]), into the NHWC output `out`, the work split by `split`.
pub(crate) fn convolve(split: Split, job: &Job<'_>, u: &[f32], out: &mut [f32]) {
    job.run(u, split, out);
}

/// `out[a][b] = Σᵢ Σⱼ t[a][i] · t[b][j] · src(i, j)`, where each entry is a vector of `len`
/// values and `src` gives `None` for a zero vector; `out` holds the `R·R` vectors one after
/// the other. Computed `LANES` values at a time, so that a tile's column and the
/// intermediate (`tmp`, at least `R·N` entries) stay in registers and L1. Inlined, so that
/// the constant `t` folds into the arithmetic.
#[inline(always)]
fn transform<'a, const R: usize>(
    t: &[[f32; N]; R],
    src: impl Fn(usize, usize) -> Option<&'a [f32]>,
    len: usize,
    tmp: &mut [[f32; LANES]],
    out: &mut [f32],
) {
    let taps: [[Option<&[f32]>; N]; N] =
        std::array::from_fn(|i| std::array::from_fn(|j| src(i, j)));
    let full = len / LANES * LANES;
    for start in (0..full).step_by(LANES) {
        transform_lanes(t, &taps, start, tmp, |k, acc| {
            out[k * len + start..k * len + start + LANES].copy_from_slice(acc);
        });
    }
    if full < len {
        // The last few values: copied into zero-padded vectors first.
        let width = len - full;
        let padded: [[Option<[f32; LANES]>; N]; N] = taps.map(|row| {
            row.map(|tap| {
                tap.map(|v| {
                    let mut cell = [0f32; LANES];
                    cell[..width].copy_from_slice(&v[full..]);
                    cell
                })
            })
        });
        let taps = std::array::from_fn(|i| {
            std::array::from_fn(|j| padded[i][j].as_ref().map(|c| c.as_slice()))
        });
        transform_lanes(t, &taps, 0, tmp, |k, acc| {
            out[k * len + full..(k + 1) * len].copy_from_slice(&acc[..width]);
        });
    }
}

/// [`transform`] for the `LANES` values from `start` of every vector; `emit(a·R + b, out)`
/// receives each output vector.
#[inline(always)]
fn transform_lanes<const R: usize>(
    t: &[[f32; N]; R],
    taps: &[[Option<&[f32]>; N]; N],
    start: usize,
    tmp: &mut [[f32; LANES]],
    mut emit: impl FnMut(usize, &[f32; LANES]),
) {
    // tmp[a][j] = Σᵢ t[a][i] · d[i][j], one input column at a time.
    for j in 0..N {
        let column: [[f32; LANES]; N] = std::array::from_fn(|i| match taps[i][j] {
            Some(v) => v[start..start + LANES]
                .try_into()
                .expect("a LANES-long range"),
            None => [0.0; LANES],
        });
        for (a, coefs) in t.iter().enumerate() {
            let mut acc = [0f32; LANES];
            for (&coef, cell) in coefs.iter().zip(&column) {
                if coef != 0.0 {
                    for (x, v) in acc.iter_mut().zip(cell) {
                        *x += coef * v;
                    }
                }
            }
            tmp[a * N + j] = acc;
        }
    }
    // out[a][b] = Σⱼ t[b][j] · tmp[a][j]
    for a in 0..R {
        let row = &tmp[a * N..(a + 1) * N];
        for (b, coefs) in t.iter().enumerate() {
            let mut acc = [0f32; LANES];
            for (&coef, cell) in coefs.iter().zip(row) {
                if coef != 0.0 {
                    for (x, v) in acc.iter_mut().zip(cell) {
                        *x += coef * v;
                    }
                }
            }
            emit(a * R + b, &acc);
        }
    }
}

/// `U [N·N][C][O]`: `kernel [3·3·C, O]` transformed, one plane per position, so that each
/// position's product reads its `[C × O]` kernel contiguously. Plane `(a, b)` is the sum of
/// the nine kernel planes `[C × O]` weighted by `G[a][i] · G[b][j]`; one plane per task.
pub(crate) fn transformed_kernel(kernel: &[f32], c: usize, o: usize) -> Vec<f32> {
    let plane = c * o;
    par_chunks_filled(N * N * plane, plane, |q, dst| {
        let (a, b) = (q / N, q % N);
        for tap in 0..9 {
            let weight = KERNEL[a][tap / 3] * KERNEL[b][tap % 3];
            if weight != 0.0 {
                let src = &kernel[tap * plane..(tap + 1) * plane];
                for (d, &k) in dst.iter_mut().zip(src) {
                    *d += weight * k;
                }
            }
        }
    })
}

/// Tiles per `gemm` call of a position's product: `gemm` packs the kernel (its left-hand
/// side) for more than 8 × 6 right-hand columns, and a position-major kernel plane is read as
/// fast as a packed one, so calls of at most 48 tiles skip that copy.
const PRODUCT_TILES: usize = 48;

/// `m (row stride m_stride) = v (row stride v_stride) · u` for `tiles` rows of transformed
/// input `v` (`[tiles × C]`) and one kernel plane `u` (`[C × O]`), in calls of at most
/// [`PRODUCT_TILES`] rows.
fn product(
    m: &mut [f32],
    m_stride: usize,
    v: &[f32],
    v_stride: usize,
    u: &[f32],
    (tiles, c, o): (usize, usize, usize),
) {
    for first in (0..tiles).step_by(PRODUCT_TILES) {
        let rows = PRODUCT_TILES.min(tiles - first);
        matmul_strided(
            Strided::new(&mut m[first * m_stride..], m_stride),
            (&v[first * v_stride..], v_stride),
            (u, o),
            (rows, c, o),
            false,
            1,
        );
    }
}

/// One convolution: input, geometry and what is applied to the output.
/// One Winograd convolution of host data (a 3×3 stride-1 undilated window): its input and
/// how each output tile is finished.
pub(crate) struct Job<'a> {
    /// The NHWC input.
    pub x: &'a [f32],
    /// Its geometry.
    pub g: &'a Geometry,
    /// Bias `[O]`.
    pub bias: Option<&'a [f32]>,
    /// A tensor of the output's shape added before the activation.
    pub residual: Option<&'a [f32]>,
    /// Output channels.
    pub out_c: usize,
    /// The activation applied last.
    pub epilogue: Epilogue,
}

/// Per-task buffers, reused from band to band.
#[derive(Default)]
struct Scratch {
    /// Transformed input tiles `[tile][position][C]`.
    v: Vec<f32>,
    /// Position-wise products `[tile][position][O]`.
    m: Vec<f32>,
    /// One output tile `[M][M][O]`.
    y: Vec<f32>,
    /// A transform's intermediate.
    tmp: Vec<[f32; LANES]>,
}

impl Job<'_> {
    /// The output pixel where global tile row `r` (image `r / th`, tile row `r % th`) starts;
    /// for `r` one past the last row, the output's length in pixels.
    fn first_pixel(&self, r: usize) -> usize {
        let g = self.g;
        let th = g.rows.out.div_ceil(M);
        (r / th * g.rows.out + r % th * M) * g.cols.out
    }

    /// Computes the output with transformed kernel `u` as `split` says.
    fn run(&self, u: &[f32], split: Split, out: &mut [f32]) {
        match split {
            Split::Bands(tiles) => {
                let band_rows = tiles.div_ceil(self.tile_grid().1).max(1);
                self.bands(band_rows, out).into_par_iter().for_each_init(
                    Scratch::default,
                    |s, (rows, band)| {
                        self.band(u, rows, band, s);
                    },
                );
            }
            Split::Phases => self.by_phases(u, out),
        }
    }

    /// Tile rows and tile columns of one image.
    fn tile_grid(&self) -> (usize, usize) {
        (self.g.rows.out.div_ceil(M), self.g.cols.out.div_ceil(M))
    }

    /// `out` cut into bands of `band_rows` global tile rows: each band's tile rows and its
    /// (contiguous) share of the output.
    fn bands<'o>(
        &self,
        band_rows: usize,
        out: &'o mut [f32],
    ) -> Vec<(std::ops::Range<usize>, &'o mut [f32])> {
        let total = self.g.n * self.tile_grid().0;
        let mut bands = Vec::new();
        let mut rest = out;
        let mut first = 0;
        while first < total {
            let last = (first + band_rows).min(total);
            let pixels = self.first_pixel(last) - self.first_pixel(first);
            let (band, tail) = rest.split_at_mut(pixels * self.out_c);
            bands.push((first..last, band));
            rest = tail;
            first = last;
        }
        bands
    }

    /// Few tiles (late layers at batch 1): every tile's input transform, then the 16
    /// position-wise products, then the output transform, each phase split across the cores.
    fn by_phases(&self, u: &[f32], out: &mut [f32]) {
        let (g, c, o, p) = (self.g, self.g.c, self.out_c, N * N);
        let (th, tw) = self.tile_grid();
        let tiles = g.n * th * tw;
        let per_task = tiles.div_ceil(4 * super::threads()).max(1);
        let v = par_chunks_filled_with(
            tiles * p * c,
            per_task * p * c,
            || vec![[0f32; LANES]; N * N],
            |tmp, i, part| {
                for (t, v) in part.chunks_exact_mut(p * c).enumerate() {
                    self.input_tile(i * per_task + t, tw, tmp, v);
                }
            },
        );
        // Products `[position][tile][O]`, one position per task.
        let m = par_chunks_filled(p * tiles * o, tiles * o, |q, mq| {
            product(
                mq,
                o,
                &v[q * c..],
                p * c,
                &u[q * c * o..][..c * o],
                (tiles, c, o),
            );
        });
        self.bands(1, out)
            .into_par_iter()
            .for_each_init(Scratch::default, |s, (rows, band)| {
                let first = rows.start * tw;
                let product = |t: usize, q: usize| &m[(q * tiles + first + t) * o..][..o];
                self.output_tiles(rows, product, band, s);
            });
    }

    /// The input transform of global tile `t` (tile rows of `tw` tiles) into `v`
    /// (`[position][C]`).
    fn input_tile(&self, t: usize, tw: usize, tmp: &mut [[f32; LANES]], v: &mut [f32]) {
        let (g, c) = (self.g, self.g.c);
        let th = self.tile_grid().0;
        let r = t / tw;
        let (b, y0, x0) = (r / th, (r % th * M) as isize, (t % tw * M) as isize);
        let (top, left) = (g.rows.before as isize, g.cols.before as isize);
        let pixel = |i: usize, j: usize| {
            let (y, x) = (y0 + i as isize - top, x0 + j as isize - left);
            ((0..g.h as isize).contains(&y) && (0..g.w as isize).contains(&x)).then(|| {
                let at = ((b * g.h + y as usize) * g.w + x as usize) * c;
                &self.x[at..at + c]
            })
        };
        transform(&INPUT, pixel, c, tmp, v);
    }

    /// The output of global tile rows `rows` into `band`: `product(t, q)` is the product at
    /// position `q` of the band's tile `t`. Output transform, bias, residual and activation,
    /// written where each tile lies.
    fn output_tiles<'m>(
        &self,
        rows: std::ops::Range<usize>,
        product: impl Fn(usize, usize) -> &'m [f32],
        band: &mut [f32],
        s: &mut Scratch,
    ) {
        let (g, o) = (self.g, self.out_c);
        let (th, tw) = self.tile_grid();
        s.y.resize(M * M * o, 0.0);
        s.tmp.resize(N * N, [0.0; LANES]);
        let band_start = self.first_pixel(rows.start);
        for t in 0..rows.len() * tw {
            let r = rows.start + t / tw;
            transform(
                &OUTPUT,
                |i, j| Some(product(t, i * N + j)),
                o,
                &mut s.tmp,
                &mut s.y,
            );
            let (oy0, ox0) = (r % th * M, t % tw * M);
            for a in 0..M.min(g.rows.out - oy0) {
                for bx in 0..M.min(g.cols.out - ox0) {
                    let px = self.first_pixel(r) - band_start + a * g.cols.out + ox0 + bx;
                    let dst = &mut band[px * o..(px + 1) * o];
                    dst.copy_from_slice(&s.y[(a * M + bx) * o..(a * M + bx + 1) * o]);
                    let at = (band_start + px) * o;
                    let residual = self.residual.map(|res| &res[at..at + o]);
                    self.epilogue.apply_summed(dst, self.bias, residual, o);
                }
            }
        }
    }

    /// The output of global tile rows `rows` into `band`, all in this task: input transform
    /// of the band's tiles, the 16 products, then [`Job::output_tiles`].
    fn band(&self, u: &[f32], rows: std::ops::Range<usize>, band: &mut [f32], s: &mut Scratch) {
        let (c, o, p) = (self.g.c, self.out_c, N * N);
        let tw = self.tile_grid().1;
        let tiles = rows.len() * tw;
        s.v.resize(tiles * p * c, 0.0);
        s.m.resize(tiles * p * o, 0.0);
        s.tmp.resize(N * N, [0.0; LANES]);
        for (t, v) in s.v.chunks_exact_mut(p * c).enumerate() {
            self.input_tile(rows.start * tw + t, tw, &mut s.tmp, v);
        }
        // One product per position: [tiles × C] · [C × O].
        for q in 0..p {
            let u = &u[q * c * o..][..c * o];
            product(
                &mut s.m[q * o..],
                p * o,
                &s.v[q * c..],
                p * c,
                u,
                (tiles, c, o),
            );
        }
        let m = std::mem::take(&mut s.m);
        self.output_tiles(rows, |t, q| &m[(t * p + q) * o..][..o], band, s);
        s.m = m;
    }
}
