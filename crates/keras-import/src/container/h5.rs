//! The small slice of HDF5 this importer needs, over the pure-Rust `hdf5-reader` crate: open
//! from bytes in memory, list a group's children, read string and string-list attributes, and
//! read a numeric dataset as f32.
//!
//! Everything returned is bounded by the bytes actually present: a dataset whose declared size
//! exceeds the file is refused before anything is allocated for it.

use hdf5_reader::error::Error as H5Error;
use hdf5_reader::{group::Group, Attribute, Datatype, Hdf5File, OpenOptions};

use crate::error::{ErrorKind, ImportError, Result};

/// Largest single tensor read (2 GiB of stored values).
const MAX_TENSOR_BYTES: usize = 2 << 30;
/// How much larger than the whole file a chunked (possibly compressed) dataset may decode to.
const MAX_CHUNKED_EXPANSION: u64 = 64;

/// An HDF5 file held in memory.
pub(crate) struct H5File {
    file: Hdf5File,
    /// Byte length of the file.
    len: u64,
    /// The model file, for error messages.
    source: String,
    /// What this HDF5 file is within the model file (`model.weights.h5`), or empty when the
    /// model file itself is the HDF5 file.
    member: String,
}

/// A group of an [`H5File`] with its path.
pub(crate) struct H5Group<'f> {
    owner: &'f H5File,
    group: Group,
    path: String,
}

/// A numeric dataset converted to f32.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// How the stored numbers are encoded.
#[derive(Debug, Clone, Copy)]
enum NumberKind {
    Float,
    Signed,
    Unsigned,
}

impl H5File {
    /// Opens HDF5 `bytes`; `member` names the file inside an archive (empty when `source` is
    /// itself the HDF5 file).
    pub(crate) fn open(bytes: Vec<u8>, source: &str, member: &str) -> Result<Self> {
        let len = bytes.len() as u64;
        let options = OpenOptions::default().with_max_read_bytes(MAX_TENSOR_BYTES);
        let described = |e: H5Error| damaged(source, member, "", &e);
        let file = Hdf5File::from_vec_with_options(bytes, options).map_err(described)?;
        let superblock = file.superblock();
        let end = superblock
            .base_address
            .saturating_add(superblock.eof_address);
        let h5 = H5File {
            file,
            len,
            source: source.to_string(),
            member: member.to_string(),
        };
        if end > len {
            return Err(h5.error(
                ErrorKind::TruncatedWeights,
                format!("the HDF5 file is cut short: it declares {end} bytes but holds {len}"),
            ));
        }
        Ok(h5)
    }

    /// The root group.
    pub(crate) fn root(&self) -> Result<H5Group<'_>> {
        let group = self.file.root_group().map_err(|e| self.damaged("/", &e))?;
        Ok(H5Group {
            owner: self,
            group,
            path: String::new(),
        })
    }

    /// The group at `path` (components separated by `/`), or `None` when it does not exist.
    pub(crate) fn group(&self, path: &str) -> Result<Option<H5Group<'_>>> {
        let mut group = self.root()?;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            match group.child(part)? {
                Some(child) => group = child,
                None => return Ok(None),
            }
        }
        Ok(Some(group))
    }

    /// Reads the numeric dataset at `path` as f32 (f16, f64 and integers are converted).
    pub(crate) fn read_tensor(&self, path: &str) -> Result<Tensor> {
        let dataset = self
            .file
            .dataset(path)
            .map_err(|e| self.damaged(path, &e))?;
        let shape = dataset
            .shape()
            .iter()
            .map(|&d| usize::try_from(d).ok())
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| self.too_large(path, "a dimension exceeds the address space"))?;
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| self.too_large(path, "its element count overflows"))?;
        let (kind, size) = number_kind(dataset.dtype()).ok_or_else(|| {
            self.error(
                ErrorKind::UnsupportedOption,
                format!(
                    "dataset '{path}' has type {:?}, not a number",
                    dataset.dtype()
                ),
            )
        })?;
        let bytes = count
            .checked_mul(size)
            .ok_or_else(|| self.too_large(path, "its byte size overflows"))?;
        let budget = if dataset.chunks().is_some() {
            self.len.saturating_mul(MAX_CHUNKED_EXPANSION)
        } else {
            self.len
        };
        if bytes as u64 > budget {
            return Err(self.error(
                ErrorKind::TruncatedWeights,
                format!(
                    "dataset '{path}' declares shape {shape:?} ({bytes} bytes) but the file holds \
                     only {} bytes",
                    self.len
                ),
            ));
        }
        if bytes > MAX_TENSOR_BYTES {
            return Err(self.too_large(path, &format!("{bytes} bytes exceed the tensor limit")));
        }
        let raw = dataset
            .read_native_bytes()
            .map_err(|e| self.damaged(path, &e))?;
        if raw.len() != bytes {
            return Err(self.error(
                ErrorKind::TruncatedWeights,
                format!(
                    "dataset '{path}' gave {} bytes, expected {bytes}",
                    raw.len()
                ),
            ));
        }
        let data = raw
            .chunks_exact(size)
            .map(|value| decode_number(value, kind))
            .collect();
        Ok(Tensor { shape, data })
    }

    /// An error of `kind` about this file.
    pub(crate) fn error(&self, kind: ErrorKind, detail: String) -> ImportError {
        let message = if self.member.is_empty() {
            detail
        } else {
            format!("{}: {detail}", self.member)
        };
        ImportError::new(kind, &self.source, message)
    }

    /// A damaged-structure error at `path`.
    fn damaged(&self, path: &str, e: &H5Error) -> ImportError {
        damaged(&self.source, &self.member, path, e)
    }

    /// A size-limit error about the dataset at `path`.
    fn too_large(&self, path: &str, why: &str) -> ImportError {
        self.error(
            ErrorKind::TooLarge,
            format!("dataset '{path}' is too large: {why}"),
        )
    }
}

