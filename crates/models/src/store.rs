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
/// file's recorded architecture is `model.architecture()`.
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

/// Writes `bytes` to `path` via a temporary sibling and a rename, so readers never see a
/// partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
