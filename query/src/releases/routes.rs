//! The release routes (API.md §3): Observatory's reads, Orlo's reads and
//! writes, and Sponge's singular `/release…` aliases of the writes. Every
//! path answers with and without a trailing slash.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Map, Value};
use tach_schema::release::is_success;
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::params::{self, Params};
use super::queries::{self, GroupBy, PackageRow, ReleaseRow, Scope};
use super::render;
use super::schemas;
use super::writes::{self, object_body, required_text};
use crate::auth::{self, WriteAccess};
use crate::edge::Routes;
use crate::error::{ApiError, Family};
use crate::params::Paging;
use crate::state::AppState;

type Answer = Result<Response, ApiError>;

/// Every release route (Sponge's singular `/release…` is rewritten to `/releases…`).
pub fn routes() -> Routes {
    Routes {
        family: Family::Orlo,
        table: vec![
            routes!(ping),
            routes!(issue_token),
            routes!(list_releases, create_release),
            routes!(list_packages),
            routes!(one_package),
            routes!(environments),
            routes!(one_environment),
            routes!(package_versions),
            routes!(info),
            routes!(info_of),
            routes!(stats),
            routes!(stats_by_date),
            routes!(stats_of_field),
            routes!(stats_of_name),
            routes!(one_release),
            routes!(start_release),
            routes!(stop_release),
            routes!(add_note),
            routes!(add_metadata),
            routes!(create_package),
            routes!(start_package),
            routes!(stop_package),
            routes!(add_results),
        ],
        path_parameters: false,
        undocumented: Vec::new(),
    }
}

/// `field` of `/info` and `/stats`, as documented.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum GroupField {
    User,
    Users,
    Team,
    Teams,
    Platform,
    Platforms,
    Package,
    Packages,
}

/// `subject` of `/stats/by_date`, as documented.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum DatedSubject {
    Release,
    Package,
}

/// The filters of `GET /releases` (times are Orlo's, e.g. 2015-11-30T12:00:00Z).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ReleaseFilters {
    user: Option<String>,
    team: Option<String>,
    platform: Option<String>,
    /// NOT_STARTED, IN_PROGRESS, SUCCESSFUL or FAILED.
    status: Option<String>,
    stime_before: Option<String>,
    stime_after: Option<String>,
    ftime_before: Option<String>,
    ftime_after: Option<String>,
    /// Seconds.
    duration_lt: Option<i64>,
    /// Seconds.
    duration_gt: Option<i64>,
    package_name: Option<String>,
    package_version: Option<String>,
    package_status: Option<String>,
    package_rollback: Option<bool>,
    /// Oldest first (default newest first).
    asc: Option<bool>,
}

/// The filters of `GET /packages`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct PackageFilters {
    name: Option<String>,
    version: Option<String>,
    status: Option<String>,
    rollback: Option<bool>,
    release_id: Option<String>,
    stime_before: Option<String>,
    stime_after: Option<String>,
    ftime_before: Option<String>,
    ftime_after: Option<String>,
    duration_lt: Option<i64>,
    duration_gt: Option<i64>,
    asc: Option<bool>,
}

/// `platform`, `stime` and `ftime` of `/info` and `/stats`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ScopeFilters {
    /// Only releases on this platform.
    platform: Option<String>,
    /// Only releases started after.
    stime: Option<String>,
    /// Only releases finished before.
    ftime: Option<String>,
}

fn ok(body: Value) -> Answer {
    Ok(Json(body).into_response())
}

fn no_content() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(get, path = "/ping", tag = "releases",
    responses((status = 200, description = "`{\"message\": \"pong\"}`", body = schemas::Pong)))]
async fn ping() -> Answer {
    ok(json!({"message": "pong"}))
}

/// Orlo's `GET /token`: a token for release writes, for the HTTP Basic
/// credentials of a user of `TACH_HTPASSWD_FILE`.
#[utoipa::path(get, path = "/token", tag = "releases", security(("basic" = [])),
    responses(
        (status = 200, description = "A token for release writes, valid for `duration` seconds", body = schemas::Token),
        (status = 401, description = "The user name or password is missing or wrong", body = crate::error::shapes::OrloError),
        (status = 404, description = "No TACH_HTPASSWD_FILE: this tach-query issues no tokens", body = crate::error::shapes::OrloError)))]
async fn issue_token(State(state): State<AppState>, headers: HeaderMap) -> Answer {
    let issued = auth::issue_token(&state.tokens, &headers, auth::unix_seconds_now()).await?;
    ok(json!({"token": issued.token, "duration": issued.ttl_secs.to_string()}))
}

