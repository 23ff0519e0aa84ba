//! Saving and loading weights as safetensors (named tensors, readable from Python), with the
//! architecture recorded in the file's metadata so that loading into another model is refused.

use crate::classifier::Classifier;
use crate::error::{ModelError, Result};
use burn::store::{ModuleSnapshot, SafetensorsStore};
use std::path::Path;

/// Metadata key holding [`Classifier::architecture`].
pub const ARCH_KEY: &str = "genrep.architecture";

/// Writes `model`'s parameters to `path` as safetensors, atomically (temp file + rename).
/// Tensor names are the module paths without enum variants (`conv1.weight`, `head.bias`), and
/// the header is written with sorted keys, so equal weights give byte-identical files.
pub fn save_weights<M: Classifier + ModuleSnapshot>(model: &M, path: &Path) -> Result<()> {
    let io = |what: String| ModelError::Io { path: path.to_path_buf(), what };
    let mut store =
        SafetensorsStore::from_bytes(None).skip_enum_variants(true).metadata(ARCH_KEY, model.architecture());
    model.save_into(&mut store).map_err(|e| io(format!("cannot serialise weights: {e}")))?;
    let bytes = store.get_bytes().map_err(|e| io(format!("cannot serialise weights: {e}")))?;
    let bytes = canonical_header(bytes).map_err(|what| io(format!("cannot serialise weights: {what}")))?;
    write_atomic(path, &bytes).map_err(|e| io(format!("cannot write: {e}")))
}

/// Rewrites a safetensors buffer's JSON header with sorted keys (padded with spaces to a
/// multiple of 8 bytes, as the format allows); the tensor data is unchanged.
fn canonical_header(bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    if bytes.len() < 8 {
        return Err("buffer shorter than the safetensors header length".into());
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().map_err(|_| "header length")?) as usize;
    let header = bytes.get(8..8 + n).ok_or("header length exceeds the buffer")?;
    // serde_json's Map is a BTreeMap (no `preserve_order`): serialising sorts every object.
    let value: serde_json::Value = serde_json::from_slice(header).map_err(|e| e.to_string())?;
    let mut text = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

/// Loads parameters from the safetensors file at `path` into `model`, after checking that the
/// file's recorded architecture is `model.architecture()` and that every weight is finite.
pub fn load_weights<M: Classifier + ModuleSnapshot>(model: &mut M, path: &Path) -> Result<()> {
    let io = |what: String| ModelError::Io { path: path.to_path_buf(), what };
    let bytes = std::fs::read(path).map_err(|e| io(format!("cannot read: {e}")))?;
    let found = read_metadata(&bytes, ARCH_KEY)
        .map_err(|what| io(format!("not a safetensors file: {what}")))?
        .unwrap_or_else(|| "an unknown architecture (no genrep metadata)".to_string());
    let expected = model.architecture();
    if found != expected {
        return Err(ModelError::Architecture { path: path.to_path_buf(), expected, found });
    }
    match first_non_finite(&bytes) {
        Ok(None) => {}
        Ok(Some((name, i, v))) => {
            return Err(io(format!(
                "tensor `{name}` element {i} is {v}: non-finite weights (training diverged, or the file was edited)"
            )))
        }
        Err(what) => return Err(io(format!("not a safetensors file: {what}"))),
    }
    let mut store = SafetensorsStore::from_bytes(Some(bytes)).skip_enum_variants(true);
    let result = model.load_from(&mut store).map_err(|e| io(format!("cannot load weights: {e}")))?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(io(format!("weights do not fit the model: {result:?}")));
    }
    Ok(())
}

/// Reads one `__metadata__` entry of a safetensors byte buffer (8-byte little-endian header
/// length, then a JSON header).
pub fn read_metadata(bytes: &[u8], key: &str) -> std::result::Result<Option<String>, String> {
    if bytes.len() < 8 {
        return Err(format!("{} bytes, shorter than the 8-byte header length", bytes.len()));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[..8]);
    let n = u64::from_le_bytes(len) as usize;
    let header = bytes.get(8..8usize.saturating_add(n)).ok_or_else(|| format!("header length {n} exceeds the file"))?;
    let json: serde_json::Value = serde_json::from_slice(header).map_err(|e| format!("header is not JSON: {e}"))?;
    Ok(json.get("__metadata__").and_then(|m| m.get(key)).and_then(|v| v.as_str()).map(String::from))
}

/// Writes `bytes` to `path` atomically: a uniquely named temporary sibling (`tempfile`) is
/// written and fsynced, renamed over `path`, and the directory is fsynced, so readers see the
/// old file or the new one, never a partial one, and a crash after the call keeps the new one.
/// The one atomic writer of the workspace (JSON, checkpoints, CSV, PNG, reports).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let mut tmp = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable (a crash right after it must not bring back the old file).
    std::fs::File::open(dir)?.sync_all()
}

/// The first non-finite value of an `F32`/`F64` tensor in a safetensors buffer, as
/// `(tensor name, element index, value)`.
pub fn first_non_finite(bytes: &[u8]) -> std::result::Result<Option<(String, usize, f64)>, String> {
    let n = u64::from_le_bytes(
        bytes.get(..8).ok_or("shorter than the 8-byte header length")?.try_into().map_err(|_| "header")?,
    ) as usize;
    let header = bytes.get(8..8usize.saturating_add(n)).ok_or_else(|| format!("header length {n} exceeds the file"))?;
    let json: serde_json::Value = serde_json::from_slice(header).map_err(|e| format!("header is not JSON: {e}"))?;
    let data = &bytes[8 + n..];
    let Some(tensors) = json.as_object() else { return Err("header is not a JSON object".into()) };
    for (name, t) in tensors.iter().filter(|(k, _)| k.as_str() != "__metadata__") {
        let dtype = t.get("dtype").and_then(|d| d.as_str()).unwrap_or("");
        let offsets = t
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .and_then(|o| Some((o.first()?.as_u64()? as usize, o.get(1)?.as_u64()? as usize)));
        let Some((a, b)) = offsets else { return Err(format!("tensor `{name}`: no data_offsets")) };
        let raw = data.get(a..b).ok_or_else(|| format!("tensor `{name}`: data_offsets {a}..{b} exceed the file"))?;
        let found = match dtype {
            "F32" => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                .enumerate()
                .find(|(_, v)| !v.is_finite()),
            "F64" => raw
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .enumerate()
                .find(|(_, v)| !v.is_finite()),
            _ => None,
        };
        if let Some((i, v)) = found {
            return Ok(Some((name.clone(), i, v)));
        }
    }
    Ok(None)
}
