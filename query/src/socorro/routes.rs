//! The Socorro middleware routes and their handlers: parse the parameters
//! (path or query form), run the queries, render the middleware's shapes.
//! Every route answers with and without a trailing slash, with parameters in
//! the path, and under `/bpapi/` too (API.md §0).

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Map, Value};
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::params::{self, Params, Search};
use super::queries::{self, Builds, HourSplit, Period};
use super::render;
use super::schemas::{self, Hits};
use crate::auth::ReadAccess;
use crate::edge::Routes;
use crate::error::{ApiError, Family};
use crate::hours;
use crate::state::AppState;

type Answer = Result<Response, ApiError>;

/// A 200 with `body` as JSON.
fn answer(body: impl serde::Serialize) -> Answer {
    Ok(Json(body).into_response())
}

/// Default and longest top-crasher period, in hours.
const DEFAULT_DURATION_HOURS: i64 = 168;
const MAX_DURATION_HOURS: i64 = 24 * 366 * 10;
/// Default and largest top-crasher `limit`.
const DEFAULT_TOP_LIMIT: i64 = 100;
const MAX_TOP_LIMIT: i64 = 1000;

/// Every Socorro middleware route; each also takes its parameters in the
/// path form after it, and answers under `/bpapi/` (rewritten).
pub fn routes() -> Routes {
    Routes {
        family: Family::Socorro,
        table: vec![
            routes!(comments),
            routes!(paired_uuid),
            routes!(top_crashers),
            routes!(extensions),
            routes!(builds),
            routes!(versions),
            routes!(search_signatures),
            routes!(search_crashes),
            routes!(report_list),
            routes!(versions_info),
        ],
        path_parameters: true,
        undocumented: vec![("/search/{*data_type}", get(unknown_search))],
    }
}

/// `search_mode`, as documented.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum SearchMode {
    Default,
    IsExactly,
    Contains,
    StartsWith,
}

/// `report_process`, as documented.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum ReportProcess {
    Any,
    Browser,
    Plugin,
    Content,
}

/// `report_type`, as documented.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum ReportType {
    Any,
    Crash,
    Hang,
}

/// `crash_type` of `/crashes/signatures`, as documented.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum CrashType {
    All,
    Browser,
    Plugin,
    Content,
}

/// The filters `/search/*`, `/crashes/comments` and `/report/list` share
/// (API.md §2); lists are `+`-separated.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct SearchFilters {
    /// Products (default TACH_DEFAULT_PRODUCT).
    products: Option<String>,
    /// `Product:Version` items, or bare versions.
    versions: Option<String>,
    /// Terms to search for.
    #[param(rename = "for")]
    terms: Option<String>,
    /// Fields the terms are searched in (signature by default).
    #[param(rename = "in")]
    fields: Option<String>,
    /// How terms match (default: starts with).
    #[param(inline)]
    search_mode: Option<SearchMode>,
    /// Start of the period (YYYY-MM-DD, YYYY-MM-DD HH:MM:SS[.S] or ISO 8601; default a week ago).
    #[param(format = DateTime)]
    from: Option<String>,
    /// End of the period (default now).
    #[param(format = DateTime)]
    to: Option<String>,
    /// Operating systems.
    os: Option<String>,
    /// Branches.
    branches: Option<String>,
    /// Crash reasons.
    reasons: Option<String>,
    /// Build ids.
    build_ids: Option<String>,
    /// Lowest build id.
    build_from: Option<i64>,
    /// Highest build id.
    build_to: Option<i64>,
    /// Which process crashed (default any).
    #[param(inline)]
    report_process: Option<ReportProcess>,
    /// Crashes, hangs or both (default any).
    #[param(inline)]
    report_type: Option<ReportType>,
    /// Plugin terms (with report_process=plugin).
    plugin_terms: Option<String>,
    /// Plugin fields the terms are searched in.
    plugin_in: Option<String>,
    /// How plugin terms match.
    #[param(inline)]
    plugin_search_mode: Option<SearchMode>,
    /// Most hits (default 100, at most 1000).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    result_number: Option<i64>,
    /// Hits to skip.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    result_offset: Option<i64>,
}

