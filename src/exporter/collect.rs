//! The run's counters as Prometheus metrics, read at each scrape.
//!
//! Names follow Prometheus conventions: a `kvflow_` prefix, the unit in the name, counters
//! ending in `_total` (the encoder appends it), a `pipeline` label on per-pipeline series.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::runtime::Metrics;
use crate::runtime::metrics::PipelineCounters;
use crate::runtime::operator_stats::{OperatorStat, OperatorStats};

/// Reads a run's [`Metrics`] at each scrape.
#[derive(Debug)]
pub(super) struct RunCollector {
    metrics: Arc<Metrics>,
    operators: Arc<OperatorStats>,
    started: Instant,
}

impl RunCollector {
    pub(super) fn new(
        metrics: Arc<Metrics>,
        operators: Arc<OperatorStats>,
        started: Instant,
    ) -> RunCollector {
        RunCollector {
            metrics,
            operators,
            started,
        }
    }
}

/// One figure of an operator.
type OperatorFigure = fn(&OperatorStat) -> f64;

/// Per operator of each worker: the time it was scheduled, the records it received, and what
/// an arrangement holds.
fn per_operator(encoder: &mut DescriptorEncoder, operators: &OperatorStats) -> Fmt {
    let all = operators.snapshot();
    let labels = |(worker, id): (usize, usize), op: &OperatorStat| {
        let mut labels = vec![
            ("operator", op.name.clone()),
            ("id", id.to_string()),
            ("worker", worker.to_string()),
        ];
        if let Some(node) = &op.node {
            labels.push(("node", node.clone()));
        }
        labels
    };
    let counters: [(&str, &str, OperatorFigure); 2] = [
        (
            "kvflow_operator_scheduled_seconds",
            "Time an operator of a worker was scheduled.",
            |op| op.scheduled.as_secs_f64(),
        ),
        (
            "kvflow_operator_records_in",
            "Records an operator of a worker received on its inputs.",
            |op| op.records_in as f64,
        ),
    ];
    for (name, help, figure) in counters {
        let kind = ConstCounter::new(0.0f64).metric_type();
        let mut family = encoder.encode_descriptor(name, help, None, kind)?;
        for (key, op) in &all {
            let value = ConstCounter::new(figure(op));
            value.encode(family.encode_family(&labels(*key, op))?)?;
        }
    }
    let arranged: Vec<_> = all
        .iter()
        .filter_map(|(key, op)| op.arranged.map(|a| (*key, op, a)))
        .collect();
    let gauges = [
        (
            "kvflow_arrangement_updates",
            "Updates an arrangement holds.",
        ),
        (
            "kvflow_arrangement_batches",
            "Batches an arrangement holds.",
        ),
    ];
    for (index, (name, help)) in gauges.into_iter().enumerate() {
        let kind = ConstGauge::new(0i64).metric_type();
        let mut family = encoder.encode_descriptor(name, help, None, kind)?;
        for (key, op, (updates, batches)) in &arranged {
            let value = if index == 0 { *updates } else { *batches };
            ConstGauge::new(value).encode(family.encode_family(&labels(*key, op))?)?;
        }
    }
    let kind = ConstGauge::new(0i64).metric_type();
    let mut family = encoder.encode_descriptor(
        "kvflow_operator_state_entries",
        "Entries an operator of kvflow's own holds (groups, keys or rows).",
        None,
        kind,
    )?;
    for (key, op) in &all {
        if let Some(held) = op.held {
            ConstGauge::new(held).encode(family.encode_family(&labels(*key, op))?)?;
        }
    }
    Ok(())
}

pub(super) fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

