//! The Socorro middleware API (seeds/socorro-middleware-api.txt, API.md §2):
//! crash reports, top crashers, product versions and builds, answered from
//! the tables tach-ingest materializes (schema migration 0004). Errors are
//! `{"error": {"message": …, "parameter": …}}`.

mod params;
mod queries;
mod render;
mod routes;
mod schemas;

pub use routes::routes;
