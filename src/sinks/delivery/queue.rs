//! A bounded queue drained by a delivery thread, batching by size and timeout.
//!
//! The sink operator runs on a timely worker and must never wait on the network, so it hands
//! records to a bounded channel and a thread of its own delivers them. When the channel is
//! full, [`QueueSender::send`] blocks the worker: the worker stops stepping, so its input
//! stops being fed — back-pressure that drops nothing. [`QueueSender::try_send`] hands back
//! what did not fit instead, for an operator that holds its time open and tries again (the
//! input stops being fed too, but the worker's other operators go on). `drain` waits until
//! everything sent before it is delivered (a checkpoint needs that); `finish` delivers the
//! rest and ends the thread. Used by the sync sinks (`send`) and alert webhooks (`try_send`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

pub use crate::plan::sinks::BatchConfig;

/// Delivers batches; runs on the queue's thread.
pub trait Deliver<T>: Send + 'static {
    fn deliver(&mut self, batch: Vec<T>);
    /// Called once after the last batch, before the thread ends.
    fn finish(&mut self) {}
}

enum Message<T> {
    Items(Vec<T>),
    Drain(SyncSender<()>),
    Finish,
}

/// Why [`QueueSender::try_send`] did not queue everything.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySend<T> {
    /// The queue is full: these records are not queued.
    Full(Vec<T>),
    /// The delivery thread is gone.
    Stopped,
}

/// The sending side; cheap to clone.
pub struct QueueSender<T> {
    tx: SyncSender<Message<T>>,
    chunk: usize,
    /// Records queued and not yet handed to `deliver` (or being delivered).
    depth: Arc<AtomicU64>,
}

impl<T> Clone for QueueSender<T> {
    fn clone(&self) -> Self {
        QueueSender {
            tx: self.tx.clone(),
            chunk: self.chunk,
            depth: self.depth.clone(),
        }
    }
}

impl<T: Send + 'static> QueueSender<T> {
    /// Queues records, blocking while the queue is full. Returns false if the delivery
    /// thread is gone (it only ends on `finish` or a panic).
    pub fn send(&self, mut items: Vec<T>) -> bool {
        while items.len() > self.chunk {
            let rest = items.split_off(self.chunk);
            if !self.send_one(items) {
                return false;
            }
            items = rest;
        }
        items.is_empty() || self.send_one(items)
    }

    fn send_one(&self, items: Vec<T>) -> bool {
        let count = items.len() as u64;
        self.depth.fetch_add(count, Ordering::Relaxed);
        let sent = self.tx.send(Message::Items(items)).is_ok();
        if !sent {
            self.depth.fetch_sub(count, Ordering::Relaxed);
        }
        sent
    }

    /// Queues records without waiting. `Full` hands back, in order, those that found the
    /// queue full (the ones before them are queued).
    pub fn try_send(&self, mut items: Vec<T>) -> Result<(), TrySend<T>> {
        while !items.is_empty() {
            let rest = items.split_off(self.chunk.min(items.len()));
            let count = items.len() as u64;
            self.depth.fetch_add(count, Ordering::Relaxed);
            match self.tx.try_send(Message::Items(items)) {
                Ok(()) => items = rest,
                Err(TrySendError::Full(Message::Items(mut back))) => {
                    self.depth.fetch_sub(count, Ordering::Relaxed);
                    back.extend(rest);
                    return Err(TrySend::Full(back));
                }
                Err(_) => {
                    self.depth.fetch_sub(count, Ordering::Relaxed);
                    return Err(TrySend::Stopped);
                }
            }
        }
        Ok(())
    }

    /// Waits until everything queued before this call was delivered (or dead-lettered).
    pub fn drain(&self) {
        let (ack, done) = sync_channel(1);
        if self.tx.send(Message::Drain(ack)).is_ok() {
            let _ = done.recv();
        }
    }

    /// Delivers what is queued and stops the thread (join its handle afterwards).
    pub fn finish(&self) {
        let _ = self.tx.send(Message::Finish);
    }
}

/// Starts a delivery thread. The queue holds about `capacity` records (in chunks of
/// `batch.size`) before `send` blocks.
pub fn spawn<T: Send + 'static, D: Deliver<T>>(
    name: &str,
    capacity: usize,
    batch: BatchConfig,
    deliver: D,
) -> std::io::Result<(QueueSender<T>, JoinHandle<()>)> {
    spawn_counted(name, (capacity, Arc::default()), batch, deliver)
}

/// As [`spawn`], keeping in `depth` the records queued and not yet delivered.
pub fn spawn_counted<T: Send + 'static, D: Deliver<T>>(
    name: &str,
    (capacity, depth): (usize, Arc<AtomicU64>),
    batch: BatchConfig,
    deliver: D,
) -> std::io::Result<(QueueSender<T>, JoinHandle<()>)> {
    let chunk = batch.size.max(1);
    let (tx, rx) = sync_channel((capacity / chunk).max(1));
    let counted = Counted {
        deliver,
        depth: depth.clone(),
    };
    let handle = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || run(rx, batch, counted))?;
    Ok((QueueSender { tx, chunk, depth }, handle))
}

/// A [`Deliver`] that takes what it delivered off the queue's depth.
struct Counted<D> {
    deliver: D,
    depth: Arc<AtomicU64>,
}

