//! Writing heatmaps as NumPy `.npy` files.

use std::path::Path;

use npyz::WriterBuilder;

use crate::error::{CliError, Result};

/// Writes a row-major float32 `(height, width)` array to `path`.
pub fn write_f32_2d(path: &Path, height: usize, width: usize, data: &[f32]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| CliError::io(path, e))?;
    let mut writer = npyz::WriteOptions::<f32>::new()
        .default_dtype()
        .shape(&[height as u64, width as u64])
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .map_err(|e| CliError::io(path, e))?;
    writer
        .extend(data.iter().copied())
        .map_err(|e| CliError::io(path, e))?;
    writer.finish().map_err(|e| CliError::io(path, e))
}
