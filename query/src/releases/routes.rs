//! The release routes (API.md §3): Observatory's reads, Orlo's reads and
//! writes, and Sponge's singular `/release…` aliases of the writes. Every
//! path answers with and without a trailing slash.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Map, Value};
use tach_schema::release::is_success;

use super::params::{self, Params};
use super::queries::{self, GroupBy, PackageRow, ReleaseRow, Scope};
use super::writes::{self, authorize, object_body, required_text};
use super::{bad_request, not_found, render, ReleaseError};
use crate::app::AppState;

type Answer = Result<Response, ReleaseError>;

/// Every release route, with and without the trailing slash.
pub fn router() -> Router<AppState> {
    let mut routes: Vec<(String, MethodRouter<AppState>)> = vec![
        ("/ping".into(), get(ping)),
        ("/releases".into(), get(list_releases).post(create_release)),
        ("/release".into(), post(create_release)),
        ("/packages".into(), get(list_packages)),
        ("/packages/{package_id}".into(), get(one_package)),
        ("/environments".into(), get(environments)),
        ("/environment/{name}".into(), get(one_environment)),
        ("/info/packages/versions".into(), get(package_versions)),
        ("/info/{field}".into(), get(info)),
        ("/info/{field}/{name}".into(), get(info_of)),
        ("/stats".into(), get(stats)),
        ("/stats/by_date/{subject}".into(), get(stats_by_date)),
        ("/stats/{field}".into(), get(stats_of_field)),
        ("/stats/{field}/{name}".into(), get(stats_of_name)),
    ];
    for root in ["/releases", "/release"] {
        routes.extend([
            (format!("{root}/{{release}}"), get(one_release)),
            (format!("{root}/{{release}}/start"), post(start_release)),
            (format!("{root}/{{release}}/stop"), post(stop_release)),
            (format!("{root}/{{release}}/notes"), post(add_note)),
            (format!("{root}/{{release}}/metadata"), post(add_metadata)),
            (format!("{root}/{{release}}/packages"), post(create_package)),
            (
                format!("{root}/{{release}}/packages/{{package}}/start"),
                post(start_package),
            ),
            (
                format!("{root}/{{release}}/packages/{{package}}/stop"),
                post(stop_package),
            ),
            (
                format!("{root}/{{release}}/packages/{{package}}/results"),
                post(add_results),
            ),
        ]);
    }
    let mut router = Router::new();
    for (path, handler) in routes {
        router = router
            .route(&path, handler.clone())
            .route(&format!("{path}/"), handler);
    }
    router
}

fn ok(body: Value) -> Answer {
    Ok(Json(body).into_response())
}

fn no_content() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn ping() -> Answer {
    ok(json!({"message": "pong"}))
}

/// `{"releases": [...]}`: the releases with their packages, in order.
async fn render_releases(state: &AppState, rows: &[ReleaseRow]) -> Answer {
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let packages = queries::packages_of(&state.pool, &ids).await?;
    let releases: Vec<render::Release<'_>> = rows
        .iter()
        .map(|row| render::Release {
            row,
            packages: &packages,
        })
        .collect();
    Ok(Json(render::Keyed("releases", releases)).into_response())
}

async fn list_releases(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let filters = params.release_filters()?;
    let rows = queries::releases(&state.pool, &filters, params.paging()?).await?;
    render_releases(&state, &rows).await
}

/// `/releases/<uuid>` is Orlo's release; anything else is a tag
/// (Observatory: `v33` or `33`), answered as the bare tag object.
async fn one_release(State(state): State<AppState>, Path(key): Path<String>) -> Answer {
    if let Ok(id) = uuid::Uuid::try_parse(&key) {
        let id = id.hyphenated().to_string();
        let Some(row) = queries::release(&state.pool, &id).await? else {
            return Err(not_found(format!("release {id}")));
        };
        return render_releases(&state, &[row]).await;
    }
    let mut tags = vec![key.clone()];
    if key.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        tags.push(format!("v{key}"));
    }
    match queries::tag_object(&state.pool, &tags).await? {
        Some(tag_object) => ok(tag_object),
        None => Err(not_found(format!("release {key}"))),
    }
}