pub(super) fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Fmt {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

pub(super) fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: f64) -> Fmt {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

pub(super) type Fmt = Result<(), std::fmt::Error>;

/// One counter per pipeline, labelled with its name.
fn per_pipeline(
    encoder: &mut DescriptorEncoder,
    (name, help): (&str, &str),
    metrics: &Metrics,
    field: impl Fn(&PipelineCounters) -> &AtomicU64,
) -> Fmt {
    let counts = metrics
        .names
        .iter()
        .zip(&metrics.pipelines)
        .map(|(pipeline, counters)| (pipeline.as_str(), read(field(counters))));
    labelled_counters(encoder, (name, help), "pipeline", counts)
}

/// The changes each pipeline's sources admitted, labelled `pipeline`.
fn per_pipeline_in(encoder: &mut DescriptorEncoder, metrics: &Metrics) -> Fmt {
    let admitted = metrics
        .names
        .iter()
        .zip(&metrics.pipelines)
        .map(|(pipeline, counters)| (pipeline.as_str(), counters.rows_in()));
    labelled_counters(
        encoder,
        (
            "kvflow_pipeline_rows_in",
            "Changes a pipeline's sources admitted (its key patterns and event kinds).",
        ),
        "pipeline",
        admitted,
    )
}

/// A counter family with one series per `(label value, count)`.
pub(super) fn labelled_counters<'a>(
    encoder: &mut DescriptorEncoder,
    (name, help): (&str, &str),
    label: &str,
    values: impl IntoIterator<Item = (&'a str, u64)>,
) -> Fmt {
    let kind = ConstCounter::new(0u64).metric_type();
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (value, count) in values {
        let labels = [(label, value)];
        ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Collector for RunCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Fmt {
        let m = &*self.metrics;
        let e = &mut encoder;
        counter(
            e,
            "kvflow_input_events",
            "Mutations read from the input.",
            read(&m.events_in),
        )?;
        counter(
            e,
            "kvflow_input_bytes",
            "Bytes of the input file read.",
            read(&m.bytes_in),
        )?;
        counter(
            e,
            "kvflow_input_bad_lines",
            "Input lines that are not mutations.",
            read(&m.bad_lines),
        )?;
        counter(
            e,
            "kvflow_input_batches",
            "Batches the input was cut into.",
            read(&m.batches),
        )?;
        counter(
            e,
            "kvflow_store_missing_deletes",
            "Deletes of keys the store did not hold.",
            read(&m.missing_deletes),
        )?;
        let (watermark, max_seen) = (read(&m.watermark_ms), read(&m.max_event_ms));
        let batch_events = read(&m.events_in).saturating_sub(read(&m.batch_start));
        gauge(
            e,
            "kvflow_input_batch_events",
            "Events read into the batch the input is in.",
            batch_events as f64,
        )?;
        gauge(
            e,
            "kvflow_watermark_milliseconds",
            "Event time (ms since the epoch) of the batch the input is in: the watermark sent.",
            watermark as f64,
        )?;
        gauge(
            e,
            "kvflow_input_max_event_time_milliseconds",
            "The largest event time seen in the input (ms since the epoch).",
            max_seen as f64,
        )?;
        gauge(
            e,
            "kvflow_watermark_lag_milliseconds",
            "How far the watermark is behind the largest event time seen.",
            max_seen.saturating_sub(watermark) as f64,
        )?;
        let wall_lag = (now_ms() as f64 - watermark as f64) / 1000.0;
        gauge(
            e,
            "kvflow_watermark_wall_clock_lag_seconds",
            "How far the watermark is behind the wall clock.",
            if watermark == 0 { 0.0 } else { wall_lag },
        )?;
        gauge(
            e,
            "kvflow_run_uptime_seconds",
            "Seconds since the run started.",
            self.started.elapsed().as_secs_f64(),
        )?;
        per_pipeline_in(e, m)?;
        per_pipeline(
            e,
            ("kvflow_pipeline_rows_out", "Rows a pipeline wrote."),
            m,
            |c| &c.rows,
        )?;
        per_pipeline(
            e,
            (
                "kvflow_pipeline_late_rows",
                "Late rows a pipeline set aside.",
            ),
            m,
            |c| &c.late,
        )?;
        per_pipeline(
            e,
            (
                "kvflow_pipeline_error_rows",
                "Rows a pipeline could not process.",
            ),
            m,
            |c| &c.errors,
        )?;
        per_shard_store(e, &m.shards())?;
        if let Some(bytes) = resident_bytes() {
            gauge(
                e,
                "process_resident_memory_bytes",
                "Resident memory of the process.",
                bytes as f64,
            )?;
        }
        per_operator(e, &self.operators)
    }
}

/// The keys and bytes each store shard of this process holds, labelled `shard` (the worker's
/// index).
fn per_shard_store(encoder: &mut DescriptorEncoder, shards: &[(usize, u64, u64)]) -> Fmt {
    let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let keys: Vec<(usize, i64)> = shards.iter().map(|s| (s.0, gauge(s.1))).collect();
    per_shard(
        encoder,
        ("kvflow_store_keys", "Keys a store shard holds."),
        &keys,
    )?;
    let bytes: Vec<(usize, i64)> = shards.iter().map(|s| (s.0, gauge(s.2))).collect();
    per_shard(
        encoder,
        (
            "kvflow_store_bytes",
            "Bytes of the keys and values a store shard holds, values in the log's binary form.",
        ),
        &bytes,
    )
}

/// One gauge per shard, labelled `shard` (the shard's directory `shard-<k>`).
pub(super) fn per_shard(
    encoder: &mut DescriptorEncoder,
    (name, help): (&str, &str),
    values: &[(usize, i64)],
) -> Fmt {
    if values.is_empty() {
        return Ok(());
    }
    let kind = ConstGauge::new(0i64).metric_type();
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (shard, value) in values {
        let labels = [("shard", shard.to_string())];
        ConstGauge::new(*value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// The process's resident set (`VmRSS` of `/proc/self/status`); `None` where there is none.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
