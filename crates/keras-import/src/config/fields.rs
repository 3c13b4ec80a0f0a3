//! Typed reads of a layer's `config` object; every error names the file and the layer.

use serde_json::Value;

use crate::error::{ErrorKind, ImportError, Result};

/// Largest accepted dimension or size option; anything above is treated as hostile.
pub(crate) const MAX_DIM: usize = 1 << 20;

/// A layer config object together with what an error message must name.
pub(crate) struct Fields<'a> {
    file: &'a str,
    layer: &'a str,
    config: &'a Value,
}

impl<'a> Fields<'a> {
    /// Wraps `config` of the layer at `layer` (its path) in `file`.
    pub(crate) fn new(file: &'a str, layer: &'a str, config: &'a Value) -> Self {
        Fields {
            file,
            layer,
            config,
        }
    }

    /// An error of `kind` about this layer.
    pub(crate) fn error(&self, kind: ErrorKind, message: impl std::fmt::Display) -> ImportError {
        ImportError::new(
            kind,
            self.file,
            format!("layer '{}': {message}", self.layer),
        )
    }

    /// A malformed option (wrong type or missing).
    pub(crate) fn malformed(&self, key: &str, expected: &str) -> ImportError {
        self.error(
            ErrorKind::BadJson,
            format_args!("option '{key}' must be {expected}"),
        )
    }

    /// An option with a value this importer does not support.
    pub(crate) fn unsupported(&self, key: &str, value: impl std::fmt::Display) -> ImportError {
        self.error(
            ErrorKind::UnsupportedOption,
            format_args!("unsupported {key} = {value}"),
        )
    }

    /// The value of `key`, `None` when absent or null.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.config.get(key).filter(|v| !v.is_null())
    }

    /// A boolean option with a default.
    pub(crate) fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.malformed(key, "a boolean")),
        }
    }

    /// A string option with a default.
    pub(crate) fn str_or(&self, key: &str, default: &'a str) -> Result<&'a str> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_str().ok_or_else(|| self.malformed(key, "a string")),
        }
    }

    /// An optional number.
    pub(crate) fn opt_f32(&self, key: &str) -> Result<Option<f32>> {
        self.get(key)
            .map(|v| as_finite_f32(v).ok_or_else(|| self.malformed(key, "a finite number")))
            .transpose()
    }

    /// A number with a default.
    pub(crate) fn f32_or(&self, key: &str, default: f32) -> Result<f32> {
        Ok(self.opt_f32(key)?.unwrap_or(default))
    }

    /// A required positive size (filters, units, ...), at most [`MAX_DIM`].
    pub(crate) fn size(&self, key: &str) -> Result<usize> {
        let v = self
            .get(key)
            .ok_or_else(|| self.malformed(key, "present"))?;
        self.checked_size(key, v)
    }

    /// A positive size with a default.
    pub(crate) fn size_or(&self, key: &str, default: usize) -> Result<usize> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => self.checked_size(key, v),
        }
    }

    fn checked_size(&self, key: &str, v: &Value) -> Result<usize> {
        let n = v
            .as_u64()
            .filter(|&n| n > 0)
            .ok_or_else(|| self.malformed(key, "a positive integer"))?;
        match usize::try_from(n) {
            Ok(n) if n <= MAX_DIM => Ok(n),
            _ => Err(self.error(
                ErrorKind::TooLarge,
                format_args!("{key} = {n} exceeds the limit {MAX_DIM}"),
            )),
        }
    }

    /// A `(h, w)` option written as one integer or a pair; `default` when absent.
    pub(crate) fn pair_or(&self, key: &str, default: [usize; 2]) -> Result<[usize; 2]> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Array(items)) if items.len() == 2 => Ok([
                self.checked_size(key, &items[0])?,
                self.checked_size(key, &items[1])?,
            ]),
            Some(Value::Array(_)) => Err(self.malformed(key, "an integer or a pair")),
            Some(v) => {
                let n = self.checked_size(key, v)?;
                Ok([n, n])
            }
        }
    }

    /// A required `(h, w)` option.
    pub(crate) fn pair(&self, key: &str) -> Result<[usize; 2]> {
        if self.get(key).is_none() {
            return Err(self.malformed(key, "present"));
        }
        self.pair_or(key, [1, 1])
    }

    /// A padding/cropping amount: `n`, `(h, w)` or `((top, bottom), (left, right))`.
    pub(crate) fn pad_pairs(&self, key: &str, default: usize) -> Result<[[usize; 2]; 2]> {
        let amount = |v: &Value| -> Result<usize> {
            let n = v
                .as_u64()
                .ok_or_else(|| self.malformed(key, "non-negative integers"))?;
            usize::try_from(n)
                .ok()
                .filter(|&n| n <= MAX_DIM)
                .ok_or_else(|| {
                    self.error(
                        ErrorKind::TooLarge,
                        format_args!("{key} = {n} exceeds the limit {MAX_DIM}"),
                    )
                })
        };
        let side = |v: &Value| -> Result<[usize; 2]> {
            match v {
                Value::Array(p) if p.len() == 2 => Ok([amount(&p[0])?, amount(&p[1])?]),
                Value::Array(_) => Err(self.malformed(key, "pairs of integers")),
                v => {
                    let n = amount(v)?;
                    Ok([n, n])
                }
            }
        };
        match self.get(key) {
            None => Ok([[default; 2]; 2]),
            Some(Value::Array(items)) if items.len() == 2 => {
                Ok([side(&items[0])?, side(&items[1])?])
            }
            Some(Value::Array(_)) => {
                Err(self.malformed(key, "an integer, a pair or a pair of pairs"))
            }
            Some(v) => {
                let n = amount(v)?;
                Ok([[n, n], [n, n]])
            }
        }
    }

    /// One number or a list of numbers.
    pub(crate) fn f32_list(&self, key: &str) -> Result<Option<Vec<f32>>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let malformed = || self.malformed(key, "a number or a list of numbers");
        match v {
            Value::Array(items) => {
                if items.len() > MAX_DIM {
                    return Err(malformed());
                }
                items
                    .iter()
                    .map(|x| as_finite_f32(x).ok_or_else(malformed))
                    .collect::<Result<Vec<_>>>()
                    .map(Some)
            }
            v => as_finite_f32(v)
                .map(|x| Some(vec![x]))
                .ok_or_else(malformed),
        }
    }

    /// One integer or a list of integers (axes, target shapes).
    pub(crate) fn i64_list(&self, key: &str) -> Result<Option<Vec<i64>>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let malformed = || self.malformed(key, "an integer or a list of integers");
        match v {
            Value::Array(items) => {
                if items.len() > 64 {
                    return Err(malformed());
                }
                items
                    .iter()
                    .map(|x| x.as_i64().ok_or_else(malformed))
                    .collect::<Result<Vec<_>>>()
                    .map(Some)
            }
            v => v.as_i64().map(|x| Some(vec![x])).ok_or_else(malformed),
        }
    }

    /// Rejects `data_format: channels_first` (only channels_last is implemented).
    pub(crate) fn require_channels_last(&self) -> Result<()> {
        match self.str_or("data_format", "channels_last")? {
            "channels_last" => Ok(()),
            other => Err(self.unsupported("data_format", other)),
        }
    }
}

