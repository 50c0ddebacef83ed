//! What a restarted run had already delivered, and the line sink that keeps it from being
//! written twice.
//!
//! A durable run's checkpoint says that every time before its frontier was delivered (see
//! `runtime::durable`). Once recovery has read it, that is a fixed value, [`Delivered`],
//! handed to every sink as it is built: sinks suppress, or hand to
//! [`LineSink::write_delivered`], what a time before the frontier would write again.

use std::sync::Arc;

use super::LineSink;

/// From which time on a run's output is new.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Delivered {
    /// A fresh run: nothing was delivered.
    #[default]
    Nothing,
    /// Every time before this one was delivered.
    Before(u64),
    /// The run had completed: everything, final states included, was delivered.
    Everything,
}

impl Delivered {
    /// Whether the output at `time` (`None`: the final state) was delivered before a restart.
    pub fn covers(self, time: Option<u64>) -> bool {
        match (self, time) {
            (Delivered::Nothing, _) => false,
            (Delivered::Everything, _) => true,
            (Delivered::Before(frontier), Some(time)) => time < frontier,
            (Delivered::Before(_), None) => false,
        }
    }
}

/// A line sink that drops output the run had delivered before it was restarted.
pub struct Resumed {
    pub inner: Arc<dyn LineSink>,
    pub delivered: Delivered,
}

impl LineSink for Resumed {
    fn write(&self, lines: &str) {
        self.inner.write(lines);
    }

    fn write_at(&self, time: Option<u64>, lines: &str) {
        if self.delivered.covers(time) {
            self.inner.write_delivered(time, lines);
        } else {
            self.inner.write(lines);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::Delivered;

    #[test]
    fn a_frontier_covers_the_times_before_it_and_not_the_final_state() {
        assert!(!Delivered::Nothing.covers(Some(0)));
        assert!(!Delivered::Nothing.covers(None));
        assert!(Delivered::Before(5).covers(Some(4)));
        assert!(!Delivered::Before(5).covers(Some(5)));
        assert!(!Delivered::Before(5).covers(None));
        assert!(Delivered::Everything.covers(Some(u64::MAX)));
        assert!(Delivered::Everything.covers(None));
    }
}