async fn list_packages(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let filters = params.package_filters()?;
    let rows = queries::packages(&state.pool, &filters, params.paging()?).await?;
    Ok(Json(render::Keyed("packages", rows)).into_response())
}

async fn one_package(State(state): State<AppState>, Path(package_id): Path<String>) -> Answer {
    let package_id = params::uuid("package id", &package_id)?;
    match queries::package(&state.pool, None, &package_id).await? {
        Some(row) => Ok(Json(render::Keyed("packages", [row])).into_response()),
        None => Err(not_found(format!("package {package_id}"))),
    }
}

async fn environment(state: &AppState, name: &str) -> Result<render::Environment, ReleaseError> {
    let revisions = queries::latest_revisions(&state.pool, name).await?;
    let samples = queries::recent_samples(&state.pool, name, Utc::now()).await?;
    Ok(render::Environment { revisions, samples })
}

async fn environments(State(state): State<AppState>) -> Answer {
    let mut answer = Vec::new();
    for name in queries::environment_names(&state.pool).await? {
        let environment = environment(&state, &name).await?;
        answer.push((name, environment));
    }
    Ok(Json(render::Named(answer)).into_response())
}

async fn one_environment(State(state): State<AppState>, Path(name): Path<String>) -> Answer {
    // No stored name holds a NUL (PostgreSQL text cannot): unknown, not a bad request.
    if name.contains('\0') || !queries::environment_exists(&state.pool, &name).await? {
        return Err(not_found(format!("environment {name}")));
    }
    let environment = environment(&state, &name).await?;
    Ok(Json(render::Named(vec![(name, environment)])).into_response())
}

fn group_of(field: &str) -> Result<GroupBy, ReleaseError> {
    match field {
        "user" | "users" => Ok(GroupBy::User),
        "team" | "teams" => Ok(GroupBy::Team),
        "platform" | "platforms" => Ok(GroupBy::Platform),
        "package" | "packages" => Ok(GroupBy::Package),
        other => Err(not_found(format!("field {other}"))),
    }
}

/// `platform`, `stime` and `ftime` of `/info` and `/stats`.
fn scope(query: Option<&str>, name: Option<String>) -> Result<Scope, ReleaseError> {
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
    let groups = queries::group_counts(&state.pool, group_of(field)?, &scope).await?;
    let answer: Map<String, Value> = groups
        .into_iter()
        .map(|group| (group.key, json!({"releases": group.releases})))
        .collect();
    ok(Value::Object(answer))
}

async fn info(
    State(state): State<AppState>,
    Path(field): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    info_answer(&state, &field, scope(query.as_deref(), None)?).await
}

