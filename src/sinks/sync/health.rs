//! Health checks and failover: a primary target, an optional standby, and the way back.
//!
//! The primary is used while it works. After `failures` consecutive failed batches, and a
//! failed health check to confirm, the sink switches to the standby. While on the standby it
//! checks the primary every `interval`; once the primary answers, the changes written to the
//! standby meanwhile (the latest per key, kept in memory) are replayed to the primary and the
//! sink switches back, so the primary ends up equal to the source as if it never failed.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::SyncOp;
use super::SyncStats;
use super::conflict::{Conflict, ConflictPolicy};
use super::targets::{Target, TargetError};
use crate::plan::sinks::HealthConfig;

/// A primary target with an optional standby.
pub struct Failover {
    primary: Box<dyn Target>,
    standby: Option<Box<dyn Target>>,
    config: HealthConfig,
    on_standby: bool,
    consecutive_failures: u32,
    last_check: Instant,
    /// Changes the primary missed while the standby took them: the latest per key.
    missed: BTreeMap<String, SyncOp>,
}

impl Failover {
    pub fn new(
        primary: Box<dyn Target>,
        standby: Option<Box<dyn Target>>,
        config: HealthConfig,
    ) -> Failover {
        Failover {
            primary,
            standby,
            config,
            on_standby: false,
            consecutive_failures: 0,
            last_check: Instant::now(),
            missed: BTreeMap::new(),
        }
    }

    /// Purges old tombstones from the target batches go to now.
    pub fn purge_tombstones(&mut self, before: u64) -> Result<u64, TargetError> {
        match (&mut self.standby, self.on_standby) {
            (Some(standby), true) => standby.purge_tombstones(before),
            _ => self.primary.purge_tombstones(before),
        }
    }

    /// Whether batches currently go to the standby.
    pub fn on_standby(&self) -> bool {
        self.on_standby
    }

    pub fn describe(&self) -> String {
        match (&self.standby, self.on_standby) {
            (Some(standby), true) => standby.describe(),
            _ => self.primary.describe(),
        }
    }

    /// Applies a batch to the active target, failing over or back as the checks say.
    pub fn apply(
        &mut self,
        batch: &[SyncOp],
        policy: ConflictPolicy,
        stats: &SyncStats,
    ) -> Result<Vec<Conflict>, TargetError> {
        self.try_switch_back(policy, stats);
        if self.on_standby
            && let Some(standby) = self.standby.as_mut()
        {
            let conflicts = standby
                .apply(batch, policy)
                .inspect_err(|_| stats.failing.store(true, Ordering::Relaxed))?;
            stats.failing.store(false, Ordering::Relaxed);
            for op in batch {
                self.missed.insert(op.key.clone(), op.clone());
            }
            return Ok(conflicts);
        }
        match self.primary.apply(batch, policy) {
            Ok(conflicts) => {
                self.consecutive_failures = 0;
                stats.failing.store(false, Ordering::Relaxed);
                Ok(conflicts)
            }
            Err(error) => {
                self.consecutive_failures += 1;
                stats.failing.store(true, Ordering::Relaxed);
                self.try_fail_over(stats);
                Err(error)
            }
        }
    }

    fn try_fail_over(&mut self, stats: &SyncStats) {
        if self.standby.is_none()
            || self.consecutive_failures < self.config.failures
            || self.primary.check().is_ok()
        {
            return;
        }
        tracing::warn!(
            "{} failed {} times: switching to the standby {}",
            self.primary.describe(),
            self.consecutive_failures,
            self.standby
                .as_ref()
                .map_or(String::new(), |s| s.describe())
        );
        self.on_standby = true;
        self.last_check = Instant::now();
        stats.failovers.fetch_add(1, Ordering::Relaxed);
        stats.on_standby.store(true, Ordering::Relaxed);
    }

