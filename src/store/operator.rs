//! The shard operator: routes each mutation to the worker whose shard owns its key, logs
//! each batch to the data directory (if any) and applies it to the [`ShardState`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::operators::generic::operator::Operator;

use super::data_dir::ShardLog;
use super::route::ingest_pact;
use super::shard::{AppendOnlyKeys, Ingest, ShardState};
use super::shared::{ChangeStream, SharedChanges};

const RETRY_LOG_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// What a store shard holds, as its operator left it after its last step.
#[derive(Debug, Default)]
pub struct ShardFigures {
    pub keys: AtomicU64,
    /// `ShardState::bytes`, counted only when `counts_bytes`.
    pub bytes: AtomicU64,
    /// Whether the shard counts its bytes (`bytes` stays 0 otherwise).
    pub counts_bytes: bool,
}

/// Routes each mutation to the shard that owns its key and applies it there.
/// `on_missing_delete` is told how many deletes of missing keys each step saw, and `figures`
/// holds the keys and bytes in the shard after each step.
/// With `log`, each batch is logged (one commit) before it is applied; a log that carries a
/// seed (a restart past a retention floor) first puts the snapshot's keys back and emits them
/// as seeded changes at the dataflow's first time. The shard keeps none of `append_only`'s
/// keys.
pub fn shard_operator<'scope>(
    ingest: Stream<'scope, u64, Vec<Ingest>>,
    mut on_missing_delete: impl FnMut(u64) + 'static,
    figures: Arc<ShardFigures>,
    mut log: Option<ShardLog>,
    append_only: Option<AppendOnlyKeys>,
) -> ChangeStream<'scope> {
    let scope = ingest.scope();
    ingest.unary::<CapacityContainerBuilder<SharedChanges>, _, _, _>(
        ingest_pact(scope.index()),
        "StoreShard",
        |cap, info| {
            let state = match figures.counts_bytes {
                true => ShardState::counting_bytes(),
                false => ShardState::default(),
            };
            let mut state = state.with_append_only(append_only);
            let mut seed = log
                .as_mut()
                .and_then(ShardLog::take_seed)
                .map(|entries| (cap, entries));
            let retry = scope.activator_for(info.address);
            move |input, output| {
                if let Some(log) = log.as_mut() {
                    log.retry();
                }
                if let Some((cap, entries)) = seed.take() {
                    let mut changes = SharedChanges::new(state.seed(entries));
                    output.session(&cap).give_container(&mut changes);
                }
                input.for_each(|cap, data| {
                    let time = cap.least().copied().unwrap_or_default();
                    if let Some(log) = log.as_mut() {
                        log.log(time, data);
                    }
                    let before = state.missing_deletes;
                    // NB: sized up front: a batch grown by doubling copied itself over.
                    let mut changes = Vec::with_capacity(data.len());
                    changes.extend(
                        data.drain(..)
                            .filter_map(|ingest| state.apply_deferred(ingest)),
                    );
                    if !changes.is_empty() {
                        let mut changes = SharedChanges::new(changes);
                        output.session(&cap).give_container(&mut changes);
                    }
                    if state.missing_deletes > before {
                        on_missing_delete(state.missing_deletes - before);
                    }
                    if let Some(log) = log.as_mut() {
                        log.maybe_snapshot(time, &state);
                    }
                });
                figures.keys.store(state.len() as u64, Ordering::Relaxed);
                figures.bytes.store(state.bytes() as u64, Ordering::Relaxed);
                if log.as_ref().is_some_and(ShardLog::needs_retry) {
                    retry.activate_after(RETRY_LOG_AFTER);
                }
            }
        },
    )
}
