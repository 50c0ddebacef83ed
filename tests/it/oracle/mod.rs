//! Oracle and property tests: random mutation streams, run with 1 and 4 workers and two
//! batch sizes, compared with brute-force results computed here from the mutations alone.

mod aggregate;
mod common;
mod edge_cases;
mod join;
mod windows;