/// The parameters of a request to `service`: the path after it, and the query.
fn params_of(uri: &Uri, service: &str, positional: Option<&str>) -> Result<Params, ApiError> {
    let rest = uri.path().strip_prefix(service).unwrap_or_default();
    Params::parse(rest, uri.query(), positional)
}

#[utoipa::path(get, path = "/crashes/comments", tag = "socorro", security((), ("bearer" = []), ("x_auth_token" = [])),
    params(("signature" = String, Query, min_length = 1, description = "The signature"), SearchFilters),
    responses((status = 200, description = "User comments of the matching crashes", body = Hits<schemas::Comment>)))]
async fn comments(State(state): State<AppState>, access: ReadAccess, uri: Uri) -> Answer {
    let params = params_of(&uri, "/crashes/comments", None)?;
    let signature = params.required("signature")?;
    let mut search = Search::parse(&params, Utc::now(), &state.default_product)?;
    search.signature = Some(signature);
    let (rows, total) = queries::comments(&state.pool, &search, params.paging()?).await?;
    let hits = rows
        .iter()
        .map(|row| {
            let mut hit = json!({
                "date_processed": render::report_time(row.date_processed),
                "uuid": row.uuid,
                "user_comments": row.user_comments,
                "email": row.email,
            });
            render::without_protected_fields(&mut hit, access);
            hit
        })
        .collect();
    answer(render::hits(hits, total))
}

#[utoipa::path(get, path = "/crashes/paireduuid", tag = "socorro",
    params(("uuid" = String, Query, min_length = 1, description = "A crash of the pair"),
        ("hangid" = Option<String>, Query, description = "The pair's hang id, when known")),
    responses((status = 200, description = "The other crash(es) of the hang pair", body = Hits<schemas::PairedUuid>)))]
async fn paired_uuid(State(state): State<AppState>, uri: Uri) -> Answer {
    let params = params_of(&uri, "/crashes/paireduuid", None)?;
    let uuid = params.required("uuid")?;
    let hangid = params.text("hangid")?;
    let uuids = queries::paired_uuids(&state.pool, &uuid, hangid.as_deref()).await?;
    let total = uuids.len() as i64;
    let hits = uuids
        .into_iter()
        .map(|uuid| json!({"uuid": uuid}))
        .collect();
    answer(render::hits(hits, total))
}

/// Splits `[start, end)` into whole hours (aggregates) and edges (reports).
fn split_hours(start: DateTime<Utc>, end: DateTime<Utc>) -> HourSplit {
    let split = hours::split(Some(start), Some(end));
    let whole = split
        .hours
        .and_then(|whole| Some((whole.from?, whole.until?)))
        .unwrap_or((start, start));
    // Empty ranges read nothing; the queries take exactly two.
    let mut edges = [(end, end); 2];
    for (slot, edge) in edges.iter_mut().zip(split.edges) {
        *slot = edge;
    }
    HourSplit {
        hours: whole,
        edges,
    }
}

/// A top-crasher period `[start, end)`: whole hours and edges.
fn period(base: &Period, start: DateTime<Utc>, end: DateTime<Utc>) -> Period {
    let split = split_hours(start, end);
    Period {
        hours: split.hours,
        edges: split.edges,
        ..base.clone()
    }
}

/// A parsed `/crashes/signatures` request.
struct TopCrashersRequest {
    /// Product, version and filters; the period is set per query.
    filters: Period,
    /// The current period's end (exclusive).
    end: DateTime<Utc>,
    /// Each period's length.
    duration: TimeDelta,
    /// At most this many rows.
    limit: usize,
}

impl TopCrashersRequest {
    fn parse(params: &Params) -> Result<TopCrashersRequest, ApiError> {
        let product = params.required("product")?;
        let version = params.required("version")?;
        let end = params.date("end_date")?.unwrap_or_else(Utc::now);
        let hours = params.count("duration")?.unwrap_or(DEFAULT_DURATION_HOURS);
        if !(1..=MAX_DURATION_HOURS).contains(&hours) {
            return Err(ApiError::bad_parameter(
                "duration",
                format!("duration must be between 1 and {MAX_DURATION_HOURS} hours"),
            ));
        }
        let crash_type = params.choice(
            "crash_type",
            &["all", "browser", "plugin", "content"],
            "all",
        )?;
        let limit = params
            .count("limit")?
            .unwrap_or(DEFAULT_TOP_LIMIT)
            .min(MAX_TOP_LIMIT);
        let filters = Period {
            product,
            version,
            hours: (end, end),
            edges: [(end, end), (end, end)],
            process: (crash_type != "all").then_some(crash_type),
            os_pattern: params
                .text("os")?
                .map(|os| format!("{}%", queries::escape_like(&os))),
        };
        Ok(TopCrashersRequest {
            filters,
            end,
            duration: TimeDelta::hours(hours),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        })
    }
}

