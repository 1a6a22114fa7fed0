//! The operator's console at `/ui/`: one page per view (live events, an
//! instance or request, timings, crashes, a signature, releases,
//! environments), each rendered in the browser from tach's own JSON API —
//! so it shows exactly what API clients get — by one script, with its style
//! and the uPlot charting library (vendored from npm, MIT) embedded in the
//! binary: it needs no internet access, and no Node.js to build or run.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::edge::Routes;
use crate::error::Family;

/// The page every view shares; `{{page}}` names the view.
const SHELL: &str = include_str!("../ui/console.html");

/// The views, as `/ui/<view>`.
pub const VIEWS: [&str; 7] = [
    "live",
    "instance",
    "timings",
    "crashes",
    "signature",
    "releases",
    "environments",
];

/// The embedded files: name, content type, bytes.
const ASSETS: [(&str, &str, &str); 4] = [
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../ui/console.css"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/vendor/uplot-1.6.32/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_str!("../ui/vendor/uplot-1.6.32/uPlot.min.css"),
    ),
];

/// The console's routes: pages are HTML, not API operations, so they are
/// routed but not in the OpenAPI document.
pub fn routes() -> Routes {
    Routes {
        family: Family::Orlo,
        table: Vec::new(),
        path_parameters: false,
        undocumented: vec![
            ("/ui", get(|| async { Redirect::to("/ui/live") })),
            ("/ui/{view}", get(view)),
            ("/ui/assets/{file}", get(asset)),
        ],
    }
}

async fn view(Path(name): Path<String>) -> Response {
    match VIEWS.iter().find(|view| **view == name) {
        Some(view) => html(StatusCode::OK, SHELL.replace("{{page}}", view)),
        None => html(StatusCode::NOT_FOUND, SHELL.replace("{{page}}", "unknown")),
    }
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The pages run only their own script and talk only to this server.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
            ),
        ],
        body,
    )
        .into_response()
}
