//! The fast kernels against a direct f64 evaluation of the definitions (TF padding), over
//! random shapes, strides, dilations, paddings (with and without a folded ZeroPadding2D),
//! batch sizes and both work splits.

use candle_core::{Device, Tensor};
use keras_import::Padding;
use proptest::prelude::*;

use super::geometry::Geometry;
use super::winograd::Split;
use super::*;
use crate::ops::conv::Window2d;

/// A `[K, O]` row kernel as the convolution kernel reads it.
fn rows<'a>(
    kernel: &'a Tensor,
    bias: Option<&'a Tensor>,
    kept: Option<&'a KeptTransform>,
) -> ConvWeights<'a> {
    ConvWeights {
        kernel,
        layout: KernelLayout::Rows,
        bias,
        kept,
    }
}

#[derive(Debug)]
struct Case {
    dims: (usize, usize, usize, usize),
    win: Window2d,
    /// A folded ZeroPadding2D in front of the window.
    pad: ZeroPad,
    x: Vec<f32>,
}

fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn tensor(data: &[f32], dims: &[usize]) -> Tensor {
    Tensor::from_slice(data, dims, &Device::Cpu).unwrap()
}

/// For each output pixel and kernel position, the input pixel read (None for padding).
fn reads(c: &Case) -> Vec<Vec<Option<(usize, usize, usize)>>> {
    let (n, h, w, _) = c.dims;
    let [[top, bottom], [left, right]] = c.pad;
    let ph = c.win.h.plan(h + top + bottom, c.win.padding).unwrap();
    let pw = c.win.w.plan(w + left + right, c.win.padding).unwrap();
    let mut out = Vec::new();
    for b in 0..n {
        for oh in 0..ph.out {
            for ow in 0..pw.out {
                let mut taps = Vec::new();
                for i in 0..c.win.h.kernel {
                    for j in 0..c.win.w.kernel {
                        let r = (oh * c.win.h.stride + i * c.win.h.dilation) as isize
                            - (ph.before + top) as isize;
                        let q = (ow * c.win.w.stride + j * c.win.w.dilation) as isize
                            - (pw.before + left) as isize;
                        let inside = r >= 0 && q >= 0 && (r as usize) < h && (q as usize) < w;
                        taps.push(inside.then_some((b, r as usize, q as usize)));
                    }
                }
                out.push(taps);
            }
        }
    }
    out
}

fn at(c: &Case, (b, r, q): (usize, usize, usize), ch: usize) -> f64 {
    let (_, h, w, cc) = c.dims;
    c.x[((b * h + r) * w + q) * cc + ch] as f64
}

/// The dense convolution of `c` with `kernel [kh·kw·C, out_c]` and `bias`, in f64, before
/// any activation.
fn direct_conv(c: &Case, kernel: &[f32], out_c: usize, bias: Option<&[f32]>) -> Vec<f64> {
    let cc = c.dims.3;
    let mut want = Vec::new();
    for taps in reads(c) {
        for o in 0..out_c {
            let mut acc = bias.map_or(0.0, |b| b[o] as f64);
            for (p, tap) in taps.iter().enumerate() {
                if let Some(px) = tap {
                    for ch in 0..cc {
                        acc += at(c, *px, ch) * kernel[(p * cc + ch) * out_c + o] as f64;
                    }
                }
            }
            want.push(acc);
        }
    }
    want
}

/// The depthwise convolution of `c` with `kernel [kh·kw, C]` and `bias`, then swish, in f64.
fn direct_depthwise_swish(c: &Case, kernel: &[f32], bias: &[f32]) -> Vec<f64> {
    let cc = c.dims.3;
    let mut want = Vec::new();
    for taps in reads(c) {
        for ch in 0..cc {
            let mut acc = bias[ch] as f64;
            for (p, tap) in taps.iter().enumerate() {
                if let Some(px) = tap {
                    acc += at(c, *px, ch) * kernel[p * cc + ch] as f64;
                }
            }
            want.push(acc / (1.0 + (-acc).exp()));
        }
    }
    want
}