/// Top crashers: the current period and the one before it, each read from
/// the aggregates (and the reports of its partial edge hours), then ranked.
#[utoipa::path(get, path = "/crashes/signatures", tag = "socorro",
    params(("product" = String, Query, min_length = 1, description = "The product"),
        ("version" = String, Query, min_length = 1, description = "The version"),
        ("end_date" = Option<String>, Query, format = DateTime, description = "End of the period (default now)"),
        ("duration" = Option<i64>, Query, minimum = 1, maximum = 87840, description = "The period in hours, 1 to 87840 (default 168)"),
        ("crash_type" = inline(Option<CrashType>), Query, description = "all when absent"),
        ("os" = Option<String>, Query, description = "Only this operating system (a prefix)"),
        ("limit" = Option<i64>, Query, minimum = 0, maximum = 9223372036854775807_i64, description = "Most signatures (default 100, at most 1000)")),
    responses((status = 200, description = "Top crashers of the period, ranked against the period before", body = schemas::TopCrashers)))]
async fn top_crashers(State(state): State<AppState>, uri: Uri) -> Answer {
    let params = params_of(&uri, "/crashes/signatures", None)?;
    let request = TopCrashersRequest::parse(&params)?;
    let [(start, end), (previous_start, previous_end)] =
        hours::top_crasher_periods(request.end, request.duration);
    let current = period(&request.filters, start, end);
    let previous = period(&request.filters, previous_start, previous_end);
    let current = queries::top_crashers(&state.pool, &current).await?;
    let previous = queries::top_crashers(&state.pool, &previous).await?;
    answer(render::top_crashers(
        &render::ranked(current),
        &render::ranked(previous),
        request.limit,
        start,
        end,
    ))
}

#[utoipa::path(get, path = "/extensions", tag = "socorro",
    params(("uuid" = String, Query, min_length = 1, description = "The crash"),
        ("date" = String, Query, format = DateTime, description = "Its date_processed")),
    responses((status = 200, description = "Extensions of the crash report", body = Hits<schemas::Extension>)))]
async fn extensions(State(state): State<AppState>, uri: Uri) -> Answer {
    let params = params_of(&uri, "/extensions", None)?;
    let uuid = params.required("uuid")?;
    let date = params
        .date("date")?
        .ok_or_else(|| ApiError::bad_parameter("date", "missing mandatory parameter date"))?;
    let rows = queries::extensions(&state.pool, &uuid, date).await?;
    let total = rows.len() as i64;
    let hits = rows
        .iter()
        .map(|row| {
            json!({
                "report_id": row.report_id,
                "date_processed": render::iso_time(row.date_processed),
                "extension_key": row.extension_key,
                "extension_id": row.extension_id,
                "extension_version": row.extension_version,
            })
        })
        .collect();
    answer(render::hits(hits, total))
}

#[utoipa::path(get, path = "/products/builds", tag = "socorro",
    params(("product" = String, Query, min_length = 1, description = "The product"),
        ("version" = Option<String>, Query, description = "Only this version"),
        ("from_date" = Option<String>, Query, format = Date, description = "Builds since (also date_from; default a week ago)")),
    responses((status = 200, description = "Nightly and beta builds", body = Vec<schemas::Build>)))]
