//! tach-tests: what tach's end-to-end tests, the demo and the benchmarks share.
//!
//! - [`gen`]: the deterministic event generator behind `tach-gen`.
//! - [`harness`]: per-test databases and broker names, services in-process,
//!   a connection-severing proxy, polling with deadlines.
//! - [`publish`]: publishing generated messages.

pub mod gen;
pub mod harness;
pub mod publish;
