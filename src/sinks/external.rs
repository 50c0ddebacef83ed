//! Sinks that deliver outside the run's output files — sync, alerts, routes — and the
//! per-run registry of their delivery threads.
//!
//! A plan's [`SinkDefs`] say which exist; [`render`] adds their
//! operators to each worker's dataflow; [`ExternalSinks`] — one value per run, never a
//! global — holds their queues and counters. [`WithExternal`] wraps the run's
//! `OutputFactory` so that a checkpoint first drains every queue (a checkpoint claims that
//! every time before its frontier was delivered) and the end of a run delivers the rest and
//! joins the threads.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use timely::dataflow::Stream;

use super::alert::deliver::{AlertStats, WebhookDelivery};
use super::alert::{Alert, AlertOutputs, alert_rows};
use super::delivery::dead_letter::DeadLetters;
use super::delivery::queue::{self, QueueSender};
use super::resumed::Delivered;
use super::routes::{Dispatcher, RouteOutputs, RouteStats, route_changes};
use super::sync::operator::{Delivery, RowKeys, TableFilter, sync_rows, sync_table};
use super::sync::{DeliveryOutputs, SyncDelivery, SyncOp, SyncSource, SyncStats};
use super::{LineSink, OutputFactory, OutputKind};
use crate::operators::fallible::Rows;
use crate::plan::sinks::{AlertConfig, AlertTarget, RouteTable, SinkDefs, SyncConfig};
use crate::store::{ChangeStream, unshared};

/// A queue the registry can drain and finish.
trait Queue: Send + Sync {
    fn drain(&self);
    fn finish(&self);
}

impl<T: Send + 'static> Queue for QueueSender<T> {
    fn drain(&self) {
        QueueSender::drain(self);
    }
    fn finish(&self) {
        QueueSender::finish(self);
    }
}

/// The delivery threads and counters of one run's external sinks.
#[derive(Default)]
pub struct ExternalSinks {
    queues: Mutex<Vec<Box<dyn Queue>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    sync: Mutex<BTreeMap<String, Arc<SyncStats>>>,
    alerts: Mutex<BTreeMap<String, Arc<AlertStats>>>,
    routes: Arc<RouteStats>,
}

impl ExternalSinks {
    pub fn new() -> Arc<ExternalSinks> {
        Arc::new(ExternalSinks::default())
    }

    /// The counters of sync sink `name` (shared by its workers).
    pub fn sync_stats(&self, name: &str) -> Arc<SyncStats> {
        let mut sync = self.sync.lock().unwrap_or_else(|e| e.into_inner());
        sync.entry(name.to_string()).or_default().clone()
    }

    /// The counters of alert `name` (shared by its workers).
    pub fn alert_stats(&self, name: &str) -> Arc<AlertStats> {
        let mut alerts = self.alerts.lock().unwrap_or_else(|e| e.into_inner());
        alerts.entry(name.to_string()).or_default().clone()
    }

    /// The counters of the run's routes.
    pub fn route_stats(&self) -> Arc<RouteStats> {
        self.routes.clone()
    }

    /// Every sync sink's counters so far, by name.
    pub fn sync_targets(&self) -> Vec<(String, Arc<SyncStats>)> {
        let sync = self.sync.lock().unwrap_or_else(|e| e.into_inner());
        sync.iter().map(|(n, s)| (n.clone(), s.clone())).collect()
    }

    /// Every alert's counters so far, by name.
    pub fn alerts(&self) -> Vec<(String, Arc<AlertStats>)> {
        let alerts = self.alerts.lock().unwrap_or_else(|e| e.into_inner());
        alerts.iter().map(|(n, s)| (n.clone(), s.clone())).collect()
    }

    fn register(&self, queue: Box<dyn Queue>, thread: JoinHandle<()>) {
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(queue);
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(thread);
    }