fn close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (*g as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()),
            "{what}: value {i} is {g}, expected {w}"
        );
    }
}

/// `relu6(sum + residual)` value by value (`relu6(sum)` without a residual).
fn relu6_of_sum(sum: Vec<f64>, residual: Option<&[f32]>) -> Vec<f64> {
    match residual {
        Some(r) => sum
            .iter()
            .zip(r)
            .map(|(v, r)| relu6(v + *r as f64))
            .collect(),
        None => sum.into_iter().map(relu6).collect(),
    }
}

fn relu6(v: f64) -> f64 {
    v.clamp(0.0, 6.0)
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        (1usize..3, 1usize..12, 1usize..12, 1usize..6),
        (
            1usize..4,
            1usize..4,
            1usize..3,
            1usize..3,
            1usize..3,
            1usize..3,
        ),
        any::<bool>(),
        any::<u64>(),
        prop::array::uniform4(0usize..3),
    )
        .prop_filter_map(
            "window larger than a valid input",
            |(dims, k, same, seed, p)| {
                let (n, h, w, c) = dims;
                let (kh, kw, sh, sw, dh, dw) = k;
                let padding = if same { Padding::Same } else { Padding::Valid };
                let win = Window2d::new([kh, kw], [sh, sw], [dh, dw], padding);
                win.h.plan(h + p[0] + p[1], padding).ok()?;
                win.w.plan(w + p[2] + p[3], padding).ok()?;
                let x = values(n * h * w * c, seed);
                Some(Case {
                    dims: (n, h, w, c),
                    win,
                    pad: [[p[0], p[1]], [p[2], p[3]]],
                    x,
                })
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Dense convolution with bias, an optional residual sum and ReLU6, in both work splits
    /// (few and many output rows).
    #[test]
    fn conv2d_matches_the_definition(c in case_strategy(), out_c in 1usize..40, seed in any::<u64>(), with_bias in any::<bool>(), with_residual in any::<bool>()) {
        let (n, h, w, cc) = c.dims;
        let k = c.win.positions() * cc;
        let kernel = values(k * out_c, seed);
        let bias = values(out_c, seed ^ 5);
        let x = tensor(&c.x, &[n, h, w, cc]);
        let kt = tensor(&kernel, &[k, out_c]);
        let bt = tensor(&bias, &[out_c]);
        let sum = direct_conv(&c, &kernel, out_c, with_bias.then_some(bias.as_slice()));
        let residual = values(sum.len(), seed ^ 7);
        let g = Geometry::new(c.dims, &c.win, c.pad).unwrap();
        let rt = tensor(&residual, &[n, g.rows.out, g.cols.out, out_c]);
        let y = conv2d(&x, rows(&kt, with_bias.then_some(&bt), None), &c.win, c.pad, Finish { residual: with_residual.then_some(&rt), epilogue: Epilogue::Clip { lo: 0.0, hi: 6.0 } })
            .unwrap()
            .expect("eligible");
        let want = relu6_of_sum(sum, with_residual.then_some(residual.as_slice()));
        close(&y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), &want, "conv2d");
    }

    /// Depthwise convolution with bias and swish.
    #[test]
    fn depthwise_matches_the_definition(c in case_strategy(), seed in any::<u64>()) {
        let (n, h, w, cc) = c.dims;
        let kernel = values(c.win.positions() * cc, seed);
        let bias = values(cc, seed ^ 3);
        let y = depthwise_conv2d(
            &tensor(&c.x, &[n, h, w, cc]),
            DepthwiseWeights {
                kernel: &tensor(&kernel, &[c.win.positions(), cc]),
                bias: Some(&tensor(&bias, &[cc])),
            },
            &c.win,
            c.pad,
            Epilogue::Swish,
        )
        .unwrap()
        .expect("eligible");
        let want = direct_depthwise_swish(&c, &kernel, &bias);
        close(&y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), &want, "depthwise");
    }

    /// Max pooling (padding never wins).
    #[test]
    fn max_pool_matches_the_definition(c in case_strategy()) {
        let c = Case { pad: NO_PAD, ..c };
        prop_assume!(c.win.h.plan(c.dims.1, c.win.padding).is_ok() && c.win.w.plan(c.dims.2, c.win.padding).is_ok());
        let (n, h, w, cc) = c.dims;
        let y = max_pool(&tensor(&c.x, &[n, h, w, cc]), &c.win).unwrap().expect("eligible");
        let mut want = Vec::new();
        for taps in reads(&c) {
            for ch in 0..cc {
                let m = taps.iter().flatten().map(|&px| at(&c, px, ch)).fold(f64::MIN, f64::max);
                want.push(if m == f64::MIN { f32::MIN as f64 } else { m });
            }
        }
        close(&y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), &want, "max_pool");
    }

    /// Zero padding.
    #[test]
    fn zero_pad_matches_the_definition(c in case_strategy()) {
        let (n, h, w, cc) = c.dims;
        let [[t, b], [l, r]] = c.pad;
        let y = zero_pad(&tensor(&c.x, &[n, h, w, cc]), [[t, b], [l, r]]).unwrap().expect("eligible");
        let (ho, wo) = (h + t + b, w + l + r);
        let mut want = Vec::new();
        for bi in 0..n {
            for i in 0..ho {
                for j in 0..wo {
                    for ch in 0..cc {
                        let inside = i >= t && i < t + h && j >= l && j < l + w;
                        want.push(if inside { at(&c, (bi, i - t, j - l), ch) } else { 0.0 });
                    }
                }
            }
        }
        close(&y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), &want, "zero_pad");
    }
}

