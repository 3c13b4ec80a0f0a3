//! Reading float32 `.npy` arrays (inputs and reference heatmaps of the corpus).

use std::path::Path;

/// A float32 array read from `.npy`: its shape and row-major data.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyF32 {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values in C order.
    pub data: Vec<f32>,
}

/// Reads a C-order float32 (or float64, converted) `.npy` file.
pub fn read_f32(path: &Path) -> NpyF32 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy =
        npyz::NpyFile::new(bytes.as_slice()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let data: Vec<f32> = match npy.dtype() {
        npyz::DType::Plain(t) if t.size_field() == 8 => npy
            .into_vec::<f64>()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        _ => npy
            .into_vec::<f32>()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    };
    NpyF32 { shape, data }
}
