//! A progress bar that reports long library work ([`Monitor`]), and still logs notes and
//! stages line by line when there is no terminal (batch jobs, CI logs), where indicatif hides it.

use anyhow::Context as _;
use genrep::experiments::Monitor;
use indicatif::{ProgressBar, ProgressStyle};

/// The CLI's [`Monitor`].
pub struct Bars(pub ProgressBar);

impl Bars {
    /// A bar with position, elapsed time, ETA and the stage as its message.
    pub fn new() -> anyhow::Result<Self> {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
                .context("progress bar template")?,
        );
        Ok(Self(bar))
    }
}

impl Monitor for Bars {
    fn note(&self, message: &str) {
        if self.0.is_hidden() {
            tracing::info!("{message}");
        } else {
            self.0.println(message);
        }
    }
    fn stage(&self, what: &str, total: usize) {
        if self.0.is_hidden() {
            tracing::info!("{what} ({total})");
        }
        self.0.reset();
        self.0.set_length(total as u64);
        self.0.set_message(what.to_string());
    }
    fn tick(&self) {
        self.0.inc(1);
    }
    fn position(&self, done: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(done as u64);
    }
}

/// Draws a byte-counting progress bar for every dataset download of the library
/// ([`genrep::data::download`]) and says where each verified file was written.
pub fn show_downloads() {
    use genrep::data::download::{set_observer, DownloadEvent};
    use std::sync::Mutex;
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    set_observer(move |event| {
        let mut bar = bar.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match *event {
            DownloadEvent::Started { file, url, total } => {
                let b = ProgressBar::new(total.unwrap_or(0));
                if let Ok(style) = ProgressStyle::with_template(
                    "{msg} {bar:30} {bytes}/{total_bytes} [{elapsed_precise}<{eta_precise}] {bytes_per_sec}",
                ) {
                    b.set_style(style);
                }
                b.set_message(format!("downloading {file}"));
                if b.is_hidden() {
                    tracing::info!("downloading {file} from {url}");
                }
                *bar = Some(b);
            }
            DownloadEvent::Progress { done, .. } => {
                if let Some(b) = bar.as_ref() {
                    b.set_position(done);
                }
            }
            DownloadEvent::Finished { file, path, bytes } => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                eprintln!("downloaded {file} ({bytes} bytes, SHA-256 verified) to {}", path.display());
            }
        }
    });
}