/// `{"releases": [...]}`: the releases with their packages, in order.
async fn render_releases(state: &AppState, rows: &[ReleaseRow]) -> Answer {
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let packages = queries::packages_of(&state.write_pool, &ids).await?;
    let releases: Vec<render::Release<'_>> = rows
        .iter()
        .map(|row| render::Release {
            row,
            packages: &packages,
        })
        .collect();
    Ok(Json(render::Keyed("releases", releases)).into_response())
}

#[utoipa::path(get, path = "/releases", tag = "releases",
    params(ReleaseFilters, Paging),
    responses((status = 200, description = "Releases with their packages, newest first", body = schemas::Releases)))]
async fn list_releases(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let filters = params.release_filters()?;
    let rows = queries::releases(&state.write_pool, &filters, params.paging()?).await?;
    render_releases(&state, &rows).await
}

/// `/releases/<uuid>` is Orlo's release; anything else is a tag
/// (Observatory: `v33` or `33`), answered as the bare tag object.
#[utoipa::path(get, path = "/releases/{release}", tag = "releases",
    params(("release" = String, Path, description = "A release id (a UUID), or an Observatory tag (v33 or 33)")),
    responses((status = 200, description = "By id: `{\"releases\": [<release>]}`; by tag: the tag's object", body = serde_json::Value)))]
async fn one_release(State(state): State<AppState>, Path(key): Path<String>) -> Answer {
    if let Ok(id) = uuid::Uuid::try_parse(&key) {
        let id = id.hyphenated().to_string();
        let Some(row) = queries::release(&state.write_pool, &id).await? else {
            return Err(ApiError::not_found(format!("release {id}")));
        };
        return render_releases(&state, &[row]).await;
    }
    let mut tags = vec![key.clone()];
    if key.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        tags.push(format!("v{key}"));
    }
    match queries::tag_object(&state.write_pool, &tags).await? {
        Some(tag_object) => ok(tag_object),
        None => Err(ApiError::not_found(format!("release {key}"))),
    }
}

#[utoipa::path(get, path = "/packages", tag = "releases",
    params(PackageFilters, Paging),
    responses((status = 200, description = "Packages", body = schemas::Packages)))]
async fn list_packages(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let filters = params.package_filters()?;
    let rows = queries::packages(&state.write_pool, &filters, params.paging()?).await?;
    Ok(Json(render::Keyed("packages", rows)).into_response())
}

#[utoipa::path(get, path = "/packages/{package_id}", tag = "releases",
    params(("package_id" = String, Path, format = Uuid, description = "The package id")),
    responses((status = 200, description = "The package", body = schemas::Packages)))]
async fn one_package(State(state): State<AppState>, Path(package_id): Path<String>) -> Answer {
    let package_id = params::uuid("package id", &package_id)?;
    match queries::package(&state.write_pool, None, &package_id).await? {
        Some(row) => Ok(Json(render::Keyed("packages", [row])).into_response()),
        None => Err(ApiError::not_found(format!("package {package_id}"))),
    }
}

async fn environment(state: &AppState, name: &str) -> Result<render::Environment, ApiError> {
    let revisions = queries::latest_revisions(&state.write_pool, name).await?;
    let samples = queries::recent_samples(&state.write_pool, name, Utc::now()).await?;
    Ok(render::Environment { revisions, samples })
}

#[utoipa::path(get, path = "/environments", tag = "releases",
    responses((status = 200, description = "Every environment: deployed revisions, status samples and plot data", body = schemas::Environments)))]
async fn environments(State(state): State<AppState>) -> Answer {
    let mut answer = Vec::new();
    for name in queries::environment_names(&state.write_pool).await? {
        let environment = environment(&state, &name).await?;
        answer.push((name, environment));
    }
    Ok(Json(render::Named(answer)).into_response())
}

#[utoipa::path(get, path = "/environment/{name}", tag = "releases",
    params(("name" = String, Path, description = "The environment")),
    responses((status = 200, description = "The environment", body = schemas::Environments)))]
async fn one_environment(State(state): State<AppState>, Path(name): Path<String>) -> Answer {
    // No stored name holds a NUL (PostgreSQL text cannot): unknown, not a bad request.
    if name.contains('\0') || !queries::environment_exists(&state.write_pool, &name).await? {
        return Err(ApiError::not_found(format!("environment {name}")));
    }
    let environment = environment(&state, &name).await?;
    Ok(Json(render::Named(vec![(name, environment)])).into_response())
}