async fn builds(State(state): State<AppState>, uri: Uri) -> Answer {
    let params = params_of(&uri, "/products/builds", None)?;
    let product = params.required("product")?;
    let version = params.text("version")?;
    // The seed names it both ways.
    let from = match params.date("from_date")? {
        Some(from) => Some(from),
        None => params.date("date_from")?,
    };
    let from = from.unwrap_or_else(|| params::days_before(Utc::now(), 7));
    let rows =
        queries::builds(&state.pool, &product, version.as_deref(), from.date_naive()).await?;
    let builds = rows
        .iter()
        .map(|row| {
            json!({
                "product": row.product,
                "version": row.version,
                "platform": row.platform,
                "buildid": row.buildid,
                "build_type": row.build_type,
                "beta_number": row.beta_number,
                "repository": row.repository,
                "date": render::day(row.date),
            })
        })
        .collect();
    answer(Value::Array(builds))
}

#[utoipa::path(get, path = "/products/versions", tag = "socorro",
    params(("versions" = Option<String>, Query, description = "`Product:Version` items; every version when absent (also the first path segment)")),
    responses((status = 200, description = "Product versions", body = Hits<schemas::ProductVersion>)))]
async fn versions(State(state): State<AppState>, uri: Uri) -> Answer {
    let params = params_of(&uri, "/products/versions", Some("versions"))?;
    let pairs = params.product_versions("versions")?;
    let rows = queries::product_versions(&state.pool, &pairs, Builds::Skipped).await?;
    let total = rows.len() as i64;
    let hits = rows
        .iter()
        .map(|row| {
            json!({
                "product": row.product,
                "version": row.version,
                "build_type": row.build_type,
                "start_date": render::day(row.start_date),
                "end_date": render::day(row.end_date),
                "throttle": row.throttle,
                "is_featured": row.is_featured,
            })
        })
        .collect();
    answer(render::hits(hits, total))
}

/// `/search/signatures` (also `/search`): distinct signatures of the matching crashes.
#[utoipa::path(get, path = "/search/signatures", tag = "socorro",
    params(SearchFilters),
    responses((status = 200, description = "Distinct signatures matching the filters, with counts", body = Hits<schemas::Signature>)))]
async fn search_signatures(State(state): State<AppState>, uri: Uri) -> Answer {
    let params = params_of(&uri, "/search/signatures", None)?;
    let search = Search::parse(&params, Utc::now(), &state.default_product)?;
    let paging = params.paging()?;
    let (rows, total) = if search.answers_from_aggregates() {
        let split = split_hours(search.from, search.to);
        queries::signatures_from_hours(&state.pool, &search, &split, paging).await?
    } else {
        queries::signatures(&state.pool, &search, paging).await?
    };
    let hits = rows
        .iter()
        .map(|row| {
            json!({
                "signature": row.signature,
                "count": row.count,
                "is_windows": row.is_windows,
                "is_mac": row.is_mac,
                "is_linux": row.is_linux,
                "numhang": row.numhang,
                "numplugin": row.numplugin,
            })
        })
        .collect();
    answer(render::hits(hits, total))
}

/// `/search/crashes`: the matching crash reports.
#[utoipa::path(get, path = "/search/crashes", tag = "socorro", security((), ("bearer" = []), ("x_auth_token" = [])),
    params(SearchFilters),
    responses((status = 200, description = "Crash reports matching the filters", body = Hits<schemas::Report>)))]
async fn search_crashes(State(state): State<AppState>, access: ReadAccess, uri: Uri) -> Answer {
    let params = params_of(&uri, "/search/crashes", None)?;
    let search = Search::parse(&params, Utc::now(), &state.default_product)?;
    let (rows, total) = matching_reports(&state, &search, params.paging()?).await?;
    answer(render::hits(
        rows.iter().map(|row| render::report(row, access)).collect(),
        total,
    ))
}

/// `/search/<data_type>/…` of any other data type.
async fn unknown_search(uri: Uri) -> ApiError {
    let data_type = uri.path()["/search/".len()..]
        .split('/')
        .next()
        .unwrap_or_default();
    ApiError::bad_parameter(
        "data_type",
        format!(
            "data_type must be signatures or crashes, not {:?}",
            data_type.chars().take(100).collect::<String>()
        ),
    )
}

/// A page of the reports matching `search` and how many match: counted from
/// the aggregates when they can answer, else from the reports.
async fn matching_reports(
    state: &AppState,
    search: &Search,
    paging: params::Paging,
) -> Result<(Vec<queries::ReportRow>, i64), ApiError> {
    let found = if search.answers_from_aggregates() {
        let split = split_hours(search.from, search.to);
        queries::reports_counted_from_hours(&state.pool, search, &split, paging).await?
    } else {
        queries::reports(&state.pool, search, paging).await?
    };
    Ok(found)
}

