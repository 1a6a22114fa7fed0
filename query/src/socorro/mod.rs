//! The Socorro middleware API (seeds/socorro-middleware-api.txt, API.md §2).

mod routes;

pub use routes::router;
