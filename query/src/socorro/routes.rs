//! The Socorro middleware routes and their handlers: parse the parameters
//! (path or query form), run the queries, render the middleware's shapes.
//! Every route answers with and without a trailing slash, with parameters in
//! the path, and under `/bpapi/` too (API.md §0).

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{json, Map, Value};

use super::params::{self, Params, Search};
use super::queries::{self, Builds, HourSplit, Period};
use super::render;
use super::SocorroError;
use crate::app::AppState;

type Answer = Result<Response, SocorroError>;

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

/// Every Socorro middleware route.
pub fn router() -> Router<AppState> {
    let services: [(&str, MethodRouter<AppState>); 9] = [
        ("/crashes/comments", get(comments)),
        ("/crashes/paireduuid", get(paired_uuid)),
        ("/crashes/signatures", get(top_crashers)),
        ("/extensions", get(extensions)),
        ("/products/builds", get(builds)),
        ("/products/versions", get(versions)),
        ("/search", get(search)),
        ("/report/list", get(report_list)),
        ("/util/versions_info", get(versions_info)),
    ];
    let mut router = Router::new();
    for root in ["", "/bpapi"] {
        for (service, handler) in &services {
            let path = format!("{root}{service}");
            router = router
                .route(&path, handler.clone())
                .route(&format!("{path}/"), handler.clone())
                .route(&format!("{path}/{{*parameters}}"), handler.clone());
        }
    }
    router
}

/// The parameters of a request to `service`: the path after it, and the query.
fn params_of(uri: &Uri, service: &str, positional: Option<&str>) -> Result<Params, SocorroError> {
    let path = uri.path();
    let path = path.strip_prefix("/bpapi").unwrap_or(path);
    let rest = path.strip_prefix(service).unwrap_or_default();
    Params::parse(rest, uri.query(), positional)
}

async fn comments(State(state): State<AppState>, uri: Uri) -> Answer {
    let params = params_of(&uri, "/crashes/comments", None)?;
    let signature = params.required("signature")?;
    let mut search = Search::parse(&params, Utc::now(), &state.default_product)?;
    search.signature = Some(signature);
    let (rows, total) = queries::comments(&state.pool, &search, params.paging()?).await?;
    let hits = rows
        .iter()
        .map(|row| {
            json!({
                "date_processed": render::report_time(row.date_processed),
                "uuid": row.uuid,
                "user_comments": row.user_comments,
                "email": row.email,
            })
        })
        .collect();
    answer(render::hits(hits, total))
}

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

/// The first hour boundary at or after `when`.
fn hour_ceiling(when: DateTime<Utc>) -> DateTime<Utc> {
    let floor = hour_floor(when);
    if floor == when {
        when
    } else {
        floor + TimeDelta::hours(1)
    }
}

fn hour_floor(when: DateTime<Utc>) -> DateTime<Utc> {
    when.duration_trunc(TimeDelta::hours(1)).unwrap_or(when)
}

/// Splits `[start, end)` into whole hours (aggregates) and edges (reports).
fn split_hours(start: DateTime<Utc>, end: DateTime<Utc>) -> HourSplit {
    let (first_hour, last_hour) = (hour_ceiling(start), hour_floor(end));
    if first_hour < last_hour {
        HourSplit {
            hours: (first_hour, last_hour),
            edges: [(start, first_hour), (last_hour, end)],
        }
    } else {
        HourSplit {
            hours: (start, start),
            edges: [(start, end), (end, end)],
        }
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
    fn parse(params: &Params) -> Result<TopCrashersRequest, SocorroError> {
        let product = params.required("product")?;
        let version = params.required("version")?;
        let end = params.date("end_date")?.unwrap_or_else(Utc::now);
        let hours = params.count("duration")?.unwrap_or(DEFAULT_DURATION_HOURS);
        if !(1..=MAX_DURATION_HOURS).contains(&hours) {
            return Err(SocorroError::bad(
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
async fn top_crashers(State(state): State<AppState>, uri: Uri) -> Answer {
    let params = params_of(&uri, "/crashes/signatures", None)?;
    let request = TopCrashersRequest::parse(&params)?;
    let (end, duration) = (request.end, request.duration);
    let start = end - duration;
    let current = period(&request.filters, start, end);
    let previous = period(&request.filters, start - duration, start);
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

async fn extensions(State(state): State<AppState>, uri: Uri) -> Answer {
    let params = params_of(&uri, "/extensions", None)?;
    let uuid = params.required("uuid")?;
    let date = params
        .date("date")?
        .ok_or_else(|| SocorroError::bad("date", "missing mandatory parameter date"))?;
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

async fn search(State(state): State<AppState>, uri: Uri) -> Answer {
    let path = uri.path();
    let path = path.strip_prefix("/bpapi").unwrap_or(path);
    let rest = path.strip_prefix("/search").unwrap_or_default();
    let rest = rest.trim_start_matches('/');
    let (data_type, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let params = Params::parse(rest, uri.query(), None)?;
    let search = Search::parse(&params, Utc::now(), &state.default_product)?;
    let paging = params.paging()?;
    match data_type {
        "" | "signatures" => {
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
        "crashes" => {
            let (rows, total) = matching_reports(&state, &search, paging).await?;
            answer(render::hits(
                rows.iter().map(render::report).collect(),
                total,
            ))
        }
        other => Err(SocorroError::bad(
            "data_type",
            format!(
                "data_type must be signatures or crashes, not {:?}",
                other.chars().take(100).collect::<String>()
            ),
        )),
    }
}

/// A page of the reports matching `search` and how many match: counted from
/// the aggregates when they can answer, else from the reports.
async fn matching_reports(
    state: &AppState,
    search: &Search,
    paging: params::Paging,
) -> Result<(Vec<queries::ReportRow>, i64), SocorroError> {
    let found = if search.answers_from_aggregates() {
        let split = split_hours(search.from, search.to);
        queries::reports_counted_from_hours(&state.pool, search, &split, paging).await?
    } else {
        queries::reports(&state.pool, search, paging).await?
    };
    Ok(found)
}

async fn report_list(State(state): State<AppState>, uri: Uri) -> Answer {
    let params = params_of(&uri, "/report/list", None)?;
    let signature = params.required("signature")?;
    let mut search = Search::parse(&params, Utc::now(), &state.default_product)?;
    search.signature = Some(signature);
    let (rows, total) = matching_reports(&state, &search, params.paging()?).await?;
    answer(render::hits(
        rows.iter().map(render::report).collect(),
        total,
    ))
}

async fn versions_info(State(state): State<AppState>, uri: Uri) -> Answer {
    let params = params_of(&uri, "/util/versions_info", None)?;
    let pairs = params.product_versions("versions")?;
    if pairs.is_empty() {
        return Err(SocorroError::bad(
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
