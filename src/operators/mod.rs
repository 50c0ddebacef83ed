//! Reusable timely/differential operators, each an extension trait or a plain function with
//! a stable operator name: fallible row maps, aggregate accumulators and window management.
pub mod aggregate;
pub mod fallible;
pub mod window;
