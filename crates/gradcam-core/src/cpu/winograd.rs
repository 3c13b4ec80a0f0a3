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

use rayon::prelude::*;

use super::epilogue::Epilogue;
use super::geometry::Geometry;
use super::host::zeroed;
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

/// Fewest tiles for the Winograd path: enough bands of [`BAND_TILES`] for every core, so
/// that each band's products are long enough to pay for packing the transformed kernel.
const MIN_TILES: usize = 256;

/// Tiles per band (rounded to whole tile rows).
const BAND_TILES: usize = 64;

/// Narrowest channel counts for the Winograd path: below them the transforms, whose cost
/// grows with C + O while the products grow with C · O, do not pay.
const MIN_CHANNELS: usize = 32;

/// Whether a convolution of geometry `g` into `out_c` channels takes the Winograd path: a
/// 3×3 stride-1 undilated window over wide enough channels, with enough tiles.
pub(crate) fn pays(g: &Geometry, out_c: usize, threads: usize) -> bool {
    let w = &g.win;
    let three_by_three = [w.h, w.w]
        .iter()
        .all(|a| a.kernel == 3 && a.stride == 1 && a.dilation == 1);
    let tiles = g.n * g.rows.out.div_ceil(M) * g.cols.out.div_ceil(M);
    three_by_three
        && g.c >= MIN_CHANNELS
        && out_c >= MIN_CHANNELS
        && tiles >= MIN_TILES.max(threads * BAND_TILES * 2)
}

/// The convolution of host input `x` (geometry `g`, a 3×3 stride-1 undilated window) with
/// `kernel [3·3·C, O]` and bias, plus `residual` (of the output's shape) if any, then
/// `epilogue`, into the NHWC output `out`.
pub(crate) fn convolve(
    x: &[f32],
    g: &Geometry,
    (kernel, bias, out_c): (&[f32], Option<&[f32]>, usize),
    (residual, epilogue): (Option<&[f32]>, Epilogue),
    out: &mut [f32],
) {
    let job = Job {
        x,
        g,
        bias,
        residual,
        out_c,
        epilogue,
    };
    job.run(kernel, out);
}

