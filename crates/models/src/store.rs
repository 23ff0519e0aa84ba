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
/// multiple of 8 bytes, as the format allows); the tensor data is unchanged. The `safetensors`
/// crate (and burn-store on it) keeps `__metadata__` in a `HashMap`, whose order changes from
/// process to process: this makes equal weights give byte-identical files (and equal hashes).
pub fn canonical_header(bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    let (n, _) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| e.to_string())?;
    // serde_json's Map is a BTreeMap (no `preserve_order`): serialising sorts every object.
    let value: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).map_err(|e| e.to_string())?;
    let mut text = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

/// Serialises named tensors `(name, dtype, shape, little-endian bytes)` with string metadata
/// as safetensors (the `safetensors` crate), with the canonical (sorted) header of
/// [`canonical_header`].
pub fn to_safetensors_bytes(
    tensors: &[(&str, safetensors::Dtype, Vec<usize>, &[u8])],
    metadata: &[(&str, String)],
) -> std::result::Result<Vec<u8>, String> {
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), data)
                .map(|v| (name.to_string(), v))
                .map_err(|e| format!("tensor `{name}`: {e}"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let meta = metadata.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| e.to_string())?;
    canonical_header(bytes)
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

/// Reads one `__metadata__` entry of a safetensors byte buffer.
pub fn read_metadata(bytes: &[u8], key: &str) -> std::result::Result<Option<String>, String> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())?;
    Ok(meta.metadata().as_ref().and_then(|m| m.get(key).cloned()))
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
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // tempfile creates 0600 files; results are ordinary files (0644 before the umask).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable (a crash right after it must not bring back the old file).
    std::fs::File::open(dir)?.sync_all()
}

/// The first non-finite value of an `F32`/`F64` tensor in a safetensors buffer (tensors in name
/// order), as `(tensor name, element index, value)`. The buffer is validated by the
/// `safetensors` crate (header, offsets, sizes) first.
pub fn first_non_finite(bytes: &[u8]) -> std::result::Result<Option<(String, usize, f64)>, String> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let mut tensors = file.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, view) in tensors {
        let raw = view.data();
        let found = match view.dtype() {
            safetensors::Dtype::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                .enumerate()
                .find(|(_, v)| !v.is_finite()),
            safetensors::Dtype::F64 => raw
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .enumerate()
                .find(|(_, v)| !v.is_finite()),
            _ => None,
        };
        if let Some((i, v)) = found {
            return Ok(Some((name, i, v)));
        }
    }
    Ok(None)
}