    /// At the end of a run on the standby: waits for the primary (checking every
    /// `interval`, at most `attempts` times) so that it catches up before the run ends.
    /// Returns whether the sink is back on the primary.
    pub fn return_to_primary(
        &mut self,
        policy: ConflictPolicy,
        stats: &SyncStats,
        attempts: u32,
    ) -> bool {
        for _ in 0..attempts {
            if !self.on_standby {
                return true;
            }
            std::thread::sleep(self.config.interval);
            self.try_switch_back(policy, stats);
        }
        !self.on_standby
    }

    fn try_switch_back(&mut self, policy: ConflictPolicy, stats: &SyncStats) {
        if !self.on_standby || self.last_check.elapsed() < self.config.interval {
            return;
        }
        self.last_check = Instant::now();
        if self.primary.check().is_err() {
            return;
        }
        let missed: Vec<SyncOp> = self.missed.values().cloned().collect();
        for chunk in missed.chunks(1000) {
            if self.primary.apply(chunk, policy).is_err() {
                return;
            }
        }
        tracing::info!(
            "{} is back: {} missed keys replayed, switching back",
            self.primary.describe(),
            missed.len()
        );
        self.missed.clear();
        self.on_standby = false;
        self.consecutive_failures = 0;
        stats.switchbacks.fetch_add(1, Ordering::Relaxed);
        stats.on_standby.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    /// A target in memory that can be switched off.
    #[derive(Clone, Default)]
    struct Fake {
        state: Arc<Mutex<(bool, BTreeMap<String, String>)>>,
    }

    impl Fake {
        fn set_down(&self, down: bool) {
            self.state.lock().unwrap().0 = down;
        }
        fn data(&self) -> BTreeMap<String, String> {
            self.state.lock().unwrap().1.clone()
        }
    }

    impl Target for Fake {
        fn describe(&self) -> String {
            "fake".into()
        }
        fn apply(
            &mut self,
            batch: &[SyncOp],
            _: ConflictPolicy,
        ) -> Result<Vec<Conflict>, TargetError> {
            let mut state = self.state.lock().unwrap();
            if state.0 {
                return Err(TargetError("down".into()));
            }
            for op in batch {
                match &op.value {
                    Some(v) => state.1.insert(op.key.clone(), v.clone()),
                    None => state.1.remove(&op.key),
                };
            }
            Ok(Vec::new())
        }
        fn check(&mut self) -> Result<(), TargetError> {
            match self.state.lock().unwrap().0 {
                true => Err(TargetError("down".into())),
                false => Ok(()),
            }
        }
    }

    fn put(key: &str, value: &str) -> SyncOp {
        SyncOp {
            key: key.into(),
            value: Some(value.into()),
            ts: 1,
            origin: "a".into(),
        }
    }

    #[test]
    fn fails_over_and_back_and_the_primary_catches_up() {
        let (primary, standby) = (Fake::default(), Fake::default());
        let config = HealthConfig {
            interval: Duration::ZERO,
            failures: 2,
            timeout: Duration::from_secs(1),
        };
        let mut failover = Failover::new(
            Box::new(primary.clone()),
            Some(Box::new(standby.clone())),
            config,
        );
        let stats = SyncStats::default();
        let policy = ConflictPolicy::SourceWins;
        failover.apply(&[put("a", "1")], policy, &stats).unwrap();
        primary.set_down(true);
        assert!(failover.apply(&[put("b", "2")], policy, &stats).is_err());
        assert!(!failover.on_standby());
        assert!(failover.apply(&[put("b", "2")], policy, &stats).is_err());
        assert!(failover.on_standby());
        failover.apply(&[put("b", "2")], policy, &stats).unwrap();
        assert_eq!(standby.data().get("b").map(String::as_str), Some("2"));
        primary.set_down(false);
        failover.apply(&[put("c", "3")], policy, &stats).unwrap();
        assert!(!failover.on_standby());
        let expected: BTreeMap<String, String> = [("a", "1"), ("b", "2"), ("c", "3")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        assert_eq!(primary.data(), expected);
        assert_eq!(stats.failovers.load(Ordering::Relaxed), 1);
        assert_eq!(stats.switchbacks.load(Ordering::Relaxed), 1);
    }
}