fn group_of(field: &str) -> Result<GroupBy, ApiError> {
    match field {
        "user" | "users" => Ok(GroupBy::User),
        "team" | "teams" => Ok(GroupBy::Team),
        "platform" | "platforms" => Ok(GroupBy::Platform),
        "package" | "packages" => Ok(GroupBy::Package),
        other => Err(ApiError::not_found(format!("field {other}"))),
    }
}

/// `platform`, `stime` and `ftime` of `/info` and `/stats`.
fn scope(query: Option<&str>, name: Option<String>) -> Result<Scope, ApiError> {
    let params = Params::parse(query)?;
    let time = |field: &str| {
        params
            .get(field)
            .map(|text| params::time(field, text))
            .transpose()
    };
    Ok(Scope {
        name,
        platform: params.get("platform").map(str::to_owned),
        stime: time("stime")?,
        ftime: time("ftime")?,
    })
}

async fn info_answer(state: &AppState, field: &str, scope: Scope) -> Answer {
    let groups = queries::group_counts(&state.write_pool, group_of(field)?, &scope).await?;
    let answer: Map<String, Value> = groups
        .into_iter()
        .map(|group| (group.key, json!({"releases": group.releases})))
        .collect();
    ok(Value::Object(answer))
}

#[utoipa::path(get, path = "/info/{field}", tag = "releases",
    params(("field" = inline(GroupField), Path, description = "What the counts are grouped by"), ScopeFilters),
    responses((status = 200, description = "Release counts per value of the field", body = schemas::InfoCounts)))]
async fn info(
    State(state): State<AppState>,
    Path(field): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    info_answer(&state, &field, scope(query.as_deref(), None)?).await
}

#[utoipa::path(get, path = "/info/{field}/{name}", tag = "releases",
    params(("field" = inline(GroupField), Path, description = "What the counts are grouped by"),
        ("name" = String, Path, description = "One value of the field"), ScopeFilters),
    responses((status = 200, description = "Release counts of that value", body = schemas::InfoCounts)))]
async fn info_of(
    State(state): State<AppState>,
    Path((field, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Answer {
    info_answer(&state, &field, scope(query.as_deref(), Some(name))?).await
}

#[utoipa::path(get, path = "/info/packages/versions", tag = "releases",
    params(("platform" = Option<String>, Query, description = "Only releases on this platform")),
    responses((status = 200, description = "Each package's latest successful version", body = schemas::PackageVersions)))]
async fn package_versions(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let versions = queries::package_versions(&state.write_pool, params.get("platform")).await?;
    let answer: Map<String, Value> = versions
        .into_iter()
        .map(|(name, version)| (name, json!(version)))
        .collect();
    ok(Value::Object(answer))
}

async fn stats_answer(state: &AppState, group_by: GroupBy, scope: Scope) -> Answer {
    let groups = queries::group_counts(&state.write_pool, group_by, &scope).await?;
    let mut answer: Map<String, Value> = groups
        .iter()
        .map(|group| (group.key.clone(), render::counts(group)))
        .collect();
    if group_by == GroupBy::Global && answer.is_empty() {
        let zero = queries::GroupCounts {
            key: "global".into(),
            releases: 0,
            normal_successful: 0,
            normal_failed: 0,
            rollback_successful: 0,
            rollback_failed: 0,
        };
        answer.insert(zero.key.clone(), render::counts(&zero));
    }
    ok(Value::Object(answer))
}

#[utoipa::path(get, path = "/stats", tag = "releases",
    params(ScopeFilters),
    responses((status = 200, description = "Release counts, normal and rollback, successful and failed", body = schemas::StatsCounts)))]
async fn stats(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    stats_answer(&state, GroupBy::Global, scope(query.as_deref(), None)?).await
}

#[utoipa::path(get, path = "/stats/{field}", tag = "releases",
    params(("field" = inline(GroupField), Path, description = "What the counts are grouped by"), ScopeFilters),
    responses((status = 200, description = "Counts per value of the field", body = schemas::StatsCounts)))]
async fn stats_of_field(
    State(state): State<AppState>,
    Path(field): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let group_by = group_of(&field)?;
    stats_answer(&state, group_by, scope(query.as_deref(), None)?).await
}

#[utoipa::path(get, path = "/stats/{field}/{name}", tag = "releases",
    params(("field" = inline(GroupField), Path, description = "What the counts are grouped by"),
        ("name" = String, Path, description = "One value of the field"), ScopeFilters),
    responses((status = 200, description = "Counts of that value", body = schemas::StatsCounts)))]
