//! The progress bar of `run` and `replay`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kvflow::runtime::Metrics;

/// On stderr when it is a terminal: a bar of the input read, when its size in bytes is known
/// (a file, a data directory's logs), or else a spinner, with the events read, their rate and
/// the watermark. Nothing on a pipe.
pub struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Shows the progress of a run counting into `metrics`, over an input of `total` bytes.
    pub fn start(metrics: Arc<Metrics>, total: Option<u64>) -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        let thread = std::io::stderr().is_terminal().then(|| {
            let done = done.clone();
            std::thread::spawn(move || show_progress(&metrics, total, &done))
        });
        Progress { done, thread }
    }

    pub fn stop(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn show_progress(metrics: &Metrics, total: Option<u64>, done: &AtomicBool) {
    let (bar, template) = match total {
        Some(total) => (
            indicatif::ProgressBar::new(total),
            "{bar:30} {percent:>3}% of {total_bytes}  {msg}  {elapsed}",
        ),
        None => (
            indicatif::ProgressBar::new_spinner(),
            "{spinner} {msg}  {elapsed}",
        ),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    while !done.load(Ordering::Relaxed) {
        let events = metrics.events_in.load(Ordering::Relaxed);
        let rate = events as f64 / started.elapsed().as_secs_f64().max(1e-3);
        let watermark = metrics.watermark_ms.load(Ordering::Relaxed);
        bar.set_position(metrics.bytes_in.load(Ordering::Relaxed));
        bar.set_message(format!(
            "{events} events ({rate:.0}/s), watermark {watermark} ms"
        ));
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}
