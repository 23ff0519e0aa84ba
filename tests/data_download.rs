//! Datasets on first use against a local HTTP server on the loopback interface (the machines
//! here have no internet): a mirror serving the real files of `$GENREP_DATA`, a corrupted
//! mirror, a missing file, an unreachable host and `--offline`; through the library and
//! through the `genrep` binary's `--data-url` and `--offline`.

use genrep::data::download::{set_observer, DownloadEvent};
use genrep::data::{mnist, DataDir, DataError, Download, Split};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn data() -> Option<PathBuf> {
    genrep::data::data_dir_from_env(Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// Serves files under `root` over HTTP/1.1 on 127.0.0.1 (one thread, connections one at a
/// time, until the process ends); `corrupt` flips one byte in the middle of every body.
/// Returns the base URL and a counter of requests served.
fn serve(root: PathBuf, corrupt: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).map(|k| k == 0).unwrap_or(true) || line == "\r\n" {
                    break;
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let path = request.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            match std::fs::read(root.join(&path)) {
                Ok(mut body) => {
                    if corrupt {
                        let mid = body.len() / 2;
                        body[mid] ^= 0x55;
                    }
                    let head =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&body);
                }
                Err(_) => {
                    let _ =
                        stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        }
    });
    (url, hits)
}

fn mirror(url: &str) -> Download {
    Download::OnFirstUse { mirror: Some(url.to_string()) }
}

fn leftovers(dir: &Path) -> Vec<String> {
    walk(dir).into_iter().filter(|p| p.contains(".download-")).collect()
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

const LABELS: &str = "mnist/t10k-labels-idx1-ubyte.gz";
const IMAGES: &str = "mnist/t10k-images-idx3-ubyte.gz";

#[test]
fn a_missing_dataset_is_downloaded_verified_and_written_where_the_loader_looks() {
    let Some(src) = data() else { return };
    let (url, hits) = serve(src.clone(), false);
    let events = Arc::new(AtomicUsize::new(0));
    let seen = events.clone();
    set_observer(move |e| {
        if matches!(e, DownloadEvent::Finished { .. }) {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::at(tmp.path()).with_download(mirror(&url));
    // The MNIST test split: both files arrive on first use and load like the originals.
    let got = mnist::load(&dir, Split::Test).unwrap();
    let want = mnist::load(&DataDir::at(&src), Split::Test).unwrap();
    assert_eq!(got.labels, want.labels);
    assert_eq!(got.pixels, want.pixels);
    for f in [LABELS, IMAGES] {
        assert_eq!(std::fs::read(tmp.path().join(f)).unwrap(), std::fs::read(src.join(f)).unwrap(), "{f}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(events.load(Ordering::SeqCst) >= 2, "the observer saw every finished download");
    assert!(leftovers(tmp.path()).is_empty(), "{:?}", leftovers(tmp.path()));
    // Second use: nothing is fetched again.
    mnist::load(&dir, Split::Test).unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[test]
fn a_corrupted_download_is_rejected_and_leaves_nothing_behind() {
    let Some(src) = data() else { return };
    let (url, _) = serve(src, true);
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::at(tmp.path()).with_download(mirror(&url));
    let err = dir.locate("mnist", LABELS, "MNIST labels").unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("t10k-labels-idx1-ubyte.gz") && msg.contains("SHA256SUMS") && msg.contains("fetch.sh"),
        "{msg}"
    );
    assert!(!tmp.path().join(LABELS).exists());
    assert!(leftovers(tmp.path()).is_empty(), "{:?}", leftovers(tmp.path()));
}

#[test]
fn offline_unreachable_and_absent_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    // --offline: the file is named, with the fetch script.
    let err = DataDir::at(tmp.path()).with_download(Download::Offline).locate("mnist", LABELS, "labels").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::NotDownloaded { .. }), "{msg}");
    assert!(msg.contains("t10k-labels-idx1-ubyte.gz") && msg.contains("offline") && msg.contains("fetch.sh"), "{msg}");
    // An unreachable host: a port that was just free.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let err = DataDir::at(tmp.path()).with_download(mirror(&url)).locate("mnist", LABELS, "labels").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::Download { .. }), "{msg}");
    assert!(msg.contains(&url) && msg.contains("fetch.sh"), "{msg}");
    // A mirror without the file: HTTP 404.
    let empty = tempfile::tempdir().unwrap();
    let (url, _) = serve(empty.path().to_path_buf(), false);
    let err = DataDir::at(tmp.path()).with_download(mirror(&url)).locate("mnist", LABELS, "labels").unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    // No mirror and no original host for genrep's CIFAR packaging.
    let err = DataDir::at(tmp.path())
        .with_download(Download::OnFirstUse { mirror: None })
        .locate("cifar10", "cifar-10-batches-bin/test_batch.bin", "a batch")
        .unwrap_err();
    assert!(err.to_string().contains("no public host"), "{err}");
    // A file not listed in SHA256SUMS is never fetched: the plain "missing file" error.
    let err = DataDir::at(tmp.path()).with_download(mirror(&url)).locate("x", "x/unlisted.bin", "x").unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err}");
    assert!(walk(tmp.path()).is_empty(), "{:?}", walk(tmp.path()));
}

/// `genrep --data-url URL`: the first command on an empty data directory downloads what it
/// needs, shows where it put it, and the task builds; `--offline` refuses with the fetch script.
#[test]
fn the_cli_downloads_on_first_use_and_refuses_offline() {
    let Some(src) = data() else { return };
    let (url, hits) = serve(src, false);
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_genrep"))
        .env_remove("GENREP_DATA")
        .env_remove("GENREP_OFFLINE")
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["--data-url", &url, "data", "task", "--task", "mnist:3-vs-8"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for f in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"] {
        assert!(err.contains(&format!("downloaded mnist/{f}")), "{err}");
        assert!(tmp.path().join("mnist").join(f).is_file(), "{f}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("11982") || stdout.contains("11,982"), "{stdout}");

    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_genrep"))
        .env_remove("GENREP_DATA")
        .arg("--data-dir")
        .arg(empty.path())
        .args(["--offline", "--data-url", &url, "data", "task", "--task", "mnist"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("mnist/train-images-idx3-ubyte.gz") && err.contains("offline") && err.contains("fetch.sh"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 4, "--offline fetched nothing");
    assert!(walk(empty.path()).is_empty());
}
