//! The release API: Observatory reads and Orlo/Sponge writes
//! (seeds/observatory-api.md, seeds/sponge-readme.md, API.md §3). Errors are
//! Orlo's `{"message": …}`; writes need a bearer token when one is set
//! ([`crate::auth::WriteAccess`]).

mod params;
mod queries;
mod render;
mod routes;
mod schemas;
mod writes;

pub use routes::routes;