/// Maps an `hdf5-reader` failure: limits become [`ErrorKind::TooLarge`], everything else
/// [`ErrorKind::TruncatedWeights`] (the file is cut short or damaged).
fn damaged(source: &str, member: &str, path: &str, e: &H5Error) -> ImportError {
    let kind = match root_cause(e) {
        H5Error::ResourceLimit(_) => ErrorKind::TooLarge,
        _ => ErrorKind::TruncatedWeights,
    };
    let what = if member.is_empty() {
        "HDF5 file"
    } else {
        member
    };
    let at = if path.is_empty() {
        String::new()
    } else {
        format!(" at '{path}'")
    };
    ImportError::new(
        kind,
        source,
        format!("{what} is cut short or damaged{at}: {e}"),
    )
}

/// The error inside any `Context` wrappers.
fn root_cause(mut e: &H5Error) -> &H5Error {
    while let H5Error::Context { source, .. } = e {
        e = source;
    }
    e
}

/// Whether `e` says a child simply does not exist.
fn is_not_found(e: &H5Error) -> bool {
    matches!(
        root_cause(e),
        H5Error::GroupNotFound(_) | H5Error::DatasetNotFound(_)
    )
}

/// The number encoding and element size of a numeric datatype.
fn number_kind(dtype: &Datatype) -> Option<(NumberKind, usize)> {
    match dtype {
        Datatype::FloatingPoint { size, .. } if matches!(size, 2 | 4 | 8) => {
            Some((NumberKind::Float, usize::from(*size)))
        }
        Datatype::FixedPoint { size, signed, .. } if matches!(size, 1 | 2 | 4 | 8) => {
            let kind = if *signed {
                NumberKind::Signed
            } else {
                NumberKind::Unsigned
            };
            Some((kind, usize::from(*size)))
        }
        _ => None,
    }
}

/// Decodes one native-endian number of `value.len()` bytes to f32.
fn decode_number(value: &[u8], kind: NumberKind) -> f32 {
    let mut buf = [0u8; 8];
    let n = value.len().min(8);
    buf[..n].copy_from_slice(&value[..n]);
    let [b0, b1, b2, b3, ..] = buf;
    match (kind, n) {
        (NumberKind::Float, 2) => half::f16::from_ne_bytes([b0, b1]).to_f32(),
        (NumberKind::Float, 4) => f32::from_ne_bytes([b0, b1, b2, b3]),
        (NumberKind::Float, _) => f64::from_ne_bytes(buf) as f32,
        (NumberKind::Signed, 1) => f32::from(i8::from_ne_bytes([b0])),
        (NumberKind::Signed, 2) => f32::from(i16::from_ne_bytes([b0, b1])),
        (NumberKind::Signed, 4) => i32::from_ne_bytes([b0, b1, b2, b3]) as f32,
        (NumberKind::Signed, _) => i64::from_ne_bytes(buf) as f32,
        (NumberKind::Unsigned, 1) => f32::from(b0),
        (NumberKind::Unsigned, 2) => f32::from(u16::from_ne_bytes([b0, b1])),
        (NumberKind::Unsigned, 4) => u32::from_ne_bytes([b0, b1, b2, b3]) as f32,
        (NumberKind::Unsigned, _) => u64::from_ne_bytes(buf) as f32,
    }
}