async fn stats_of_name(
    State(state): State<AppState>,
    Path((field, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Answer {
    let group_by = group_of(&field)?;
    stats_answer(&state, group_by, scope(query.as_deref(), Some(name))?).await
}

#[utoipa::path(get, path = "/stats/by_date/{subject}", tag = "releases",
    params(("subject" = inline(DatedSubject), Path, description = "Releases or packages"),
        ("unit" = inline(Option<queries::DateUnit>), Query, description = "month when absent")),
    responses((status = 200, description = "Counts by date", body = schemas::DatedCounts)))]
async fn stats_by_date(
    State(state): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let packages = match subject.as_str() {
        "release" => false,
        "package" => true,
        other => return Err(ApiError::not_found(format!("stats subject {other}"))),
    };
    let params = Params::parse(query.as_deref())?;
    let unit = params.get("unit").unwrap_or("month");
    let Some(unit) = queries::DateUnit::parse(unit) else {
        return Err(ApiError::bad(format!(
            "unit must be one of year, month, week, iso, day, hour, not {unit:?}"
        )));
    };
    let rows = queries::dated(&state.write_pool, packages, unit).await?;
    ok(render::by_date(&rows))
}

#[utoipa::path(post, path = "/releases", tag = "releases", security((), ("bearer" = []), ("x_auth_token" = [])),
    request_body(content = schemas::NewRelease, content_type = "application/json"),
    responses((status = 200, description = "Created and started", body = schemas::Created)))]
async fn create_release(State(state): State<AppState>, _: WriteAccess, body: Bytes) -> Answer {
    let body = object_body(&body)?;
    let id = uuid::Uuid::new_v4().to_string();
    let payload = writes::create_payload(&id, &body)?;
    // Orlo's POST creates and starts the release (stime = now).
    writes::apply(
        &state,
        vec![
            ("release.create", payload),
            ("release.start", json!({"release_id": id})),
        ],
    )
    .await?;
    ok(json!({"id": id}))
}

/// The release a write names, which must exist.
async fn known_release(state: &AppState, release: &str) -> Result<String, ApiError> {
    let id = params::uuid("release id", release)?;
    match queries::release(&state.write_pool, &id).await? {
        Some(_) => Ok(id),
        None => Err(ApiError::not_found(format!("release {id}"))),
    }
}

/// The package a write names, which must exist in that release.
async fn known_package(
    state: &AppState,
    release: &str,
    package: &str,
) -> Result<PackageRow, ApiError> {
    let release_id = known_release(state, release).await?;
    let package_id = params::uuid("package id", package)?;
    match queries::package(&state.write_pool, Some(&release_id), &package_id).await? {
        Some(row) => Ok(row),
        None => Err(ApiError::not_found(format!("package {package_id}"))),
    }
}

async fn release_event(state: &AppState, release: &str, kind: &str) -> Answer {
    let id = known_release(state, release).await?;
    writes::apply(state, vec![(kind, json!({"release_id": id}))]).await?;
    no_content()
}

#[utoipa::path(post, path = "/releases/{release}/start", tag = "releases", security((), ("bearer" = []), ("x_auth_token" = [])),
    params(("release" = String, Path, format = Uuid, description = "The release id")),
    responses((status = 204, description = "Done")))]
async fn start_release(
    State(state): State<AppState>,
    _: WriteAccess,
    Path(release): Path<String>,
) -> Answer {
    release_event(&state, &release, "release.start").await
}

#[utoipa::path(post, path = "/releases/{release}/stop", tag = "releases", security((), ("bearer" = []), ("x_auth_token" = [])),
    params(("release" = String, Path, format = Uuid, description = "The release id")),
    responses((status = 204, description = "Done")))]
async fn stop_release(
    State(state): State<AppState>,
    _: WriteAccess,
    Path(release): Path<String>,
) -> Answer {
    release_event(&state, &release, "release.end").await
}

#[utoipa::path(post, path = "/releases/{release}/notes", tag = "releases", security((), ("bearer" = []), ("x_auth_token" = [])),
    request_body(content = schemas::Note, content_type = "application/json", description = "A JSON object; an empty body is an empty object"),
    params(("release" = String, Path, format = Uuid, description = "The release id")),
    responses((status = 204, description = "Done")))]
async fn add_note(
    State(state): State<AppState>,
    _: WriteAccess,
    Path(release): Path<String>,
    body: Bytes,
) -> Answer {
    let body = object_body(&body)?;
    let text = required_text(&body, "text")?;
    let id = known_release(&state, &release).await?;
    writes::apply(
        &state,
        vec![("release.note", json!({"release_id": id, "text": text}))],
    )
    .await?;
    no_content()
}