impl<T, D: Deliver<T>> Deliver<T> for Counted<D> {
    fn deliver(&mut self, batch: Vec<T>) {
        let count = batch.len() as u64;
        self.deliver.deliver(batch);
        self.depth.fetch_sub(count, Ordering::Relaxed);
    }

    fn finish(&mut self) {
        self.deliver.finish();
    }
}

fn run<T, D: Deliver<T>>(rx: Receiver<Message<T>>, batch: BatchConfig, mut deliver: D) {
    let size = batch.size.max(1);
    let mut pending: Vec<T> = Vec::new();
    let mut deadline: Option<Instant> = None;
    loop {
        let message = match deadline {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
        };
        match message {
            Ok(Message::Items(items)) => {
                pending.extend(items);
                while pending.len() >= size {
                    let rest = pending.split_off(size);
                    deliver.deliver(std::mem::replace(&mut pending, rest));
                }
                deadline = match pending.is_empty() {
                    true => None,
                    false => deadline.or_else(|| Some(Instant::now() + batch.timeout)),
                };
            }
            Ok(Message::Drain(ack)) => {
                flush(&mut pending, &mut deliver);
                deadline = None;
                let _ = ack.send(());
            }
            Err(RecvTimeoutError::Timeout) => {
                flush(&mut pending, &mut deliver);
                deadline = None;
            }
            Ok(Message::Finish) | Err(RecvTimeoutError::Disconnected) => {
                flush(&mut pending, &mut deliver);
                deliver.finish();
                return;
            }
        }
    }
}

fn flush<T, D: Deliver<T>>(pending: &mut Vec<T>, deliver: &mut D) {
    if !pending.is_empty() {
        deliver.deliver(std::mem::take(pending));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    struct Record(Arc<Mutex<Vec<Vec<u32>>>>);

    impl Deliver<u32> for Record {
        fn deliver(&mut self, batch: Vec<u32>) {
            self.0.lock().unwrap().push(batch);
        }
    }

    #[test]
    fn batches_by_size_drains_and_keeps_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let batch = BatchConfig {
            size: 3,
            timeout: Duration::from_secs(3600),
        };
        let (tx, handle) = spawn("test-queue", 6, batch, Record(seen.clone())).unwrap();
        assert!(tx.send((0..7).collect()));
        tx.drain();
        assert_eq!(
            *seen.lock().unwrap(),
            vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]
        );
        assert!(tx.send(vec![7]));
        tx.finish();
        handle.join().unwrap();
        let all: Vec<u32> = seen.lock().unwrap().concat();
        assert_eq!(all, (0..8).collect::<Vec<_>>());
    }

    /// Delivers into `.1` once the gate `.0` is open.
    struct Gated(Arc<Mutex<()>>, Arc<Mutex<Vec<u32>>>);

    impl Deliver<u32> for Gated {
        fn deliver(&mut self, batch: Vec<u32>) {
            let _open = self.0.lock().unwrap();
            self.1.lock().unwrap().extend(batch);
        }
    }

    /// A queue of one item at a time behind a gate: (gate, delivered, sender, thread).
    fn gated() -> GatedQueue {
        let gate = Arc::new(Mutex::new(()));
        let out = Arc::new(Mutex::new(Vec::new()));
        let batch = BatchConfig {
            size: 1,
            timeout: Duration::ZERO,
        };
        let (tx, handle) = spawn("gated", 1, batch, Gated(gate.clone(), out.clone())).unwrap();
        (gate, out, tx, handle)
    }

    type GatedQueue = (
        Arc<Mutex<()>>,
        Arc<Mutex<Vec<u32>>>,
        QueueSender<u32>,
        JoinHandle<()>,
    );

    /// A full queue blocks the sender until the delivery thread takes a chunk.
    #[test]
    fn a_full_queue_blocks_the_sender_and_loses_nothing() {
        let (gate, out, tx, handle) = gated();
        let closed = gate.lock().unwrap();
        let sender = {
            let tx = tx.clone();
            std::thread::spawn(move || tx.send((0..100).collect()))
        };
        // The delivery thread holds one item at the gate and the channel one more: the
        // sender cannot have finished.
        std::thread::yield_now();
        assert!(!sender.is_finished());
        assert!(out.lock().unwrap().is_empty());
        drop(closed);
        assert!(sender.join().unwrap());
        tx.finish();
        handle.join().unwrap();
        assert_eq!(*out.lock().unwrap(), (0..100).collect::<Vec<_>>());
    }

    /// `try_send` hands back what found the queue full, in order, and queues the rest later.
    #[test]
    fn try_send_hands_back_what_does_not_fit() {
        let (gate, out, tx, handle) = gated();
        let closed = gate.lock().unwrap();
        let Err(TrySend::Full(mut rest)) = tx.try_send((0..10).collect()) else {
            panic!("a queue of one item took ten");
        };
        // The channel holds one item, and the delivery thread may have taken one before it.
        assert!(rest.len() == 8 || rest.len() == 9, "{rest:?}");
        assert_eq!(rest, (10 - rest.len() as u32..10).collect::<Vec<_>>());
        drop(closed);
        loop {
            match tx.try_send(rest) {
                Ok(()) => break,
                Err(TrySend::Full(back)) => rest = back,
                Err(TrySend::Stopped) => panic!("the delivery thread stopped"),
            }
            std::thread::yield_now();
        }
        tx.finish();
        handle.join().unwrap();
        assert_eq!(*out.lock().unwrap(), (0..10).collect::<Vec<_>>());
    }
}
