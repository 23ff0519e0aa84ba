//! Datasets on first use, as torchvision does: a file that a loader needs and the data
//! directory lacks is downloaded, checked against its SHA-256 in `datasets/SHA256SUMS`
//! (compiled into the binary, so a mirror cannot change what is accepted), and written
//! atomically (temporary sibling, fsync, rename) under its place in the data directory.
//!
//! Where a file comes from:
//! - a mirror of the `datasets/` folder, when one is given (`--data-url`, `$GENREP_DATA_URL`):
//!   `{mirror}/{path as listed in SHA256SUMS}`;
//! - otherwise the original host, for the files genrep stores exactly as their host serves them
//!   (the four MNIST files and BERT's `vocab.txt`; their MD5s are those `datasets/fetch.sh`
//!   checks against the originals);
//! - CIFAR-10, AG News and Jigsaw are stored repackaged (per-batch gzip, a training subset),
//!   which no public host serves: they need a mirror or `datasets/fetch.sh`.
//!
//! `--offline` (`$GENREP_OFFLINE=1`) turns downloading off; a missing file is then an error
//! naming the file and the fetch script, as is an unreachable host or a checksum mismatch (the
//! partial file is deleted, nothing is left behind).

use crate::error::{DataError, Result};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// `datasets/SHA256SUMS`: `<sha256>  <path>` per line, paths relative to the data directory.
pub const CHECKSUMS: &str = include_str!("../../../datasets/SHA256SUMS");

/// Environment variable naming a mirror of the `datasets/` folder (`https://host/datasets`).
pub const MIRROR_ENV: &str = "GENREP_DATA_URL";

/// Environment variable that turns downloading off when set to `1` or `true`.
pub const OFFLINE_ENV: &str = "GENREP_OFFLINE";

/// Seconds a whole download may take before it is abandoned.
pub const DOWNLOAD_TIMEOUT_SECS: u64 = 3600;

/// The original hosts of the files genrep stores byte for byte as served.
const ORIGINAL_HOSTS: &[(&str, &str)] = &[
    ("mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    ("bert-base-uncased/vocab.txt", "https://huggingface.co/bert-base-uncased/resolve/main/vocab.txt"),
];

/// Whether and from where a [`crate::DataDir`] downloads the files it lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    /// Never download: a missing file is an error.
    Offline,
    /// Download missing files from `mirror` (a copy of the `datasets/` folder) when given, else
    /// from the original hosts where they serve genrep's bytes.
    OnFirstUse {
        /// Base URL of a mirror of the `datasets/` folder.
        mirror: Option<String>,
    },
}

impl Download {
    /// From the environment: [`OFFLINE_ENV`] and [`MIRROR_ENV`].
    pub fn from_env() -> Self {
        let offline = std::env::var(OFFLINE_ENV).map(|v| v == "1" || v == "true").unwrap_or(false);
        if offline {
            return Download::Offline;
        }
        Download::OnFirstUse { mirror: std::env::var(MIRROR_ENV).ok().filter(|v| !v.is_empty()) }
    }
}

/// What a download reports to the observer installed with [`set_observer`].
#[derive(Debug, Clone, Copy)]
pub enum DownloadEvent<'a> {
    /// A download of `file` (a path under the data directory) from `url` begins; `total` is the
    /// announced length in bytes.
    Started { file: &'a str, url: &'a str, total: Option<u64> },
    /// `done` bytes of `file` have arrived.
    Progress { file: &'a str, done: u64 },
    /// `file` was verified and written to `path`.
    Finished { file: &'a str, path: &'a Path, bytes: u64 },
}