async fn info_of(
    State(state): State<AppState>,
    Path((field, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Answer {
    info_answer(&state, &field, scope(query.as_deref(), Some(name))?).await
}

async fn package_versions(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let versions = queries::package_versions(&state.pool, params.get("platform")).await?;
    let answer: Map<String, Value> = versions
        .into_iter()
        .map(|(name, version)| (name, json!(version)))
        .collect();
    ok(Value::Object(answer))
}

async fn stats_answer(state: &AppState, group_by: GroupBy, scope: Scope) -> Answer {
    let groups = queries::group_counts(&state.pool, group_by, &scope).await?;
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

async fn stats(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    stats_answer(&state, GroupBy::Global, scope(query.as_deref(), None)?).await
}

async fn stats_of_field(
    State(state): State<AppState>,
    Path(field): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let group_by = group_of(&field)?;
    stats_answer(&state, group_by, scope(query.as_deref(), None)?).await
}

async fn stats_of_name(
    State(state): State<AppState>,
    Path((field, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Answer {
    let group_by = group_of(&field)?;
    stats_answer(&state, group_by, scope(query.as_deref(), Some(name))?).await
}

async fn stats_by_date(
    State(state): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let packages = match subject.as_str() {
        "release" => false,
        "package" => true,
        other => return Err(not_found(format!("stats subject {other}"))),
    };
    let params = Params::parse(query.as_deref())?;
    let unit = params.get("unit").unwrap_or("month");
    let Some(unit) = queries::DateUnit::parse(unit) else {
        return Err(bad_request(format!(
            "unit must be one of year, month, week, iso, day, hour, not {unit:?}"
        )));
    };
    let rows = queries::dated(&state.pool, packages, unit).await?;
    ok(render::by_date(&rows))
}

async fn create_release(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    authorize(&state, &headers)?;
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
async fn known_release(state: &AppState, release: &str) -> Result<String, ReleaseError> {
    let id = params::uuid("release id", release)?;
    match queries::release(&state.pool, &id).await? {
        Some(_) => Ok(id),
        None => Err(not_found(format!("release {id}"))),
    }
}

/// The package a write names, which must exist in that release.
async fn known_package(
    state: &AppState,
    release: &str,
    package: &str,
) -> Result<PackageRow, ReleaseError> {
    let release_id = known_release(state, release).await?;
    let package_id = params::uuid("package id", package)?;
    match queries::package(&state.pool, Some(&release_id), &package_id).await? {
        Some(row) => Ok(row),
        None => Err(not_found(format!("package {package_id}"))),
    }
}

async fn release_event(state: &AppState, headers: &HeaderMap, release: &str, kind: &str) -> Answer {
    authorize(state, headers)?;
    let id = known_release(state, release).await?;
    writes::apply(state, vec![(kind, json!({"release_id": id}))]).await?;
    no_content()
}

async fn start_release(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(release): Path<String>,
) -> Answer {
    release_event(&state, &headers, &release, "release.start").await
}

async fn stop_release(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(release): Path<String>,
) -> Answer {
    release_event(&state, &headers, &release, "release.end").await
}

async fn add_note(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(release): Path<String>,
    body: Bytes,
) -> Answer {
    authorize(&state, &headers)?;
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

async fn add_metadata(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(release): Path<String>,
    body: Bytes,
) -> Answer {
    authorize(&state, &headers)?;
    let metadata = object_body(&body)?;
    let id = known_release(&state, &release).await?;
    let payload = json!({"release_id": id, "metadata": metadata});
    writes::apply(&state, vec![("release.metadata", payload)]).await?;
    no_content()
}

async fn create_package(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(release): Path<String>,
    body: Bytes,
) -> Answer {
    authorize(&state, &headers)?;
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

async fn start_package(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((release, package)): Path<(String, String)>,
) -> Answer {
    authorize(&state, &headers)?;
    let package = known_package(&state, &release, &package).await?;
    let payload = Value::Object(writes::package_payload(&package));
    writes::apply(&state, vec![("package.start", payload)]).await?;
    no_content()
}

async fn stop_package(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((release, package)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    authorize(&state, &headers)?;
    let body = object_body(&body)?;
    let package = known_package(&state, &release, &package).await?;
    // Over HTTP a stop needs a start; on the bus an early end is kept (API.md §3).
    if package.stime.is_none() {
        return Err(bad_request(format!(
            "package {} was never started",
            package.id
        )));
    }
    let mut payload = writes::package_payload(&package);
    payload.insert("success".into(), json!(is_success(body.get("success"))));
    writes::apply(&state, vec![("package.end", Value::Object(payload))]).await?;
    no_content()
}

async fn add_results(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((release, package)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    authorize(&state, &headers)?;
    let body = object_body(&body)?;
    let Some(content) = body.get("content").cloned() else {
        return Err(bad_request("missing content in request body"));
    };
    let package = known_package(&state, &release, &package).await?;
    let payload =
        json!({"release_id": package.release_id, "package_id": package.id, "content": content});
    writes::apply(&state, vec![("package.result", payload)]).await?;
    no_content()
}
