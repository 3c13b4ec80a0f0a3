//! Borrowing the f32 data of a CPU tensor, and wrapping a host buffer back into a tensor.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, DType, Device, Storage, Tensor};
use rayon::prelude::*;

use crate::error::Result;

/// Whether `x` can take a CPU fast path: an f32 tensor on the CPU that records no gradient.
pub(crate) fn eligible(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32 && !x.track_op()
}

/// Runs `f` on the contiguous f32 host data of every tensor in `tensors` (each copied to a
/// contiguous layout first when needed). `None` when one is not an f32 CPU tensor.
pub(crate) fn with_host<R>(
    tensors: &[&Tensor],
    f: impl FnOnce(&[&[f32]]) -> R,
) -> Result<Option<R>> {
    let mut held = Vec::with_capacity(tensors.len());
    for t in tensors {
        if !t.device().is_cpu() || t.dtype() != DType::F32 {
            return Ok(None);
        }
        held.push(if t.is_contiguous() {
            (*t).clone()
        } else {
            t.contiguous()?
        });
    }
    let guards: Vec<_> = held.iter().map(|t| t.storage_and_layout()).collect();
    let mut slices = Vec::with_capacity(guards.len());
    for (storage, layout) in &guards {
        let (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) =
            (&**storage, layout.contiguous_offsets())
        else {
            return Ok(None);
        };
        slices.push(&data[start..end]);
    }
    Ok(Some(f(&slices)))
}

/// Wraps `data` (no copy) as a CPU tensor of `dims`.
pub(crate) fn tensor(data: Vec<f32>, dims: &[usize]) -> Result<Tensor> {
    Ok(Tensor::from_vec(data, dims, &Device::Cpu)?)
}

/// A buffer of `len` zeros, written by all cores: freed memory is reused (see the CLI), so
/// the allocator hands back old pages that must be cleared, and one core clearing a 50 MB
/// activation leaves the others idle.
pub(crate) fn zeroed(len: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    out.par_extend(rayon::iter::repeat_n(0f32, len));
    out
}

/// A buffer of `len` values computed in parallel, `chunk` values per task: `fill(i, values)`
/// writes chunk `i`. Each task zeroes its chunk first, while the chunk's cache lines are
/// its own, so the buffer costs no separate pass over memory before it is written.
pub(crate) fn par_chunks_filled(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [f32]) + Sync,
) -> Vec<f32> {
    par_chunks_filled_with(len, chunk, || (), |_, i, part| fill(i, part))
}

/// [`par_chunks_filled`] with per-worker scratch state made by `init`.
pub(crate) fn par_chunks_filled_with<T>(
    len: usize,
    chunk: usize,
    init: impl Fn() -> T + Sync + Send,
    fill: impl Fn(&mut T, usize, &mut [f32]) + Sync,
) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each_init(init, |state, (i, part)| {
            for v in part.iter_mut() {
                v.write(0.0);
            }
            // SAFETY: every element of `part` was initialised just above, and
            // `MaybeUninit<f32>` has the layout of `f32`.
            let part = unsafe { &mut *(part as *mut [MaybeUninit<f32>] as *mut [f32]) };
            fill(state, i, part);
        });
    // SAFETY: the chunks cover `0..len` (within the capacity) and each was initialised
    // above; had a task panicked, the panic would have propagated before this line.
    unsafe { out.set_len(len) };
    out
}