type Observer = Box<dyn Fn(&DownloadEvent<'_>) + Send + Sync>;
static OBSERVER: OnceLock<Observer> = OnceLock::new();

/// Installs the process-wide observer of downloads (the CLI draws a progress bar with it).
/// Only the first call takes effect; returns whether this one did.
pub fn set_observer(observer: impl Fn(&DownloadEvent<'_>) + Send + Sync + 'static) -> bool {
    OBSERVER.set(Box::new(observer)).is_ok()
}

fn notify(event: DownloadEvent<'_>) {
    if let Some(o) = OBSERVER.get() {
        o(&event);
    }
}

/// The expected SHA-256 (lower-case hex) of `rel` from [`CHECKSUMS`], if it is listed.
pub fn expected_sha256(rel: &str) -> Option<&'static str> {
    CHECKSUMS.lines().find_map(|line| {
        let (sum, path) = line.split_once(char::is_whitespace)?;
        (path.trim_start_matches([' ', '*']) == rel).then_some(sum)
    })
}

/// Where `rel` (a path listed in [`CHECKSUMS`]) is downloaded from: the mirror when given,
/// else its original host when that serves genrep's bytes, else `None`.
pub fn url_for(rel: &str, mirror: Option<&str>) -> Option<String> {
    if let Some(m) = mirror {
        return Some(format!("{}/{rel}", m.trim_end_matches('/')));
    }
    ORIGINAL_HOSTS.iter().find_map(|(prefix, host)| {
        if host.ends_with('/') {
            rel.strip_prefix(prefix).map(|name| format!("{host}{name}"))
        } else {
            (rel == *prefix).then(|| host.to_string())
        }
    })
}

/// Lower-case hex of a digest.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Downloads `url` into `dir/rel`, accepting it only if its SHA-256 is `sha256`; the bytes go
/// to a temporary sibling first and are renamed into place after the check, so a failed or
/// interrupted download leaves nothing at `dir/rel`.
pub fn fetch(dir: &Path, rel: &str, url: &str, sha256: &str) -> Result<PathBuf> {
    let target = dir.join(rel);
    let parent = target.parent().unwrap_or(dir).to_path_buf();
    let fail = |what: String| DataError::Download { file: target.clone(), url: url.to_string(), what };
    std::fs::create_dir_all(&parent).map_err(|source| DataError::Io { path: parent.clone(), source })?;
    tracing::info!("downloading {rel} from {url}");
    let mut response = minreq::get(url)
        .with_timeout(DOWNLOAD_TIMEOUT_SECS)
        .send_lazy()
        .map_err(|e| fail(format!("cannot reach the host: {e}")))?;
    if response.status_code != 200 {
        return Err(fail(format!("the server answered {} {}", response.status_code, response.reason_phrase)));
    }
    let total = response.headers.get("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    notify(DownloadEvent::Started { file: rel, url, total });
    let mut tmp = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(&parent)
        .map_err(|source| DataError::Io { path: parent.clone(), source })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0u64;
    loop {
        let k = response.read(&mut buf).map_err(|e| fail(format!("the transfer broke off after {done} bytes: {e}")))?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
        tmp.write_all(&buf[..k]).map_err(|source| DataError::Io { path: tmp.path().to_path_buf(), source })?;
        done += k as u64;
        notify(DownloadEvent::Progress { file: rel, done });
    }
    if let Some(t) = total.filter(|&t| t != done) {
        return Err(fail(format!("the server announced {t} bytes and sent {done}")));
    }
    let got = hex(&hasher.finalize());
    if got != sha256 {
        return Err(DataError::Checksum { file: target.clone(), url: url.to_string(), expected: sha256.into(), got });
    }
    tmp.as_file().sync_all().map_err(|source| DataError::Io { path: tmp.path().to_path_buf(), source })?;
    tmp.persist(&target).map_err(|e| DataError::Io { path: target.clone(), source: e.error })?;
    if let Ok(d) = std::fs::File::open(&parent) {
        let _ = d.sync_all();
    }
    tracing::info!("wrote {} ({done} bytes, SHA-256 verified)", target.display());
    notify(DownloadEvent::Finished { file: rel, path: &target, bytes: done });
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_checksum_line_parses_and_mnist_comes_from_its_original_host() {
        let n = CHECKSUMS.lines().filter(|l| !l.trim().is_empty()).count();
        assert!(n >= 15, "{n} lines in SHA256SUMS");
        for line in CHECKSUMS.lines().filter(|l| !l.trim().is_empty()) {
            let (sum, path) = line.split_once(char::is_whitespace).expect("two fields");
            assert_eq!(sum.len(), 64, "{line}");
            assert_eq!(expected_sha256(path.trim()), Some(sum));
        }
        assert_eq!(
            url_for("mnist/t10k-labels-idx1-ubyte.gz", None).as_deref(),
            Some("https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz")
        );
        assert!(url_for("bert-base-uncased/vocab.txt", None).is_some());
        assert_eq!(url_for("cifar-10-batches-bin/test_batch.bin.gz", None), None);
        assert_eq!(
            url_for("cifar-10-batches-bin/test_batch.bin.gz", Some("http://m/d/")).as_deref(),
            Some("http://m/d/cifar-10-batches-bin/test_batch.bin.gz")
        );
        assert_eq!(expected_sha256("mnist/nope"), None);
    }
}