#[test]
fn many_rows_take_the_row_split_and_still_match() {
    // 1×40×40 output pixels = 1600 rows: several 256-row tiles; with a residual sum.
    let c = Case {
        dims: (1, 40, 40, 3),
        win: Window2d::new([3, 3], [1, 1], [1, 1], Padding::Same),
        pad: NO_PAD,
        x: values(40 * 40 * 3, 9),
    };
    let out_c = 5;
    let kernel = values(27 * out_c, 11);
    let residual = values(40 * 40 * out_c, 12);
    let y = conv2d(
        &tensor(&c.x, &[1, 40, 40, 3]),
        rows(&tensor(&kernel, &[27, out_c]), None, None),
        &c.win,
        NO_PAD,
        Finish {
            residual: Some(&tensor(&residual, &[1, 40, 40, out_c])),
            epilogue: Epilogue::Linear,
        },
    )
    .unwrap()
    .expect("eligible");
    let want: Vec<f64> = direct_conv(&c, &kernel, out_c, None)
        .into_iter()
        .zip(&residual)
        .map(|(v, r)| v + *r as f64)
        .collect();
    close(
        &y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        &want,
        "row split",
    );
}

#[test]
fn tracked_or_non_cpu_inputs_are_left_to_the_generic_path() {
    let x = candle_core::Var::from_tensor(&tensor(&values(16, 1), &[1, 2, 2, 4])).unwrap();
    let win = Window2d::new([1, 1], [1, 1], [1, 1], Padding::Valid);
    let k = tensor(&values(8, 2), &[4, 2]);
    let y = x.as_tensor().affine(2.0, 0.0).unwrap();
    assert!(conv2d(
        &y,
        rows(&k, None, None),
        &win,
        NO_PAD,
        Finish::with(Epilogue::Linear)
    )
    .unwrap()
    .is_none());
    let fine = tensor(&values(16, 1), &[1, 2, 2, 4]);
    let tracked_residual = y.narrow(3, 0, 2).unwrap();
    assert!(conv2d(
        &fine,
        rows(&k, None, None),
        &win,
        NO_PAD,
        Finish {
            residual: Some(&tracked_residual),
            epilogue: Epilogue::Linear
        }
    )
    .unwrap()
    .is_none());
    assert!(max_pool(&y, &win).unwrap().is_none());
    assert!(zero_pad(&y, [[1, 1], [1, 1]]).unwrap().is_none());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

    /// Residual sums of two or three tensors with ReLU, across task-chunk boundaries.
    #[test]
    fn add_matches_the_definition(len in 1usize..40_000, parts in 2usize..4, seed in any::<u64>()) {
        let data: Vec<Vec<f32>> = (0..parts).map(|i| values(len, seed ^ i as u64)).collect();
        let tensors: Vec<Tensor> = data.iter().map(|d| tensor(d, &[1, len, 1, 1])).collect();
        let y = add(&tensors, Epilogue::Clip { lo: 0.0, hi: f32::INFINITY })
            .unwrap()
            .expect("eligible");
        let want: Vec<f64> = (0..len)
            .map(|i| data.iter().map(|d| d[i] as f64).sum::<f64>().max(0.0))
            .collect();
        close(&y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), &want, "add");
    }
}

