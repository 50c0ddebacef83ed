//! Reusable timely/differential operators, each an extension trait or a plain function with
//! a stable operator name: fallible row maps, aggregate accumulators, window management and
//! holding records until their time is complete ([`by_time`]).
pub mod aggregate;
pub mod append_aggregate;
pub mod by_time;
pub mod fallible;
pub mod state_gauge;
pub mod total;
pub mod window;
