//! The release API: Observatory reads and Orlo/Sponge writes
//! (seeds/observatory-api.md, seeds/sponge-readme.md, API.md §3).

mod routes;

pub use routes::router;
