//! Plots, as SVG (plotters' SVG backend with its built-in text layout: no system fonts):
//! `throughput.svg`, events/s against workers (median, min–max bars, and per worker), and
//! `latency.svg`, the distribution of event latency (the share of events at or below each
//! latency) for each worker count, all runs pooled.

use std::ops::Range;
use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::BenchError;
use super::report::ResultRow;
use super::run::Measurement;
use super::stats::BatchLatency;

const SIZE: (u32, u32) = (800, 500);

type Chart<'a, 'p> = ChartContext<'a, SVGBackend<'p>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws one chart into `path`: the frame, `body`'s mesh and series, then the legend.
fn draw_chart(
    path: &Path,
    title: &str,
    ranges: (Range<f64>, Range<f64>),
    legend_at: SeriesLabelPosition,
    body: impl FnOnce(&mut Chart<'_, '_>) -> Result<(), String>,
) -> Result<(), BenchError> {
    let fail = |message: String| BenchError::Plot {
        path: path.display().to_string(),
        message,
    };
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(text).map_err(fail)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(ranges.0, ranges.1)
        .map_err(text)
        .map_err(fail)?;
    body(&mut chart).map_err(fail)?;
    chart
        .configure_series_labels()
        .position(legend_at)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(text)
        .map_err(fail)?;
    root.present().map_err(text).map_err(fail)
}

fn text(error: impl std::fmt::Display) -> String {
    error.to_string()
}

/// Events/s (total and per worker) against the worker count.
pub fn throughput(path: &Path, title: &str, rows: &[ResultRow]) -> Result<(), BenchError> {
    let max_workers = rows.iter().map(|r| r.workers).max().unwrap_or(1) as f64;
    let top = rows.iter().map(|r| r.events_per_s_max).fold(1.0, f64::max) * 1.15;
    let ranges = (0.5..max_workers + 0.5, 0.0..top);
    draw_chart(
        path,
        title,
        ranges,
        SeriesLabelPosition::UpperRight,
        |chart| {
            chart
                .configure_mesh()
                .x_desc("workers")
                .y_desc("events/s")
                .x_labels(max_workers as usize * 2 + 2)
                .x_label_formatter(&|x| whole_number(*x))
                .y_label_formatter(&|v| format!("{:.2}M", v / 1e6))
                .draw()
                .map_err(text)?;
            let total: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| (r.workers as f64, r.events_per_s))
                .collect();
            let per_worker: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| (r.workers as f64, r.events_per_s_per_worker))
                .collect();
            line(chart, total.clone(), BLUE.to_rgba(), "events/s (median)")?;
            line(chart, per_worker, RED.to_rgba(), "events/s per worker")?;
            chart
                .draw_series(total.iter().map(|&p| Circle::new(p, 4, BLUE.filled())))
                .map_err(text)?;
            chart
                .draw_series(rows.iter().map(|r| {
                    let x = r.workers as f64;
                    ErrorBar::new_vertical(
                        x,
                        r.events_per_s_min,
                        r.events_per_s,
                        r.events_per_s_max,
                        BLUE,
                        8,
                    )
                }))
                .map_err(text)?;
            Ok(())
        },
    )
}

/// A labelled line series.
fn line(
    chart: &mut Chart<'_, '_>,
    points: Vec<(f64, f64)>,
    color: RGBAColor,
    label: &str,
) -> Result<(), String> {
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(2)))
        .map_err(text)?
        .label(label)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
    Ok(())
}

/// `x` as a whole number, or nothing for a fraction (worker counts are whole).
fn whole_number(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round())
    } else {
        String::new()
    }
}

/// The share of events whose latency is at most x, one line per worker count.
pub fn latency(path: &Path, title: &str, runs: &[Measurement]) -> Result<(), BenchError> {
    let mut workers: Vec<usize> = runs.iter().map(|r| r.workers).collect();
    workers.sort_unstable();
    workers.dedup();
    let curves: Vec<(usize, Vec<(f64, f64)>)> = workers
        .iter()
        .map(|&w| {
            let batches: Vec<BatchLatency> = runs
                .iter()
                .filter(|r| r.workers == w)
                .flat_map(|r| r.batches.iter().copied())
                .collect();
            (w, cumulative(batches))
        })
        .collect();
    let right = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| p.0))
        .fold(1.0, f64::max)
        * 1.05;
    let ranges = (0.0..right, 0.0..1.0);
    draw_chart(
        path,
        title,
        ranges,
        SeriesLabelPosition::LowerRight,
        |chart| {
            chart
                .configure_mesh()
                .x_desc("latency, ingestion to output time closed (ms)")
                .y_desc("share of events")
                .draw()
                .map_err(text)?;
            for (i, (w, curve)) in curves.into_iter().enumerate() {
                let label = format!("{w} worker{}", if w == 1 { "" } else { "s" });
                line(chart, curve, Palette99::pick(i).to_rgba(), &label)?;
            }
            Ok(())
        },
    )
}

/// A step curve: (latency, share of events at or below it), starting at (0, 0).
fn cumulative(mut batches: Vec<BatchLatency>) -> Vec<(f64, f64)> {
    batches.sort_by(|a, b| a.ms.total_cmp(&b.ms));
    let total: u64 = batches.iter().map(|b| b.events).sum();
    let mut points = vec![(0.0, 0.0)];
    let mut seen = 0;
    for batch in batches.iter().filter(|b| b.events > 0) {
        let before = seen as f64 / total as f64;
        seen += batch.events;
        points.push((batch.ms, before));
        points.push((batch.ms, seen as f64 / total as f64));
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_steps_up_to_one() {
        let curve = cumulative(vec![
            BatchLatency { ms: 3.0, events: 1 },
            BatchLatency { ms: 1.0, events: 3 },
            BatchLatency { ms: 2.0, events: 0 },
        ]);
        assert_eq!(
            curve,
            [(0.0, 0.0), (1.0, 0.0), (1.0, 0.75), (3.0, 0.75), (3.0, 1.0)]
        );
    }
}
