//! StackTach's `stacky/*` API (seeds/stacktach-api-*.rst, API.md §1): tables
//! as JSON lists whose row 0 is the header, errors as
//! `[["Error", "Message"], [<title>, <why>]]`.

mod params;
mod queries;
mod render;
mod routes;
mod stream;
mod summarize;
mod summary;

pub use routes::routes;