fn winograd_case() -> impl Strategy<Value = (Case, usize)> {
    (
        (1usize..3, 1usize..14, 1usize..14, 1usize..40),
        any::<bool>(),
        prop::array::uniform4(0usize..3),
        1usize..20,
        any::<u64>(),
    )
        .prop_filter_map(
            "window larger than a valid input",
            |((n, h, w, c), same, p, out_c, seed)| {
                let padding = if same { Padding::Same } else { Padding::Valid };
                let win = Window2d::new([3, 3], [1, 1], [1, 1], padding);
                win.h.plan(h + p[0] + p[1], padding).ok()?;
                win.w.plan(w + p[2] + p[3], padding).ok()?;
                let case = Case {
                    dims: (n, h, w, c),
                    win,
                    pad: [[p[0], p[1]], [p[2], p[3]]],
                    x: values(n * h * w * c, seed),
                };
                Some((case, out_c))
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// The Winograd path, forced on small shapes (partial edge tiles, every padding), with
    /// bias, an optional residual sum and ReLU6.
    #[test]
    fn winograd_matches_the_definition((c, out_c) in winograd_case(), seed in any::<u64>(), with_bias in any::<bool>(), with_residual in any::<bool>(), band in 0usize..6) {
        let (n, h, w, cc) = c.dims;
        let kernel = values(9 * cc * out_c, seed);
        let bias = values(out_c, seed ^ 5);
        let g = Geometry::new(c.dims, &c.win, c.pad).unwrap();
        let sum = direct_conv(&c, &kernel, out_c, with_bias.then_some(bias.as_slice()));
        let residual = values(sum.len(), seed ^ 7);
        let want = relu6_of_sum(sum, with_residual.then_some(residual.as_slice()));
        let mut out = vec![f32::NAN; g.out_pixels() * out_c];
        let u = winograd::transformed_kernel(&kernel, cc, out_c);
        let job = winograd::Job {
            x: &c.x,
            g: &g,
            bias: with_bias.then_some(bias.as_slice()),
            residual: with_residual.then_some(residual.as_slice()),
            out_c,
            epilogue: Epilogue::Clip { lo: 0.0, hi: 6.0 },
        };
        let split = if band == 0 { Split::Phases } else { Split::Bands(band) };
        winograd::convolve(split, &job, &u, &mut out);
        close(&out, &want, &format!("winograd ({split:?}) on {n}×{h}×{w}×{cc}"));
    }
}

/// Over 256 input channels (the width of ResNet's fourth stage) the Winograd path's worst
/// error stays within twice the direct product's (both against f64), relative to the
/// outputs' RMS.
#[test]
fn winograd_is_as_accurate_as_the_direct_product_over_wide_channels() {
    let (n, h, w, cc, out_c) = (1, 14, 14, 256, 24);
    let c = Case {
        dims: (n, h, w, cc),
        win: Window2d::new([3, 3], [1, 1], [1, 1], Padding::Same),
        pad: NO_PAD,
        x: values(n * h * w * cc, 21),
    };
    let kernel = values(9 * cc * out_c, 22);
    let want = direct_conv(&c, &kernel, out_c, None);
    let worst = |got: &[f32]| {
        got.iter()
            .zip(&want)
            .map(|(g, w)| (*g as f64 - w).abs())
            .fold(0.0, f64::max)
    };
    let g = Geometry::new(c.dims, &c.win, c.pad).unwrap();
    let mut fast = vec![f32::NAN; g.out_pixels() * out_c];
    let job = winograd::Job {
        x: &c.x,
        g: &g,
        bias: None,
        residual: None,
        out_c,
        epilogue: Epilogue::Linear,
    };
    let u = winograd::transformed_kernel(&kernel, cc, out_c);
    winograd::convolve(Split::of(&g, 2), &job, &u, &mut fast);
    let k = tensor(&kernel, &[9 * cc, out_c]);
    let x = tensor(&c.x, &[n, h, w, cc]);
    let direct = conv2d(
        &x,
        rows(&k, None, None),
        &c.win,
        NO_PAD,
        Finish::with(Epilogue::Linear),
    )
    .unwrap()
    .unwrap()
    .flatten_all()
    .unwrap()
    .to_vec1::<f32>()
    .unwrap();
    let rms = (want.iter().map(|w| w * w).sum::<f64>() / want.len() as f64).sqrt();
    let (fast, direct) = (worst(&fast) / rms, worst(&direct) / rms);
    assert!(
        fast <= 2.0 * direct.max(1e-7),
        "winograd {fast:e}, direct {direct:e}"
    );
}

/// The Winograd path follows the shape: taken with enough tiles over wide channels, not for
/// too few tiles, narrow channels or another window; split in bands only with two bands per
/// core.
#[test]
fn winograd_is_taken_by_shape() {
    let win = |k: usize, s: usize| Window2d::new([k, k], [s, s], [1, 1], Padding::Same);
    let pays = |dims, w: &Window2d, out_c| {
        winograd::pays(&Geometry::new(dims, w, NO_PAD).unwrap(), out_c, false)
    };
    assert!(pays((16, 7, 7, 512), &win(3, 1), 512));
    assert!(pays((1, 56, 56, 64), &win(3, 1), 64));
    assert!(pays((1, 28, 28, 128), &win(3, 1), 128));
    assert!(!pays((1, 14, 14, 256), &win(3, 1), 256));
    let kept = |dims, out_c| {
        winograd::pays(
            &Geometry::new(dims, &win(3, 1), NO_PAD).unwrap(),
            out_c,
            true,
        )
    };
    assert!(
        kept((1, 14, 14, 256), 256),
        "49 tiles pay with a kept transform"
    );
    assert!(!kept((1, 7, 7, 256), 256), "16 tiles do not");
    assert!(!pays((16, 56, 56, 16), &win(3, 1), 64));
    assert!(!pays((16, 56, 56, 64), &win(3, 2), 64));
    assert!(!pays((16, 56, 56, 64), &win(5, 1), 64));
    let split = |dims| Split::of(&Geometry::new(dims, &win(3, 1), NO_PAD).unwrap(), 2);
    assert_eq!(split((1, 56, 56, 64)), Split::Bands(64));
    assert_eq!(split((1, 28, 28, 128)), Split::Phases);
}

/// A layer's kept transform is computed once, at the first call, and served from then on
/// (the kernel is the layer's own, so a later kernel is not looked at); a transform too
/// large to keep is computed at every call.
#[test]
fn kept_transforms_are_computed_once_and_only_when_small() {
    let (c, o) = (8, 16);
    let (first, second) = (values(9 * c * o, 31), values(9 * c * o, 32));
    let kept = KeptTransform::default();
    let want = winograd::transformed_kernel(&first, c, o);
    assert_eq!(*kept.of(&first, c, o), want[..]);
    assert_eq!(
        *kept.of(&second, c, o),
        want[..],
        "served from the kept copy"
    );
    let (c, o) = (512, 512);
    let (first, second) = (values(9 * c * o, 33), values(9 * c * o, 34));
    let large = KeptTransform::default();
    let _ = large.of(&first, c, o);
    assert_eq!(
        *large.of(&second, c, o),
        winograd::transformed_kernel(&second, c, o)[..],
        "too large to keep: computed again"
    );
}

/// A convolution through a layer's kept transform (49 tiles: the Winograd path only because
/// the transform is kept) matches the definition at the first call and at the next.
#[test]
fn convolutions_with_a_kept_transform_match_the_definition() {
    let (n, h, w, cc, out_c) = (1, 14, 14, 64, 48);
    let c = Case {
        dims: (n, h, w, cc),
        win: Window2d::new([3, 3], [1, 1], [1, 1], Padding::Same),
        pad: NO_PAD,
        x: values(n * h * w * cc, 35),
    };
    let kernel = values(9 * cc * out_c, 36);
    let bias = values(out_c, 37);
    let want = direct_conv(&c, &kernel, out_c, Some(&bias));
    let (x, k, b) = (
        tensor(&c.x, &[n, h, w, cc]),
        tensor(&kernel, &[9 * cc, out_c]),
        tensor(&bias, &[out_c]),
    );
    let kept = KeptTransform::default();
    for call in ["first", "second"] {
        let y = conv2d(
            &x,
            rows(&k, Some(&b), Some(&kept)),
            &c.win,
            NO_PAD,
            Finish::with(Epilogue::Linear),
        )
        .unwrap()
        .expect("eligible");
        close(
            &y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            &want,
            call,
        );
    }
    let g = Geometry::new(c.dims, &c.win, NO_PAD).unwrap();
    assert!(winograd::pays(&g, out_c, true) && !winograd::pays(&g, out_c, false));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// A 1×1 expansion (bias, ReLU6) fused into the depthwise convolution that reads it
    /// (bias, swish), over every window, padding and band split, against the two layers'
    /// definitions one after the other.
    #[test]
    fn expanded_depthwise_matches_the_two_definitions(c in case_strategy(), e in 1usize..40, seed in any::<u64>(), with_bias in any::<bool>()) {
        let (n, h, w, cc) = c.dims;
        let pointwise = Case {
            dims: c.dims,
            win: Window2d::new([1, 1], [1, 1], [1, 1], Padding::Valid),
            pad: NO_PAD,
            x: c.x.clone(),
        };
        let expand_kernel = values(cc * e, seed);
        let expand_bias = values(e, seed ^ 1);
        let expanded: Vec<f32> =
            direct_conv(&pointwise, &expand_kernel, e, with_bias.then_some(expand_bias.as_slice()))
                .into_iter()
                .map(|v| relu6(v) as f32)
                .collect();
        let wide = Case { dims: (n, h, w, e), win: c.win, pad: c.pad, x: expanded };
        let kernel = values(c.win.positions() * e, seed ^ 2);
        let bias = values(e, seed ^ 3);
        let want = direct_depthwise_swish(&wide, &kernel, &bias);
        let ek = tensor(&expand_kernel, &[cc, e]);
        let eb = tensor(&expand_bias, &[e]);
        let expansion = Expansion {
            kernel: &ek,
            bias: with_bias.then_some(&eb),
            epilogue: Epilogue::Clip { lo: 0.0, hi: 6.0 },
        };
        let dk = tensor(&kernel, &[c.win.positions(), e]);
        let db = tensor(&bias, &[e]);
        let y = expanded_depthwise_conv2d(
            &tensor(&c.x, &[n, h, w, cc]),
            &expansion,
            DepthwiseWeights { kernel: &dk, bias: Some(&db) },
            &c.win,
            c.pad,
            Epilogue::Swish,
        )
        .unwrap()
        .expect("eligible");
        close(&y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), &want, "expanded depthwise");
    }
}