#[utoipa::path(get, path = "/report/list", tag = "socorro", security((), ("bearer" = []), ("x_auth_token" = [])),
    params(("signature" = String, Query, min_length = 1, description = "The signature"), SearchFilters),
    responses((status = 200, description = "Reports of the signature", body = Hits<schemas::Report>)))]
async fn report_list(State(state): State<AppState>, access: ReadAccess, uri: Uri) -> Answer {
    let params = params_of(&uri, "/report/list", None)?;
    let signature = params.required("signature")?;
    let mut search = Search::parse(&params, Utc::now(), &state.default_product)?;
    search.signature = Some(signature);
    let (rows, total) = matching_reports(&state, &search, params.paging()?).await?;
    answer(render::hits(
        rows.iter().map(|row| render::report(row, access)).collect(),
        total,
    ))
}

#[utoipa::path(get, path = "/util/versions_info", tag = "socorro",
    params(("versions" = String, Query, pattern = "^[^:+]+:[^+]+([+][^:+]+:[^+]+)*$", description = "`Product:Version` items, `+`-separated")),
    responses((status = 200, description = "Per `Product:Version` asked for and known", body = std::collections::HashMap<String, schemas::VersionInfo>)))]
async fn versions_info(State(state): State<AppState>, uri: Uri) -> Answer {
    let params = params_of(&uri, "/util/versions_info", None)?;
    let pairs = params.product_versions("versions")?;
    if pairs.is_empty() {
        return Err(ApiError::bad_parameter(
            "versions",
            "missing mandatory parameter versions",
        ));
    }
    let rows = queries::product_versions(&state.pool, &pairs, Builds::Listed).await?;
    let mut info = Map::new();
    for row in rows {
        let build_ids = (!row.build_ids.is_empty()).then_some(&row.build_ids);
        info.insert(
            format!("{}:{}", row.product, row.version),
            json!({
                "version_string": row.version,
                "product_name": row.product,
                "major_version": row.major_version,
                "release_channel": row.release_channel,
                "build_id": build_ids,
            }),
        );
    }
    answer(Value::Object(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        tach_schema::timestamp::parse(text).unwrap()
    }

    fn base() -> Period {
        let now = at("2015-11-30 00:00:00");
        Period {
            product: "Firefox".into(),
            version: "42.0".into(),
            hours: (now, now),
            edges: [(now, now), (now, now)],
            process: None,
            os_pattern: None,
        }
    }

    #[test]
    fn a_period_is_whole_hours_plus_its_partial_edges() {
        let period = period(
            &base(),
            at("2015-11-29 12:30:00"),
            at("2015-11-30 12:10:00"),
        );
        assert_eq!(
            period.hours,
            (at("2015-11-29 13:00:00"), at("2015-11-30 12:00:00"))
        );
        assert_eq!(
            period.edges,
            [
                (at("2015-11-29 12:30:00"), at("2015-11-29 13:00:00")),
                (at("2015-11-30 12:00:00"), at("2015-11-30 12:10:00")),
            ]
        );
    }

    #[test]
    fn an_aligned_period_reads_only_aggregates() {
        let period = period(
            &base(),
            at("2015-11-29 12:00:00"),
            at("2015-11-30 12:00:00"),
        );
        assert_eq!(
            period.hours,
            (at("2015-11-29 12:00:00"), at("2015-11-30 12:00:00"))
        );
        assert!(period.edges.iter().all(|(from, to)| from == to));
    }

    #[test]
    fn a_period_inside_one_hour_reads_only_reports() {
        let period = period(
            &base(),
            at("2015-11-29 12:10:00"),
            at("2015-11-29 12:50:00"),
        );
        assert_eq!(period.hours.0, period.hours.1);
        assert_eq!(
            period.edges[0],
            (at("2015-11-29 12:10:00"), at("2015-11-29 12:50:00"))
        );
        assert_eq!(period.edges[1].0, period.edges[1].1);
    }
}
