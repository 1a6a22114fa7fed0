//! tach-schema: what tach-ingest and tach-query share.
//!
//! - [`event`] and [`envelope`]: the event model, and parsing every envelope
//!   publishers send (SPEC §3) into it; pure functions.
//! - [`database`]: connecting, creating the database, the embedded migrations.
//! - [`store`]: the write path — a batch of events deduplicated, stored and
//!   aggregated in one transaction (DESIGN.md). Both the AMQP consumer and
//!   the release write API go through it.
//! - [`logging`]: the log subscriber both binaries start (`TACH_LOG_FORMAT`).

pub mod allocator;
pub mod crash;
pub mod database;
pub mod envelope;
pub mod error;
pub mod event;
pub mod histogram;
pub mod image_type;
pub mod image_usage;
pub mod kpi;
pub mod logging;
pub mod pairing;
pub mod prometheus;
pub mod release;
pub mod report;
pub mod rollup;
pub mod secrets;
pub mod store;
pub mod text;
pub mod timestamp;
pub mod usage;

pub use database::{connect, migrate, DatabaseError, PoolSettings, MIGRATOR};
pub use envelope::parse;
pub use error::ParseError;
pub use event::{Delivery, Event, ExchangeFamily, Family};
pub use store::{BatchOutcome, Rejected, Store, StoreError};