/// A finite JSON number as f32.
fn as_finite_f32(v: &Value) -> Option<f32> {
    v.as_f64().map(|x| x as f32).filter(|x| x.is_finite())
}

/// Parses a shape list with its batch axis (`[null, 224, 224, 3]`) into dims without it.
/// Returns `None` when `value` is not a list of non-negative integers or nulls.
pub(crate) fn parse_batch_shape(value: &Value) -> Option<Vec<Option<u64>>> {
    let items = value.as_array()?;
    if items.is_empty() || items.len() > 64 {
        return None;
    }
    items[1..]
        .iter()
        .map(|d| match d {
            Value::Null => Some(None),
            d => d.as_u64().map(Some),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pairs_accept_int_and_list() {
        let c = json!({"a": 3, "b": [2, 5], "c": [1, 2, 3], "d": 0});
        let f = Fields::new("f", "l", &c);
        assert_eq!(f.pair_or("a", [1, 1]).unwrap(), [3, 3]);
        assert_eq!(f.pair_or("b", [1, 1]).unwrap(), [2, 5]);
        assert_eq!(f.pair_or("missing", [7, 7]).unwrap(), [7, 7]);
        assert!(f.pair_or("c", [1, 1]).is_err());
        assert!(f.pair_or("d", [1, 1]).is_err());
    }

    #[test]
    fn padding_forms() {
        let c = json!({"i": 1, "p": [2, 3], "pp": [[1, 2], [3, 4]], "bad": [[1, 2, 3], [1, 2]]});
        let f = Fields::new("f", "l", &c);
        assert_eq!(f.pad_pairs("i", 0).unwrap(), [[1, 1], [1, 1]]);
        assert_eq!(f.pad_pairs("p", 0).unwrap(), [[2, 2], [3, 3]]);
        assert_eq!(f.pad_pairs("pp", 0).unwrap(), [[1, 2], [3, 4]]);
        assert_eq!(f.pad_pairs("none", 1).unwrap(), [[1, 1], [1, 1]]);
        assert!(f.pad_pairs("bad", 0).is_err());
    }

    #[test]
    fn sizes_are_bounded() {
        let c = json!({"huge": 1u64 << 40, "neg": -3, "ok": 64});
        let f = Fields::new("f", "l", &c);
        assert_eq!(f.size("huge").unwrap_err().kind, ErrorKind::TooLarge);
        assert_eq!(f.size("neg").unwrap_err().kind, ErrorKind::BadJson);
        assert_eq!(f.size("ok").unwrap(), 64);
    }

    #[test]
    fn channels_first_is_unsupported() {
        let c = json!({"data_format": "channels_first"});
        let err = Fields::new("f", "l", &c)
            .require_channels_last()
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnsupportedOption);
    }

    #[test]
    fn batch_shapes() {
        assert_eq!(
            parse_batch_shape(&json!([null, 224, null, 3])),
            Some(vec![Some(224), None, Some(3)])
        );
        assert_eq!(parse_batch_shape(&json!([null, -1])), None);
        assert_eq!(parse_batch_shape(&json!([])), None);
    }
}