    /// Waits until everything queued so far was delivered.
    pub fn drain(&self) {
        for queue in self.queues.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            queue.drain();
        }
    }

    /// Delivers what is left and joins the delivery threads.
    pub fn finish(&self) {
        for queue in self
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            queue.finish();
        }
        let threads: Vec<_> = self
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("a delivery thread panicked");
            }
        }
    }

    /// A summary line per sync sink and alert, and one for the routes when `sinks` has any,
    /// for the end of a run.
    pub fn summary(&self, sinks: &SinkDefs) -> Vec<String> {
        let sync = self.sync.lock().unwrap_or_else(|e| e.into_inner());
        let alerts = self.alerts.lock().unwrap_or_else(|e| e.into_inner());
        let alert_lines = alerts.iter().map(|(name, s)| {
            let get = SyncStats::get;
            format!(
                "alert {name}: {} fired, {} suppressed, {} undelivered, {} retries, \
                 back-pressured {} times",
                get(&s.fired),
                get(&s.suppressed),
                get(&s.undelivered),
                get(&s.retries),
                get(&s.backpressured)
            )
        });
        sync.iter()
            .map(|(name, s)| {
                let get = SyncStats::get;
                format!(
                    "sync {name}: {} changes in {} batches, {} retries, {} dead-lettered, \
                     {} conflicts, {} failovers",
                    get(&s.delivered),
                    get(&s.batches),
                    get(&s.retries),
                    get(&s.dead_lettered),
                    get(&s.conflicts),
                    get(&s.failovers)
                )
            })
            .chain(alert_lines)
            .chain(sinks.routes.is_some().then(|| self.routes_summary()))
            .collect()
    }

    fn routes_summary(&self) -> String {
        let get = SyncStats::get;
        format!(
            "routes: {} routed, {} unrouted, {} handler calls",
            get(&self.routes.routed),
            get(&self.routes.unrouted),
            get(&self.routes.handled)
        )
    }
}

/// The run's outputs, draining the external sinks' queues at checkpoints and at the end.
pub struct WithExternal {
    pub inner: Arc<dyn OutputFactory>,
    pub external: Arc<ExternalSinks>,
}

impl OutputFactory for WithExternal {
    fn open(&self, pipeline: &str, kind: OutputKind) -> Arc<dyn LineSink> {
        self.inner.open(pipeline, kind)
    }

    fn finish(&self) {
        self.external.finish();
        self.inner.finish();
    }

    fn failure(&self) -> Option<String> {
        self.inner.failure()
    }

    fn resume(&self, lengths: &BTreeMap<String, u64>) -> Result<(), String> {
        self.inner.resume(lengths)
    }

    fn checkpoint(&self) -> Result<BTreeMap<String, u64>, String> {
        self.external.drain();
        self.inner.checkpoint()
    }
}

/// What the external sinks of one worker are built with.
pub struct SinkContext<'a, 'scope> {
    pub worker: usize,
    /// Opens an output (wrapped for durable runs).
    pub open: &'a dyn Fn(&str, OutputKind) -> Arc<dyn LineSink>,
    /// What a resumed run had delivered before its restart.
    pub delivered: Delivered,
    pub external: &'a ExternalSinks,
    /// Each pipeline's name and rows, in plan order.
    pub pipelines: &'a [(String, Rows<'scope>)],
}

impl<'scope> SinkContext<'_, 'scope> {
    /// The rows of pipeline `name` (the plan was checked, so a missing one is a bug in the
    /// front end that made it, reported as an error rather than a panic).
    fn rows_of(&self, name: &str) -> Result<&Rows<'scope>, String> {
        self.pipelines
            .iter()
            .find(|(pipeline, _)| pipeline == name)
            .map(|(_, rows)| rows)
            .ok_or_else(|| format!("a sink reads pipeline `{name}`, which the plan does not have"))
    }
}

/// Adds the plan's external sinks to a worker's dataflow; returns their streams to probe.
pub fn render<'scope>(
    plan: &SinkDefs,
    changes: &ChangeStream<'scope>,
    context: &SinkContext<'_, 'scope>,
) -> Result<Vec<Stream<'scope, u64, Vec<()>>>, String> {
    let mut probes = Vec::new();
    for config in &plan.sync {
        probes.push(render_sync(config, changes, context)?);
    }
    for config in &plan.alerts {
        probes.push(render_alert(config, context)?);
    }
    if let Some(table) = &plan.routes {
        probes.push(render_routes(table, changes, context)?);
    }
    Ok(probes)
}

