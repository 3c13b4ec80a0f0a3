//! Reading results.jsonl line by line without holding the file.
//!
//! The format's rule for interrupted runs: a line counts only when it ends in `\n`. Lines are
//! appended whole (one write per photo), so a kill can cut off only the tail of the file,
//! which then ends without `\n`; that tail is ignored by readers and cut off by `--resume`.

use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::{CliError, Result};

/// Calls `each(line, end)` for every complete line of `path` (without its `\n`), where `end`
/// is the byte offset just after the line; returns the number of complete lines.
pub fn for_each_complete_line(
    path: &Path,
    mut each: impl FnMut(&[u8], u64) -> Result<()>,
) -> Result<u64> {
    let file = std::fs::File::open(path).map_err(|e| CliError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let (mut offset, mut count) = (0u64, 0u64);
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::io(path, e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            return Ok(count);
        }
        offset += n as u64;
        count += 1;
        each(&line[..n - 1], offset)?;
    }
}

/// Parses one complete line, or names the file and line that is not a result.
pub fn parse<T: serde::de::DeserializeOwned>(path: &Path, number: u64, line: &[u8]) -> Result<T> {
    serde_json::from_slice(line).map_err(|e| {
        CliError::Usage(format!(
            "{}:{number}: not a kerascam result line ({e})",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_without_newline_is_not_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.jsonl");
        std::fs::write(&file, b"{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
        let mut seen = Vec::new();
        let n = for_each_complete_line(&file, |line, end| {
            seen.push((String::from_utf8(line.to_vec()).unwrap(), end));
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(seen[1], ("{\"a\":2}".to_string(), 16));
        let err = parse::<serde_json::Value>(&file, 7, b"{oops").unwrap_err();
        assert!(err
            .to_string()
            .contains("r.jsonl:7: not a kerascam result line"));
    }
}
