//! Advisory locks on output directories, so two processes given the same `--out` cannot
//! interleave their writes.
//!
//! The lock is an OS file lock (`flock` on Unix) on `DIR/<name>.lock`: the kernel releases it when
//! the holding process exits, even by `kill -9`, so a stale lock file left by a killed process
//! never blocks anyone; it is only reported. The file holds the holder's pid, host and command
//! line, which the refusal message quotes.

use crate::error::{Result, TrainError};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
    /// What the lock file said when it was taken over from a process that is gone (a stale lock).
    pub stale: Option<String>,
}

impl DirLock {
    /// Takes the lock `name` of directory `dir` (creating both), or fails at once with an error
    /// naming the current holder.
    pub fn acquire(dir: &Path, name: &str) -> Result<Self> {
        Self::take(dir, name, false)
    }

    /// Takes the lock `name` of directory `dir`, waiting while another process holds it.
    pub fn wait(dir: &Path, name: &str) -> Result<Self> {
        Self::take(dir, name, true)
    }

    fn take(dir: &Path, name: &str, block: bool) -> Result<Self> {
        let path = dir.join(format!("{name}.lock"));
        let io = |e: std::io::Error| TrainError::io(&path, e);
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        let previous = {
            let mut s = String::new();
            let _ = file.read_to_string(&mut s);
            s.trim().to_string()
        };
        if block {
            file.lock().map_err(io)?;
        } else {
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let holder = if previous.is_empty() { "another process".to_string() } else { previous };
                    return Err(TrainError::Locked { path, holder });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        // We hold it: whoever wrote the file before is gone (or released it cleanly, which
        // empties it).
        let stale = (!previous.is_empty()).then_some(previous);
        let me = format!(
            "pid {} on {} since unix time {}: {}",
            std::process::id(),
            std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(me.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(Self { file, path, stale })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // An empty file means "released cleanly"; the OS lock goes with the descriptor.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}
