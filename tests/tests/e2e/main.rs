//! tach's end-to-end tests: one binary (links once), one module per area.
//! Every test uses the real PostgreSQL and RabbitMQ, with a database and
//! broker names of its own.

/// The test copy of tach-ingest (tests/src/bin), for tests that run it as a process.
pub const INGEST: &str = env!("CARGO_BIN_EXE_tach-ingest-under-test");
/// The test copy of tach-query.
pub const QUERY: &str = env!("CARGO_BIN_EXE_tach-query-under-test");

mod cluster;
mod commands;
mod consistency;
mod console;
mod edge;
mod fault_injection;
mod glance_usage;
mod ingest;
mod ingest_faults;
mod least_privilege;
mod live;
mod logs;
mod metrics;
mod never_stops;
mod openapi;
mod orlo_auth;
mod oslo_messaging;
mod reads;
mod releases;
mod replica;
mod secrets;
mod socorro;
mod stacky;
mod startup;
mod tls;
