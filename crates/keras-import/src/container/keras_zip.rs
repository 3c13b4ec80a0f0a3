//! Reading the members of a `.keras` zip archive into memory, each under a hard size bound.
//!
//! The sizes in zip headers are claims: nothing is allocated from them, and every member is
//! read through [`Read::take`] so a lying header cannot inflate a member past its bound.

use std::io::{Cursor, Read};

use crate::error::{ErrorKind, ImportError, Result};

/// Name of the model description member.
pub(crate) const CONFIG_MEMBER: &str = "config.json";
/// Name of the metadata member (`keras_version`, `date_saved`).
pub(crate) const METADATA_MEMBER: &str = "metadata.json";
/// Name of the weights member (an HDF5 file).
pub(crate) const WEIGHTS_MEMBER: &str = "model.weights.h5";

/// Largest JSON member accepted (64 MiB).
const MAX_JSON_BYTES: u64 = 64 << 20;
/// Largest weights member accepted (2 GiB).
const MAX_WEIGHTS_BYTES: u64 = 2 << 30;

/// The members of a `.keras` archive this importer reads.
#[derive(Debug)]
pub(crate) struct KerasArchive {
    /// `config.json` text.
    pub config: String,
    /// `metadata.json` text, when present.
    pub metadata: Option<String>,
    /// `model.weights.h5` bytes, when present.
    pub weights: Option<Vec<u8>>,
}

impl KerasArchive {
    /// Opens the archive in `bytes` and reads its three members.
    pub(crate) fn read(bytes: &[u8], file: &str) -> Result<Self> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
            ImportError::new(
                ErrorKind::NotAZip,
                file,
                format!("the zip archive is damaged: {e}"),
            )
        })?;
        refuse_unsafe_names(&archive, file)?;
        let available = bytes.len();
        let config = read_member(&mut archive, CONFIG_MEMBER, MAX_JSON_BYTES, available)
            .map_err(|e| e.into_import_error(file, ErrorKind::BadJson))?
            .ok_or_else(|| {
                ImportError::new(
                    ErrorKind::MissingConfig,
                    file,
                    format!("the archive has no {CONFIG_MEMBER}: not a saved Keras model"),
                )
            })?;
        let config = utf8(config, CONFIG_MEMBER, file)?;
        let metadata = read_member(&mut archive, METADATA_MEMBER, MAX_JSON_BYTES, available)
            .map_err(|e| e.into_import_error(file, ErrorKind::BadJson))?
            .map(|text| utf8(text, METADATA_MEMBER, file))
            .transpose()?;
        let weights = read_member(&mut archive, WEIGHTS_MEMBER, MAX_WEIGHTS_BYTES, available)
            .map_err(|e| e.into_import_error(file, ErrorKind::TruncatedWeights))?;
        Ok(KerasArchive {
            config,
            metadata,
            weights,
        })
    }
}

/// Refuses an archive holding an entry whose name is absolute (`/x`, `\\x`, `C:x`) or has a
/// `..` component: Keras never writes one, so the file was tampered with.
fn refuse_unsafe_names(archive: &zip::ZipArchive<Cursor<&[u8]>>, file: &str) -> Result<()> {
    let unsafe_name = archive
        .file_names()
        .filter_map(|name| name.ok())
        .find(|name| is_unsafe_name(name));
    match unsafe_name {
        Some(name) => Err(ImportError::new(
            ErrorKind::UnsafeZipEntry,
            file,
            format!("the archive holds the entry {name:?}, which is absolute or climbs out of the archive: refused as tampered"),
        )),
        None => Ok(()),
    }
}

/// Whether an entry name is absolute or climbs out with a `..` component.
fn is_unsafe_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    name.starts_with(['/', '\\']) || drive || name.split(['/', '\\']).any(|part| part == "..")
}

/// Why one member could not be read.
#[derive(Debug)]
enum MemberError {
    /// The member is larger than its bound.
    TooLarge {
        /// Member name.
        member: &'static str,
        /// The bound in bytes.
        limit: u64,
    },
    /// The member's data is damaged (bad compression, CRC, cut short).
    Damaged {
        /// Member name.
        member: &'static str,
        /// What the zip reader reported.
        detail: String,
    },
}

impl MemberError {
    /// The importer error, with `damaged` as the kind for damaged data.
    fn into_import_error(self, file: &str, damaged: ErrorKind) -> ImportError {
        match self {
            MemberError::TooLarge { member, limit } => ImportError::new(
                ErrorKind::TooLarge,
                file,
                format!("{member} is larger than the {limit}-byte limit"),
            ),
            MemberError::Damaged { member, detail } => {
                ImportError::new(damaged, file, format!("{member} cannot be read: {detail}"))
            }
        }
    }
}

/// Reads one member fully, or `None` when the archive has no member of that name.
///
/// `available` (the archive's length) caps the initial allocation: the declared size is only
/// a hint, and the buffer grows with the bytes actually decompressed.
fn read_member(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    member: &'static str,
    limit: u64,
    available: usize,
) -> std::result::Result<Option<Vec<u8>>, MemberError> {
    let damaged = |detail: String| MemberError::Damaged { member, detail };
    let entry = match archive.by_name(member) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(damaged(e.to_string())),
    };
    if entry.size() > limit {
        return Err(MemberError::TooLarge { member, limit });
    }
    let hint = usize::try_from(entry.size())
        .unwrap_or(usize::MAX)
        .min(available);
    let mut data = Vec::with_capacity(hint);
    entry
        .take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| damaged(e.to_string()))?;
    if data.len() as u64 > limit {
        return Err(MemberError::TooLarge { member, limit });
    }
    Ok(Some(data))
}

/// Decodes a JSON member as UTF-8 text.
fn utf8(bytes: Vec<u8>, member: &str, file: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        ImportError::new(
            ErrorKind::BadJson,
            file,
            format!("{member} is not UTF-8 text: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::{is_unsafe_name, KerasArchive};
    use crate::error::ErrorKind;

    /// A stored (uncompressed) archive holding `names`, each with a few bytes of JSON.
    fn archive(names: &[&str]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for name in names {
            writer.start_file(*name, options).unwrap();
            writer.write_all(b"{}").unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn a_climbing_entry_is_refused_as_tampered() {
        let ok = archive(&["config.json", "assets/x.txt"]);
        assert!(KerasArchive::read(&ok, "m.keras").is_ok());
        for bad in ["../outside.txt", "/etc/passwd", "assets/../../x"] {
            let bytes = archive(&["config.json", bad]);
            let err = KerasArchive::read(&bytes, "m.keras").unwrap_err();
            assert_eq!(err.kind, ErrorKind::UnsafeZipEntry, "{bad}: {err}");
        }
    }

    #[test]
    fn absolute_and_climbing_names_are_unsafe() {
        for name in [
            "/etc/passwd",
            "\\x",
            "C:x",
            "../x",
            "a/../../x",
            "a\\..\\x",
            "..",
        ] {
            assert!(is_unsafe_name(name), "{name}");
        }
        for name in ["config.json", "assets/a..b", "a/b/", "..x", "x.."] {
            assert!(!is_unsafe_name(name), "{name}");
        }
    }
}
