//! Progress bars for long work ([`Progress`], and [`Bars`] for the library's [`Monitor`]). Where
//! there is no terminal (batch jobs, `nohup`, CI logs) indicatif hides the bar, so the same
//! updates go to the log as lines instead: notes and stages as they come, the position at most
//! once every [`HEADLESS_EVERY`], and each bar's end.

use anyhow::Context as _;
use genrep::experiments::Monitor;
use indicatif::{HumanDuration, ProgressBar, ProgressStyle};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a hidden bar logs its position.
pub const HEADLESS_EVERY: Duration = Duration::from_secs(60);

/// A progress bar with position, elapsed time, ETA and a message, that logs a line now and then
/// when it cannot be drawn.
pub struct Progress {
    bar: ProgressBar,
    /// What the bar counts, for log lines (e.g. `steps`).
    unit: &'static str,
    last_log: Mutex<Option<Instant>>,
}

impl Progress {
    /// A bar of `len` `unit`s.
    pub fn new(len: usize, unit: &'static str) -> anyhow::Result<Self> {
        let bar = ProgressBar::new(len as u64);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{bar:30}} {{pos}}/{{len}}{} [{{elapsed_precise}}<{{eta_precise}}] {{msg}}",
                spaced(unit)
            ))
            .context("progress bar template")?,
        );
        Ok(Self { bar, unit, last_log: Mutex::new(None) })
    }

    /// Whether the bar is drawn (a terminal) or only logged.
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Sets the message shown after the counts.
    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Starts over at 0 of `len`, with `message`; logs where the previous count ended if the bar
    /// is hidden.
    pub fn restart(&self, len: usize, message: String) {
        if self.bar.is_hidden() && self.bar.position() > 0 {
            tracing::info!("{}", self.line());
        }
        self.bar.reset();
        self.bar.set_length(len as u64);
        self.bar.set_message(message);
        *self.lock() = Some(Instant::now());
    }

    /// One more unit done.
    pub fn inc(&self) {
        self.bar.inc(1);
        self.log_now_and_then();
    }

    /// `done` of `total` units done.
    pub fn set_position(&self, done: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
        self.log_now_and_then();
    }

    /// Prints a line above the bar (or logs it).
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            tracing::info!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Removes the bar; logs where it ended if it was hidden.
    pub fn finish(&self) {
        if self.bar.is_hidden() && self.bar.length().is_some_and(|l| l > 0) {
            tracing::info!("{}", self.line());
        }
        self.bar.finish_and_clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.last_log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `message: pos/len unit (pct%), elapsed, ~eta left`.
    fn line(&self) -> String {
        let (pos, len) = (self.bar.position(), self.bar.length().unwrap_or(0));
        let pct = if len == 0 { 100.0 } else { 100.0 * pos as f64 / len as f64 };
        let msg = self.bar.message();
        let mut line = format!(
            "{}{pos}/{len}{} ({pct:.0}%), {} elapsed",
            if msg.is_empty() { String::new() } else { format!("{msg}: ") },
            spaced(self.unit),
            HumanDuration(self.bar.elapsed())
        );
        if pos > 0 && pos < len {
            line.push_str(&format!(", ~{} left", HumanDuration(self.bar.eta())));
        }
        line
    }

    fn log_now_and_then(&self) {
        if !self.bar.is_hidden() {
            return;
        }
        let mut last = self.lock();
        let due = match *last {
            None => {
                *last = Some(Instant::now());
                false
            }
            Some(t) => t.elapsed() >= HEADLESS_EVERY,
        };
        if due {
            *last = Some(Instant::now());
            drop(last);
            tracing::info!("{}", self.line());
        }
    }
}

/// ` unit`, or nothing for no unit.
fn spaced(unit: &str) -> String {
    if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    }
}

/// The CLI's [`Monitor`]: one [`Progress`] restarted at every stage.
pub struct Bars(pub Progress);

impl Bars {
    /// A bar whose message is the stage.
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self(Progress::new(0, "")?))
    }
}

impl Monitor for Bars {
    fn note(&self, message: &str) {
        self.0.println(message);
    }
    fn stage(&self, what: &str, total: usize) {
        if self.0.is_hidden() {
            tracing::info!("{what} ({total})");
        }
        self.0.restart(total, what.to_string());
    }
    fn tick(&self) {
        self.0.inc();
    }
    fn position(&self, done: usize, total: usize) {
        self.0.set_position(done, total);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_spaced_only_when_named() {
        assert_eq!(spaced(""), "");
        assert_eq!(spaced("steps"), " steps");
    }
}