/// `out[a][b] = Σᵢ Σⱼ t[a][i] · t[b][j] · src(i, j)`, where each entry is a vector of `len`
/// values and `src` gives `None` for a zero vector; `out` holds the `R·R` vectors one after
/// the other. Computed `LANES` values at a time, so that a tile's column and the
/// intermediate (`tmp`, at least `R·S` entries) stay in registers and L1. Inlined, so that
/// the constant `t` folds into the arithmetic.
#[inline(always)]
fn transform<'a, const R: usize, const S: usize>(
    t: &[[f32; S]; R],
    src: impl Fn(usize, usize) -> Option<&'a [f32]>,
    len: usize,
    tmp: &mut [[f32; LANES]],
    out: &mut [f32],
) {
    let taps: [[Option<&[f32]>; S]; S] =
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
        let padded: [[Option<[f32; LANES]>; S]; S] = taps.map(|row| {
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
fn transform_lanes<const R: usize, const S: usize>(
    t: &[[f32; S]; R],
    taps: &[[Option<&[f32]>; S]; S],
    start: usize,
    tmp: &mut [[f32; LANES]],
    mut emit: impl FnMut(usize, &[f32; LANES]),
) {
    // tmp[a][j] = Σᵢ t[a][i] · d[i][j], one input column at a time.
    for j in 0..S {
        let column: [[f32; LANES]; S] = std::array::from_fn(|i| match taps[i][j] {
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
            tmp[a * S + j] = acc;
        }
    }
    // out[a][b] = Σⱼ t[b][j] · tmp[a][j]
    for a in 0..R {
        let row = &tmp[a * S..(a + 1) * S];
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

/// One convolution: input, geometry and what is applied to the output.
struct Job<'a> {
    x: &'a [f32],
    g: &'a Geometry,
    bias: Option<&'a [f32]>,
    residual: Option<&'a [f32]>,
    out_c: usize,
    epilogue: Epilogue,
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

    /// Transforms the kernel, then computes the bands in parallel.
    fn run(&self, kernel: &[f32], out: &mut [f32]) {
        let u = self.transformed_kernel(kernel);
        let g = self.g;
        let (th, tw) = (g.rows.out.div_ceil(M), g.cols.out.div_ceil(M));
        let band_rows = BAND_TILES.div_ceil(tw).max(1);
        let mut bands = Vec::new();
        let mut rest = out;
        let mut first = 0;
        while first < g.n * th {
            let last = (first + band_rows).min(g.n * th);
            let pixels = self.first_pixel(last) - self.first_pixel(first);
            let (band, tail) = rest.split_at_mut(pixels * self.out_c);
            bands.push((first..last, band));
            rest = tail;
            first = last;
        }
        bands
            .into_par_iter()
            .for_each_init(Scratch::default, |s, (rows, band)| {
                self.band(&u, rows, tw, band, s);
            });
    }

    /// `U [C][N·N][O]`: the kernel `[3·3·C, O]` transformed, one channel per task.
    fn transformed_kernel(&self, kernel: &[f32]) -> Vec<f32> {
        let (c, o) = (self.g.c, self.out_c);
        let mut u = zeroed(c * N * N * o);
        u.par_chunks_mut(N * N * o).enumerate().for_each_init(
            || vec![[0f32; LANES]; N * 3],
            |tmp, (ch, dst)| {
                let tap = |i: usize, j: usize| {
                    let at = ((i * 3 + j) * c + ch) * o;
                    Some(&kernel[at..at + o])
                };
                transform(&KERNEL, tap, o, tmp, dst);
            },
        );
        u
    }

    /// The output of global tile rows `rows` (each `tw` tiles) into `band`.
    fn band(
        &self,
        u: &[f32],
        rows: std::ops::Range<usize>,
        tw: usize,
        band: &mut [f32],
        s: &mut Scratch,
    ) {
        let (g, c, o, p) = (self.g, self.g.c, self.out_c, N * N);
        let th = g.rows.out.div_ceil(M);
        let tiles = rows.len() * tw;
        s.v.resize(tiles * p * c, 0.0);
        s.m.resize(tiles * p * o, 0.0);
        s.y.resize(M * M * o, 0.0);
        s.tmp.resize(N * N, [0.0; LANES]);
        // Input transform of every tile of the band.
        for (t, v) in s.v.chunks_exact_mut(p * c).enumerate() {
            let r = rows.start + t / tw;
            let (b, y0, x0) = (r / th, (r % th * M) as isize, (t % tw * M) as isize);
            let (top, left) = (g.rows.before as isize, g.cols.before as isize);
            let pixel = |i: usize, j: usize| {
                let (y, x) = (y0 + i as isize - top, x0 + j as isize - left);
                ((0..g.h as isize).contains(&y) && (0..g.w as isize).contains(&x)).then(|| {
                    let at = ((b * g.h + y as usize) * g.w + x as usize) * c;
                    &self.x[at..at + c]
                })
            };
            transform(&INPUT, pixel, c, &mut s.tmp, v);
        }
        // One product per position: [tiles × C] · [C × O].
        for q in 0..p {
            matmul_strided(
                Strided::new(&mut s.m[q * o..], p * o),
                (&s.v[q * c..], p * c),
                (&u[q * o..], p * o),
                (tiles, c, o),
                false,
                1,
            );
        }
        // Output transform, bias and activation, written where the tile lies.
        let band_start = self.first_pixel(rows.start);
        for (t, mt) in s.m.chunks_exact(p * o).enumerate() {
            let r = rows.start + t / tw;
            let product = |i: usize, j: usize| Some(&mt[(i * N + j) * o..(i * N + j + 1) * o]);
            transform(&OUTPUT, product, o, &mut s.tmp, &mut s.y);
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
}