#[utoipa::path(post, path = "/releases/{release}/metadata", tag = "releases", security((), ("bearer" = []), ("x_auth_token" = [])),
    request_body(content = Object, content_type = "application/json", description = "A JSON object; an empty body is an empty object"),
    params(("release" = String, Path, format = Uuid, description = "The release id")),
    responses((status = 204, description = "Done")))]
async fn add_metadata(
    State(state): State<AppState>,
    _: WriteAccess,
    Path(release): Path<String>,
    body: Bytes,
) -> Answer {
    let metadata = object_body(&body)?;
    let id = known_release(&state, &release).await?;
    let payload = json!({"release_id": id, "metadata": metadata});
    writes::apply(&state, vec![("release.metadata", payload)]).await?;
    no_content()
}

#[utoipa::path(post, path = "/releases/{release}/packages", tag = "releases", security((), ("bearer" = []), ("x_auth_token" = [])),
    request_body(content = schemas::NewPackage, content_type = "application/json", description = "A JSON object; an empty body is an empty object"),
    params(("release" = String, Path, format = Uuid, description = "The release id")),
    responses((status = 200, description = "Created", body = schemas::Created)))]
async fn create_package(
    State(state): State<AppState>,
    _: WriteAccess,
    Path(release): Path<String>,
    body: Bytes,
) -> Answer {
    let body = object_body(&body)?;
    let (name, version) = (
        required_text(&body, "name")?,
        required_text(&body, "version")?,
    );
    let rollback = match body.get("rollback") {
        None | Some(Value::Null) => false,
        Some(value) => is_success(Some(value)),
    };
    let diff_url = writes::optional_text(&body, "diff_url")?;
    let release_id = known_release(&state, &release).await?;
    let package_id = uuid::Uuid::new_v4().to_string();
    let payload = json!({
        "release_id": release_id, "package_id": package_id, "name": name, "version": version,
        "rollback": rollback, "diff_url": diff_url,
    });
    writes::apply(&state, vec![("package.create", payload)]).await?;
    ok(json!({"id": package_id}))
}

#[utoipa::path(post, path = "/releases/{release}/packages/{package}/start", tag = "releases", security((), ("bearer" = []), ("x_auth_token" = [])),
    params(("release" = String, Path, format = Uuid, description = "The release id"), ("package" = String, Path, format = Uuid, description = "The package id")),
    responses((status = 204, description = "Done")))]
async fn start_package(
    State(state): State<AppState>,
    _: WriteAccess,
    Path((release, package)): Path<(String, String)>,
) -> Answer {
    let package = known_package(&state, &release, &package).await?;
    let payload = Value::Object(writes::package_payload(&package));
    writes::apply(&state, vec![("package.start", payload)]).await?;
    no_content()
}

#[utoipa::path(post, path = "/releases/{release}/packages/{package}/stop", tag = "releases", security((), ("bearer" = []), ("x_auth_token" = [])),
    request_body(content = schemas::PackageStop, content_type = "application/json", description = "A JSON object; an empty body is an empty object"),
    params(("release" = String, Path, format = Uuid, description = "The release id"), ("package" = String, Path, format = Uuid, description = "The package id")),
    responses((status = 204, description = "Done")))]
async fn stop_package(
    State(state): State<AppState>,
    _: WriteAccess,
    Path((release, package)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let body = object_body(&body)?;
    let package = known_package(&state, &release, &package).await?;
    // Over HTTP a stop needs a start; on the bus an early end is kept (API.md §3).
    if package.stime.is_none() {
        return Err(ApiError::bad(format!(
            "package {} was never started",
            package.id
        )));
    }
    let mut payload = writes::package_payload(&package);
    payload.insert("success".into(), json!(is_success(body.get("success"))));
    writes::apply(&state, vec![("package.end", Value::Object(payload))]).await?;
    no_content()
}

#[utoipa::path(post, path = "/releases/{release}/packages/{package}/results", tag = "releases", security((), ("bearer" = []), ("x_auth_token" = [])),
    request_body(content = schemas::Results, content_type = "application/json", description = "A JSON object; an empty body is an empty object"),
    params(("release" = String, Path, format = Uuid, description = "The release id"), ("package" = String, Path, format = Uuid, description = "The package id")),
    responses((status = 204, description = "Done")))]
async fn add_results(
    State(state): State<AppState>,
    _: WriteAccess,
    Path((release, package)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let body = object_body(&body)?;
    let Some(content) = body.get("content").cloned() else {
        return Err(ApiError::bad("missing content in request body"));
    };
    let package = known_package(&state, &release, &package).await?;
    let payload =
        json!({"release_id": package.release_id, "package_id": package.id, "content": content});
    writes::apply(&state, vec![("package.result", payload)]).await?;
    no_content()
}