fn render_routes<'scope>(
    table: &Arc<RouteTable>,
    changes: &ChangeStream<'scope>,
    context: &SinkContext<'_, 'scope>,
) -> Result<Stream<'scope, u64, Vec<()>>, String> {
    table.check()?;
    let logs = table
        .logged_handlers()
        .into_iter()
        .map(|name| {
            let sink = (context.open)(&format!("{name}.routed"), OutputKind::Rows);
            (name, sink)
        })
        .collect();
    let outputs = RouteOutputs {
        logs,
        counts: (context.open)("routes.counts", OutputKind::Rows),
    };
    let dispatcher = Dispatcher::new(
        table.clone(),
        outputs,
        context.external.route_stats(),
        context.delivered,
    );
    Ok(route_changes(unshared(changes), dispatcher))
}

fn render_alert<'scope>(
    config: &AlertConfig,
    context: &SinkContext<'_, 'scope>,
) -> Result<Stream<'scope, u64, Vec<()>>, String> {
    let stats = context.external.alert_stats(&config.name);
    let rows = context.rows_of(&config.pipeline)?;
    let errors = (context.open)(&config.pipeline, OutputKind::Errors);
    let mut webhooks = Vec::new();
    for (index, hook) in config.webhooks().enumerate() {
        let dead_letters = DeadLetters {
            output: (context.open)(
                &format!("{}.webhook-dead-letter", config.name),
                OutputKind::Rows,
            ),
            errors: errors.clone(),
        };
        let deliver = WebhookDelivery::new(
            &config.name,
            hook,
            context.worker,
            dead_letters,
            stats.clone(),
        );
        let thread_name = format!("alert-{}-{index}-{}", config.name, context.worker);
        let (sender, thread) = queue::spawn(&thread_name, hook.queue, hook.batch(), deliver)
            .map_err(|e| format!("cannot start the delivery thread of `{}`: {e}", config.name))?;
        context.external.register(Box::new(sender.clone()), thread);
        webhooks.push(sender);
    }
    let outputs = AlertOutputs {
        log: config
            .targets
            .contains(&AlertTarget::Log)
            .then(|| (context.open)(&format!("{}.alerts", config.name), OutputKind::Rows)),
        stdout: config.targets.contains(&AlertTarget::Stdout),
        errors,
    };
    let alert = Alert::new(config.clone(), outputs, stats, context.delivered);
    Ok(alert_rows(rows.clone(), alert, webhooks))
}

fn render_sync<'scope>(
    config: &SyncConfig,
    changes: &ChangeStream<'scope>,
    context: &SinkContext<'_, 'scope>,
) -> Result<Stream<'scope, u64, Vec<()>>, String> {
    let stats = context.external.sync_stats(&config.name);
    let errors_of = match &config.source {
        SyncSource::Pipeline { pipeline, .. } => pipeline.clone(),
        SyncSource::Table { .. } => config.name.clone(),
    };
    let outputs = DeliveryOutputs {
        dead_letter: (context.open)(&format!("{}.dead-letter", config.name), OutputKind::Rows),
        errors: (context.open)(&errors_of, OutputKind::Errors),
        conflicts: config
            .conflict_log
            .then(|| (context.open)(&format!("{}.conflicts", config.name), OutputKind::Rows)),
    };
    let deliver = SyncDelivery::new(config, context.worker, outputs, stats.clone());
    let thread_name = format!("sync-{}-{}", config.name, context.worker);
    let (sender, thread) = queue::spawn_counted::<SyncOp, _>(
        &thread_name,
        (config.queue, stats.queued.clone()),
        config.batch,
        deliver,
    )
    .map_err(|e| format!("cannot start the delivery thread of `{}`: {e}", config.name))?;
    context.external.register(Box::new(sender.clone()), thread);
    let delivery = Delivery {
        queue: sender,
        delivered: context.delivered,
    };
    Ok(match &config.source {
        SyncSource::Pipeline {
            pipeline,
            names,
            key_fields,
            ts_field,
        } => {
            let keys = RowKeys {
                names: names.clone(),
                key_fields: key_fields.clone(),
                ts_field: *ts_field,
                origin: config.origin.clone(),
            };
            sync_rows(context.rows_of(pipeline)?.clone(), keys, delivery)
        }
        SyncSource::Table { keys } => {
            let filter = TableFilter {
                keys: keys.clone(),
                skip_origin: config.target_origin.clone(),
                origin: config.origin.clone(),
            };
            sync_table(unshared(changes), filter, delivery, stats)
        }
    })
}
