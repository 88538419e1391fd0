//! Editing a user's config file without disturbing it: JSON (key order kept, indentation
//! detected) and TOML (`toml_edit`, comments and layout kept). A file is edited only if reading
//! and writing it back unchanged gives the same bytes; otherwise it is refused, untouched.

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} is not UTF-8 text; refusing to edit it")]
    NotText(PathBuf),
    #[error("{0} is not valid {1}: {2}; fix it or edit it by hand")]
    Parse(PathBuf, &'static str, String),
    #[error("{0} is not a JSON object at the top; refusing to edit it")]
    NotObject(PathBuf),
    #[error(
        "{0} cannot be rewritten byte-for-byte (comments, unusual spacing or escapes); refusing to edit it — add the entries by hand (`--dry-run` shows them)"
    )]
    RoundTrip(PathBuf),
    #[error("{0}: `{1}` is not {2}; refusing to edit it")]
    Shape(PathBuf, String, &'static str),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// A loaded config file.
pub enum Doc {
    Json {
        value: Map<String, Value>,
        /// `None` = written on one line.
        indent: Option<String>,
        trailing_newline: bool,
    },
    Toml(toml_edit::DocumentMut),
}

/// A file: its path, its bytes as found (`None` when missing) and the parsed document.
pub struct File {
    pub path: PathBuf,
    pub original: Option<String>,
    pub doc: Doc,
}

fn detect_indent(text: &str) -> Option<String> {
    let second = text.lines().skip(1).find(|l| !l.trim().is_empty())?;
    let ws: String = second
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    (!ws.is_empty()).then_some(ws)
}

impl File {
    /// Loads `path` (JSON or TOML by extension); a missing file is an empty document.
    pub fn load(path: &Path) -> Result<File, EditError> {
        let toml = path.extension().is_some_and(|e| e == "toml");
        let original = match std::fs::read(path) {
            Ok(b) => Some(String::from_utf8(b).map_err(|_| EditError::NotText(path.into()))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(EditError::Read(path.into(), e)),
        };
        let text = original.clone().unwrap_or_default();
        let doc = if toml {
            Doc::Toml(
                text.parse::<toml_edit::DocumentMut>()
                    .map_err(|e| EditError::Parse(path.into(), "TOML", e.to_string()))?,
            )
        } else if text.trim().is_empty() {
            Doc::Json {
                value: Map::new(),
                indent: Some("  ".into()),
                trailing_newline: true,
            }
        } else {
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| EditError::Parse(path.into(), "JSON", e.to_string()))?;
            let Value::Object(value) = v else {
                return Err(EditError::NotObject(path.into()));
            };
            Doc::Json {
                value,
                indent: if text.trim_end().contains('\n') {
                    Some(detect_indent(&text).unwrap_or_else(|| "  ".into()))
                } else {
                    None
                },
                trailing_newline: text.ends_with('\n'),
            }
        };
        let f = File {
            path: path.into(),
            original,
            doc,
        };
        if let Some(o) = &f.original
            && !o.trim().is_empty()
            && f.render() != *o
        {
            return Err(EditError::RoundTrip(path.into()));
        }
        Ok(f)
    }

    /// The document as it would be written.
    pub fn render(&self) -> String {
        match &self.doc {
            Doc::Toml(d) => d.to_string(),
            Doc::Json {
                value,
                indent,
                trailing_newline,
            } => {
                if value.is_empty()
                    && self
                        .original
                        .as_deref()
                        .is_some_and(|o| o.trim().is_empty())
                {
                    return self.original.clone().unwrap_or_default();
                }
                let v = Value::Object(value.clone());
                let mut out = match indent {
                    None => serde_json::to_string(&v).unwrap_or_default(),
                    Some(ind) => {
                        let mut buf = Vec::new();
                        let fmt = serde_json::ser::PrettyFormatter::with_indent(ind.as_bytes());
                        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
                        let _ = serde::Serialize::serialize(&v, &mut ser);
                        String::from_utf8(buf).unwrap_or_default()
                    }
                };
                if *trailing_newline {
                    out.push('\n');
                }
                out
            }
        }
    }

    /// True when writing would change the file.
    pub fn changed(&self) -> bool {
        match &self.original {
            Some(o) => self.render() != *o,
            None => match &self.doc {
                Doc::Json { value, .. } => !value.is_empty(),
                Doc::Toml(d) => !d.to_string().is_empty(),
            },
        }
    }

    /// Writes atomically (temporary file + rename), keeping the file's permissions.
    pub fn write(&self) -> Result<(), EditError> {
        let err = |e| EditError::Write(self.path.clone(), e);
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = self
            .path
            .with_file_name(format!(".{name}.difflore-{}", std::process::id()));
        std::fs::write(&tmp, self.render()).map_err(err)?;
        if let Ok(m) = std::fs::metadata(&self.path) {
            let _ = std::fs::set_permissions(&tmp, m.permissions());
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })
    }
}

