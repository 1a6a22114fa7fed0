//! tach's end-to-end tests: one binary (links once), one module per area.
//! Every test uses the real PostgreSQL and RabbitMQ, with a database and
//! broker names of its own.

mod commands;
mod consistency;
mod edge;
mod fault_injection;
mod glance_usage;
mod ingest;
mod ingest_faults;
mod least_privilege;
mod logs;
mod metrics;
mod never_stops;
mod openapi;
mod orlo_auth;
mod oslo_messaging;
mod reads;
mod releases;
mod secrets;
mod socorro;
mod stacky;
