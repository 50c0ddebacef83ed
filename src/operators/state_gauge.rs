//! How kvflow's own stateful operators (running totals, sessions, interval joins) report the
//! entries they hold. The run installs a reporter on a worker's thread while it builds the
//! dataflow, only when the run serves metrics (`runtime::operator_stats`); an operator built
//! then gets a [`StateGauge`], and one built without a reporter gets `None` and pays nothing.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Gives the gauge of an operator by its id (`OperatorInfo::global_id`).
type Reporter = Rc<dyn Fn(usize) -> Arc<AtomicI64>>;

thread_local! {
    static REPORTER: RefCell<Option<Reporter>> = const { RefCell::new(None) };
}

/// The number of entries an operator holds.
pub struct StateGauge(Arc<AtomicI64>);

impl StateGauge {
    /// The gauge of operator `id` being built on this thread, when a reporter is installed.
    pub fn for_operator(id: usize) -> Option<StateGauge> {
        REPORTER.with(|reporter| {
            let reporter = reporter.borrow().clone()?;
            Some(StateGauge(reporter(id)))
        })
    }

    pub fn set(&self, entries: usize) {
        let entries = i64::try_from(entries).unwrap_or(i64::MAX);
        self.0.store(entries, Ordering::Relaxed);
    }
}

/// Operators built on this thread from now on report their state through `reporter`.
pub fn report_state_to(reporter: impl Fn(usize) -> Arc<AtomicI64> + 'static) {
    REPORTER.with(|slot| *slot.borrow_mut() = Some(Rc::new(reporter)));
}

/// Operators built on this thread from now on report nothing.
pub fn stop_reporting_state() {
    REPORTER.with(|slot| *slot.borrow_mut() = None);
}