impl<'f> H5Group<'f> {
    /// Path of this group from the root (empty for the root).
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The path of a child of this group.
    pub(crate) fn child_path(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.path)
        }
    }

    /// The child group `name`, or `None` when there is none.
    pub(crate) fn child(&self, name: &str) -> Result<Option<H5Group<'f>>> {
        match self.group.group(name) {
            Ok(group) => Ok(Some(H5Group {
                owner: self.owner,
                group,
                path: self.child_path(name),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.owner.damaged(&self.child_path(name), &e)),
        }
    }

    /// Names of the child datasets (in the file's listing order).
    pub(crate) fn dataset_names(&self) -> Result<Vec<String>> {
        let (_, datasets) = self
            .group
            .member_names()
            .map_err(|e| self.owner.damaged(&self.path, &e))?;
        Ok(datasets)
    }

    /// All attributes of this group, decoded once.
    pub(crate) fn attributes(&self) -> Result<Attributes<'f>> {
        let list = self
            .group
            .attributes()
            .map_err(|e| self.owner.damaged(&self.path, &e))?;
        Ok(Attributes {
            owner: self.owner,
            path: self.path.clone(),
            list,
        })
    }
}

/// The decoded attributes of one group.
pub(crate) struct Attributes<'f> {
    owner: &'f H5File,
    path: String,
    list: Vec<Attribute>,
}

impl Attributes<'_> {
    /// Whether an attribute `name` exists.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    fn find(&self, name: &str) -> Option<&Attribute> {
        self.list.iter().find(|a| a.name == name)
    }

    /// A scalar string attribute (fixed- or variable-length), or `None` when absent.
    pub(crate) fn string(&self, name: &str) -> Result<Option<String>> {
        let Some(attr) = self.find(name) else {
            return Ok(None);
        };
        let strings = self.strings_of(attr)?;
        match <[String; 1]>::try_from(strings) {
            Ok([text]) => Ok(Some(text)),
            Err(strings) => Err(self.bad(
                name,
                &format!("holds {} strings, expected one", strings.len()),
            )),
        }
    }

    /// A string-list attribute, or `None` when absent. Accepts fixed- and variable-length
    /// strings, an empty float array (how h5py stores an empty list), and the split form
    /// `<name>0`, `<name>1`, ... that Keras 2 uses for lists over 64 KiB.
    pub(crate) fn string_list(&self, name: &str) -> Result<Option<Vec<String>>> {
        if let Some(attr) = self.find(name) {
            return self.strings_of(attr).map(Some);
        }
        let mut all: Option<Vec<String>> = None;
        for part in 0.. {
            let Some(attr) = self.find(&format!("{name}{part}")) else {
                break;
            };
            all.get_or_insert_with(Vec::new)
                .extend(self.strings_of(attr)?);
        }
        Ok(all)
    }

    /// The strings of one attribute (an empty numeric array gives none).
    fn strings_of(&self, attr: &Attribute) -> Result<Vec<String>> {
        match attr.read_strings() {
            Ok(strings) => Ok(strings),
            Err(_) if attr.num_elements().is_ok_and(|n| n == 0) => Ok(Vec::new()),
            Err(_) if attr.shape.is_empty() => attr
                .read_string()
                .map(|s| vec![s])
                .map_err(|e| self.bad(&attr.name, &e.to_string())),
            Err(e) => Err(self.bad(&attr.name, &e.to_string())),
        }
    }

    /// An error about attribute `name` of this group.
    fn bad(&self, name: &str, why: &str) -> ImportError {
        let at = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        self.owner.error(
            ErrorKind::TruncatedWeights,
            format!("attribute '{name}' of '{at}' cannot be read as text: {why}"),
        )
    }
}
