//! The release API's bodies as OpenAPI documents them (render.rs and
//! writes.rs read and write them; the schemathesis run checks every answer
//! against these).

#![allow(dead_code)]

use std::collections::HashMap;

use utoipa::ToSchema;

/// Orlo's `{"releases": [...]}`.
#[derive(ToSchema)]
pub struct Releases {
    releases: Vec<Release>,
}

/// An Orlo release with its packages.
#[derive(ToSchema)]
pub struct Release {
    id: String,
    user: Option<String>,
    team: Option<String>,
    #[schema(value_type = serde_json::Value)]
    platforms: serde_json::Value,
    #[schema(value_type = serde_json::Value)]
    references: serde_json::Value,
    #[schema(value_type = serde_json::Value)]
    notes: serde_json::Value,
    #[schema(value_type = serde_json::Value)]
    metadata: serde_json::Value,
    /// Orlo's time format, e.g. `2015-11-30T12:00:00Z`.
    stime: Option<String>,
    ftime: Option<String>,
    /// Seconds.
    duration: Option<i64>,
    /// `NOT_STARTED`, `IN_PROGRESS`, `SUCCESSFUL` or `FAILED`.
    status: String,
    packages: Vec<Package>,
}

/// Orlo's `{"packages": [...]}`.
#[derive(ToSchema)]
pub struct Packages {
    packages: Vec<Package>,
}

/// An Orlo package.
#[derive(ToSchema)]
pub struct Package {
    id: String,
    release_id: String,
    name: Option<String>,
    version: Option<String>,
    rollback: bool,
    diff_url: Option<String>,
    status: String,
    stime: Option<String>,
    ftime: Option<String>,
    duration: Option<i64>,
}

/// `{"id": …}` of a created release or package.
#[derive(ToSchema)]
pub struct Created {
    id: String,
}

/// `{"message": "pong"}`.
#[derive(ToSchema)]
pub struct Pong {
    message: String,
}

/// Per environment name: `<component>Revision` per deployed component, the
/// status samples (`data`) and their `plotData` series.
#[derive(ToSchema)]
pub struct Environments(HashMap<String, HashMap<String, serde_json::Value>>);

/// Per user, team, platform or package: `{"releases": n}`.
#[derive(ToSchema)]
pub struct InfoCounts(HashMap<String, ReleaseCount>);

/// `{"releases": n}`.
#[derive(ToSchema)]
pub struct ReleaseCount {
    releases: i64,
}

/// Per group: release counts, normal and rollback, successful and failed.
#[derive(ToSchema)]
pub struct StatsCounts(HashMap<String, HashMap<String, serde_json::Value>>);

/// Per date part (year, then month, … as `unit` asks), then name, then
/// normal/rollback, then successful/failed: counts.
#[derive(ToSchema)]
pub struct DatedCounts(HashMap<String, serde_json::Value>);

/// Per package name: its latest successful version.
#[derive(ToSchema)]
pub struct PackageVersions(HashMap<String, Option<String>>);

/// `POST /releases`.
#[derive(ToSchema)]
pub struct NewRelease {
    /// A platform or a list of them.
    #[schema(value_type = serde_json::Value)]
    platforms: serde_json::Value,
    #[schema(min_length = 1)]
    user: String,
    team: Option<String>,
    /// A reference or a list of them.
    #[schema(value_type = Option<serde_json::Value>)]
    references: Option<serde_json::Value>,
    note: Option<String>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
}

/// `POST /releases/{release}/packages`.
#[derive(ToSchema)]
pub struct NewPackage {
    #[schema(min_length = 1)]
    name: String,
    #[schema(min_length = 1)]
    version: String,
    rollback: Option<bool>,
    diff_url: Option<String>,
}

/// `POST /releases/{release}/notes`.
#[derive(ToSchema)]
pub struct Note {
    #[schema(min_length = 1)]
    text: String,
}

/// `POST /releases/{release}/packages/{package}/stop`.
#[derive(ToSchema)]
pub struct PackageStop {
    /// Whether the package deployed successfully (Orlo takes true/"true").
    #[schema(value_type = Option<serde_json::Value>)]
    success: Option<serde_json::Value>,
}

/// `POST /releases/{release}/packages/{package}/results`.
#[derive(ToSchema)]
pub struct Results {
    /// Whatever the tool reports.
    #[schema(value_type = serde_json::Value)]
    content: serde_json::Value,
}

/// Orlo's answer to `GET /token`.
#[derive(ToSchema)]
pub struct Token {
    /// Send it as `X-Auth-Token: <token>` (or `Authorization: Bearer
    /// <token>`) on release writes.
    token: String,
    /// How long it is valid, in seconds, as a string as Orlo sent it
    /// (TACH_TOKEN_TTL_SECS).
    #[schema(example = "3600")]
    duration: String,
}
