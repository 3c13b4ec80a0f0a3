//! Recognising a model file from its bytes and opening its containers: the `.keras` zip
//! archive ([`keras_zip`]) and HDF5 files ([`h5`]).

pub(crate) mod h5;
pub(crate) mod keras_zip;

use crate::error::{ErrorKind, ImportError, Result};

/// First bytes of a zip local file header.
const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";
/// First bytes of an HDF5 superblock.
const HDF5_MAGIC: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
/// The first offset after 0 where an HDF5 superblock may start (behind a user block); later
/// candidates are its powers-of-two multiples.
const HDF5_FIRST_USER_BLOCK: usize = 512;

/// The two containers a Keras model file can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    /// A zip archive (`.keras`).
    Zip,
    /// An HDF5 file (`.h5`, `.weights.h5`).
    Hdf5,
}

/// Decides the container from the bytes alone, never from the file name.
pub(crate) fn detect(bytes: &[u8], file: &str) -> Result<Container> {
    if bytes.is_empty() {
        return Err(ImportError::new(
            ErrorKind::EmptyFile,
            file,
            "the file is empty (0 bytes)",
        ));
    }
    if bytes.starts_with(ZIP_MAGIC) {
        return Ok(Container::Zip);
    }
    if hdf5_superblock_offset(bytes).is_some() {
        return Ok(Container::Hdf5);
    }
    Err(ImportError::new(
        ErrorKind::NotAZip,
        file,
        "neither a .keras zip archive nor an HDF5 file (no zip or HDF5 signature)",
    ))
}

/// Where the HDF5 signature is: offset 0, 512, 1024, 2048, ... as the HDF5 format allows.
fn hdf5_superblock_offset(bytes: &[u8]) -> Option<usize> {
    let at = |offset: usize| {
        bytes
            .get(offset..offset.checked_add(HDF5_MAGIC.len())?)
            .is_some_and(|window| window == HDF5_MAGIC)
            .then_some(offset)
    };
    if let Some(offset) = at(0) {
        return Some(offset);
    }
    let mut offset = HDF5_FIRST_USER_BLOCK;
    while offset < bytes.len() {
        if let Some(found) = at(offset) {
            return Some(found);
        }
        offset = offset.checked_mul(2)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_signature_only() {
        assert_eq!(detect(b"PK\x03\x04rest", "a.h5").ok(), Some(Container::Zip));
        assert_eq!(
            detect(b"\x89HDF\r\n\x1a\nrest", "a.keras").ok(),
            Some(Container::Hdf5)
        );
        let mut user_block = vec![0u8; 1024];
        user_block.extend_from_slice(HDF5_MAGIC);
        assert_eq!(detect(&user_block, "x").ok(), Some(Container::Hdf5));
    }

    #[test]
    fn a_signature_off_the_allowed_offsets_is_not_hdf5() {
        let mut bytes = vec![0u8; 700];
        bytes.extend_from_slice(HDF5_MAGIC);
        let err = detect(&bytes, "x.h5").err().map(|e| e.kind);
        assert_eq!(err, Some(ErrorKind::NotAZip));
    }

    #[test]
    fn empty_and_text_files_get_their_kinds() {
        assert_eq!(
            detect(b"", "e").err().map(|e| e.kind),
            Some(ErrorKind::EmptyFile)
        );
        let err = detect(b"hello", "t.keras").err();
        assert_eq!(err.as_ref().map(|e| e.kind), Some(ErrorKind::NotAZip));
        assert!(err.is_some_and(|e| e.to_string().starts_with("t.keras: ")));
    }
}