/// The object at `path` under `root`, created (and recorded in `created`) where missing.
pub fn object_at<'a>(
    file: &Path,
    root: &'a mut Map<String, Value>,
    path: &[&str],
    created: &mut Vec<Vec<String>>,
) -> Result<&'a mut Map<String, Value>, EditError> {
    let mut cur = root;
    for (i, k) in path.iter().enumerate() {
        if !cur.contains_key(*k) {
            cur.insert(k.to_string(), Value::Object(Map::new()));
            created.push(path[..=i].iter().map(|s| s.to_string()).collect());
        }
        cur = match cur.get_mut(*k) {
            Some(Value::Object(m)) => m,
            _ => {
                return Err(EditError::Shape(
                    file.into(),
                    path[..=i].join("."),
                    "an object",
                ));
            }
        };
    }
    Ok(cur)
}

/// The array at `path` (the last key), created where missing.
pub fn array_at<'a>(
    file: &Path,
    root: &'a mut Map<String, Value>,
    path: &[&str],
    created: &mut Vec<Vec<String>>,
) -> Result<&'a mut Vec<Value>, EditError> {
    let (last, parents) = path.split_last().unwrap_or((&"", &[]));
    let parent = object_at(file, root, parents, created)?;
    if !parent.contains_key(*last) {
        parent.insert(last.to_string(), Value::Array(Vec::new()));
        created.push(path.iter().map(|s| s.to_string()).collect());
    }
    match parent.get_mut(*last) {
        Some(Value::Array(a)) => Ok(a),
        _ => Err(EditError::Shape(file.into(), path.join("."), "an array")),
    }
}

/// The value at `path`, if any.
pub fn get<'a>(root: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut cur = root.get(first)?;
    for k in rest {
        cur = cur.get(k)?;
    }
    Some(cur)
}

/// The object holding the last key of `path`, and that key (`None` if the way is missing).
fn parent_mut<'a, 'p>(
    root: &'a mut Map<String, Value>,
    path: &'p [String],
) -> Option<(&'a mut Map<String, Value>, &'p String)> {
    let (last, parents) = path.split_last()?;
    let mut cur = root;
    for k in parents {
        match cur.get_mut(k) {
            Some(Value::Object(m)) => cur = m,
            _ => return None,
        }
    }
    Some((cur, last))
}

/// Sets the value at `path` (its parents must exist).
pub fn set(root: &mut Map<String, Value>, path: &[String], v: Value) {
    if let Some((parent, last)) = parent_mut(root, path) {
        parent.insert(last.clone(), v);
    }
}

/// Removes the value at `path`, keeping the order of the rest.
pub fn remove(root: &mut Map<String, Value>, path: &[String]) {
    if let Some((parent, last)) = parent_mut(root, path) {
        parent.shift_remove(last);
    }
}

/// Removes the container at `path` if it is an empty object or array.
pub fn remove_if_empty(root: &mut Map<String, Value>, path: &[String]) {
    let Some((cur, last)) = parent_mut(root, path) else {
        return;
    };
    let empty = match cur.get(last) {
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    if empty {
        cur.shift_remove(last);
    }
}

/// A unified diff of a file change, for `--dry-run`.
pub fn diff(path: &Path, old: &str, new: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&name, &name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_or_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        for ok in [
            "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2\n  ]\n}\n",
            "{\n    \"x\": {}\n}",
            "{\"compact\":true}",
            "{\n\t\"tab\": \"é\"\n}\n",
        ] {
            std::fs::write(&p, ok).unwrap();
            let f = File::load(&p).unwrap();
            assert_eq!(f.render(), ok);
            assert!(!f.changed());
        }
        for bad in [
            "{\n  // comment\n  \"a\": 1\n}\n",
            "{ \"a\" : 1 }\n",
            "{\"a\":\"\\u00e9\"}",
        ] {
            std::fs::write(&p, bad).unwrap();
            assert!(
                matches!(
                    File::load(&p),
                    Err(EditError::RoundTrip(_)) | Err(EditError::Parse(..))
                ),
                "{bad}"
            );
        }
        std::fs::write(&p, "[1]").unwrap();
        assert!(matches!(File::load(&p), Err(EditError::NotObject(_))));
    }
}
