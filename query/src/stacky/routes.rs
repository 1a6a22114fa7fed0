//! The `stacky/*` routes and their handlers: parse the parameters, run the
//! queries, render the table.

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use chrono::{SubsecRound, TimeDelta, Utc};
use serde_json::{json, Value};
use utoipa_axum::routes;

use super::params::{self, Params, Service};
use super::queries::{self, Order};
use super::render;
use super::render::{event_row, optional_when, table, table_or_empty};
use super::summarize;
use super::summary;
use crate::edge::Routes;
use crate::error::{ApiError, Family};
use crate::params::Paging;
use crate::state::AppState;

type Answer = Result<Json<Value>, ApiError>;

/// Every `stacky/*` route (`/stacky/usages/…` is rewritten to `/stacky/usage/…`).
pub fn routes() -> Routes {
    Routes {
        family: Family::Stacky,
        table: vec![
            routes!(deployments),
            routes!(events),
            routes!(hosts),
            routes!(uuid),
            routes!(request),
            routes!(search),
            routes!(show),
            routes!(watch),
            routes!(super::stream::watch_stream),
            routes!(timings),
            routes!(timings_of_uuid),
            routes!(summary),
            routes!(kpi_all),
            routes!(kpi_of_tenant),
            routes!(reports),
            routes!(search_reports),
            routes!(report),
            routes!(launches),
            routes!(deletes),
            routes!(exists),
        ],
        path_parameters: false,
        undocumented: Vec::new(),
    }
}

/// `field` of `stacky/search`, as documented (which are allowed depends on `service`).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum SearchField {
    Instance,
    Uuid,
    RequestId,
    Tenant,
    Event,
    Host,
    Service,
    Publisher,
    State,
    OldState,
    OldTask,
    Task,
    Status,
    Owner,
    RoutingKey,
    MessageId,
}

/// A stacky table: row 0 is the header, each other row one answer.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Table(Vec<Vec<serde_json::Value>>);

#[utoipa::path(get, path = "/stacky/deployments", tag = "stacky",
    responses((status = 200, description = "`[\"#\", \"Name\"]` per deployment", body = Table)))]
async fn deployments(State(state): State<AppState>) -> Answer {
    let rows = queries::deployments(&state.pool).await?;
    Ok(table(
        json!(["#", "Name"]),
        rows.into_iter().map(|(id, name)| json!([id, name])),
    ))
}

/// `service` when given, else every service's names merged.
fn families_or_all(params: &Params) -> Result<Vec<&'static str>, ApiError> {
    if params.get("service").is_some() {
        return Ok(params.service()?.families().to_vec());
    }
    Ok([Service::Nova, Service::Glance, Service::Generic]
        .iter()
        .flat_map(|s| s.families().iter().copied())
        .collect())
}

#[utoipa::path(get, path = "/stacky/events", tag = "stacky",
    params(("service" = inline(Option<Service>), Query, description = "Every service's names when absent")),
    responses((status = 200, description = "Distinct event names", body = Table)))]
async fn events(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let names = queries::event_names(&state.pool, &families_or_all(&params)?).await?;
    Ok(table(
        json!(["Event Name"]),
        names.into_iter().map(|name| json!([name])),
    ))
}

#[utoipa::path(get, path = "/stacky/hosts", tag = "stacky",
    params(("service" = inline(Option<Service>), Query, description = "nova when absent")),
    responses((status = 200, description = "Distinct hosts", body = Table)))]
async fn hosts(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let hosts = queries::hosts(&state.pool, params.service()?.families()).await?;
    Ok(table(
        json!(["Host Name"]),
        hosts.into_iter().map(|host| json!([host])),
    ))
}

#[utoipa::path(get, path = "/stacky/uuid", tag = "stacky",
    params(("uuid" = String, Query, format = Uuid, description = "Instance UUID (glance: image UUID)"),
        ("service" = inline(Option<Service>), Query, description = "nova when absent"),
        ("when_min" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "Earliest event time, decimal unix seconds"),
        ("when_max" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "Latest event time, decimal unix seconds"),
        Paging),
    responses((status = 200, description = "The events, oldest first; `[]` when none", body = Table)))]
async fn uuid(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let service = params.service()?;
    let uuid = params::uuid(params.required("uuid")?)?;
    let column = if service == Service::Glance {
        "image_uuid"
    } else {
        "instance"
    };
    let window = params.window("when_min", "when_max")?;
    let rows = queries::events_where(
        &state.pool,
        service,
        column,
        &uuid,
        window,
        params.paging()?,
        Order::OldestFirst,
    )
    .await?;
    Ok(table_or_empty(
        render::event_header(service),
        rows.iter().map(|row| event_row(service, row)).collect(),
    ))
}

#[utoipa::path(get, path = "/stacky/request", tag = "stacky",
    params(("request_id" = String, Query, pattern = "^(req-)?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$", description = "req-<uuid>"),
        ("when_min" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "Earliest event time, decimal unix seconds"),
        ("when_max" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "Latest event time, decimal unix seconds"),
        Paging),
    responses((status = 200, description = "The request's nova events, oldest first", body = Table)))]
async fn request(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let request_id = params::request_id(params.required("request_id")?)?;
    let window = params.window("when_min", "when_max")?;
    let rows = queries::events_where(
        &state.pool,
        Service::Nova,
        "request_id",
        &request_id,
        window,
        params.paging()?,
        Order::OldestFirst,
    )
    .await?;
    Ok(table(
        render::event_header(Service::Nova),
        rows.iter().map(|row| event_row(Service::Nova, row)),
    ))
}

#[utoipa::path(get, path = "/stacky/search", tag = "stacky",
    params(("field" = inline(SearchField), Query, description = "nova: instance, request_id, tenant, event, host, service, publisher, state, old_state, old_task, task, routing_key, message_id; glance: uuid, request_id, event, host, service, publisher, status, owner, routing_key, message_id"),
        ("value" = String, Query, min_length = 1, description = "The value the field equals"),
        ("service" = inline(Option<Service>), Query, description = "nova when absent"),
        ("when_min" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "Earliest event time, decimal unix seconds"),
        ("when_max" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "Latest event time, decimal unix seconds"),
        Paging),
    responses((status = 200, description = "Matching events, newest first; `[]` when none", body = Table)))]
async fn search(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let service = params.service()?;
    let field = params.required("field")?;
    let value = params.required("value")?;
    let allowed = service.search_fields();
    let Some((_, column)) = allowed.iter().find(|(name, _)| *name == field) else {
        let names: Vec<&str> = allowed.iter().map(|(name, _)| *name).collect();
        return Err(ApiError::bad(format!(
            "unknown field {field:?}; use one of {}",
            names.join(", ")
        )));
    };
    let window = params.window("when_min", "when_max")?;
    let rows = queries::events_where(
        &state.pool,
        service,
        column,
        value,
        window,
        params.paging()?,
        Order::NewestFirst,
    )
    .await?;
    Ok(table_or_empty(
        render::event_header(service),
        rows.iter().map(|row| event_row(service, row)).collect(),
    ))
}

fn integer_path(text: &str, what: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .map_err(|_| ApiError::bad(format!("{what} must be an integer, not {text:?}")))
}

#[utoipa::path(get, path = "/stacky/show/{event_id}", tag = "stacky",
    params(("event_id" = i64, Path, description = "The event's `#`"),
        ("service" = inline(Option<Service>), Query, description = "nova when absent")),
    responses((status = 200, description = "`[<key/value table>, <pretty JSON of [routing key, body]>, <uuid>]`", body = Vec<serde_json::Value>)))]
async fn show(
    State(state): State<AppState>,
    Path(event_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let service = params.service()?;
    let id = integer_path(&event_id, "the event id")?;
    let event = queries::event_by_id(&state.pool, service, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("event {id}")))?;
    let (status_key, status) = match service {
        Service::Glance => ("Status", &event.image_status),
        _ => ("State", &event.state),
    };
    let uuid = if service == Service::Glance {
        &event.image_uuid
    } else {
        &event.instance
    };
    let attributes = json!([
        ["Key", "Value"],
        ["#", event.id],
        ["When", render::when(event.when)],
        ["Deployment", event.deployment],
        ["Category", event.routing_key],
        ["Publisher", event.publisher],
        [status_key, status],
        ["Event", event.event],
        ["Service", event.service],
        ["Host", event.host],
        ["UUID", uuid],
        ["Req ID", event.request_id],
    ]);
    let body: Value =
        serde_json::from_str(&event.body).unwrap_or(Value::String(event.body.clone()));
    let pretty = serde_json::to_string_pretty(&json!([event.routing_key, body]))
        .map_err(|error| ApiError::Internal(error.into()))?;
    Ok(Json(json!([attributes, pretty, uuid])))
}

/// The deployment a `watch` path names: None for 0, every deployment.
pub(super) fn deployment_filter(segment: &str) -> Result<Option<i32>, ApiError> {
    let deployment_id = integer_path(segment, "the deployment id")?;
    let deployment_id = i32::try_from(deployment_id)
        .ok()
        .filter(|id| *id >= 0)
        .ok_or_else(|| ApiError::bad(format!("no deployment {deployment_id}")))?;
    Ok((deployment_id > 0).then_some(deployment_id))
}

/// At most this many events per `watch` answer.
const WATCH_LIMIT: i64 = 1000;

#[utoipa::path(get, path = "/stacky/watch/{deployment_id}", tag = "stacky",
    params(("deployment_id" = i32, Path, minimum = 0, description = "A deployment's `#`; 0 watches every deployment"),
        ("since" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "decimal unix seconds; default two seconds ago"),
        ("event_name" = Option<String>, Query, description = "Only events of this name"),
        ("service" = inline(Option<Service>), Query, description = "nova when absent")),
    responses((status = 200, description = "`[<column widths>, <events>, <now as unix seconds>]`, at most 1000 events", body = Vec<serde_json::Value>)))]
async fn watch(
    State(state): State<AppState>,
    Path(deployment): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let service = params.service()?;
    let filter = deployment_filter(&deployment)?;
    // Cut to the second, as StackTach did, so answers can be cached.
    let now = Utc::now().trunc_subsecs(0);
    let since = params
        .unix_time("since")?
        .unwrap_or(now - TimeDelta::seconds(2));
    let event_name = params.get("event_name").filter(|name| !name.is_empty());
    let rows = queries::watched_events(
        &state.pool,
        service,
        filter,
        event_name,
        since,
        now,
        WATCH_LIMIT,
    )
    .await?;
    let widest = queries::longest_event_name(&state.pool, service.families()).await?;
    let events: Vec<Value> = rows
        .iter()
        .map(|row| {
            let uuid = if service == Service::Glance {
                &row.image_uuid
            } else {
                &row.instance
            };
            render::watch_row(
                row.id,
                row.is_error,
                row.when,
                &row.deployment,
                &row.event,
                uuid.as_deref(),
            )
        })
        .collect();
    // Assembled, not `json!`: that would copy every event row once more.
    Ok(Json(Value::Array(vec![
        json!([10, 1, 15, 20, widest, 36]),
        Value::Array(events),
        Value::String(now.timestamp().to_string()),
    ])))
}

#[utoipa::path(get, path = "/stacky/timings", tag = "stacky",
    params(("name" = String, Query, min_length = 1, description = "An operation, e.g. compute.instance.create"),
        ("end_when_min" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "Earliest end time, decimal unix seconds"),
        ("end_when_max" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "Latest end time, decimal unix seconds"),
        Paging),
    responses((status = 200, description = "Complete timings of the operation, shortest first", body = Table)))]
async fn timings(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let name = params.required("name")?;
    let window = params.window("end_when_min", "end_when_max")?;
    let rows = queries::timings_by_name(&state.pool, name, window, params.paging()?).await?;
    Ok(table(
        json!([name, "Time"]),
        rows.into_iter()
            .map(|(instance, micros)| json!([instance, render::duration(micros)])),
    ))
}

#[utoipa::path(get, path = "/stacky/timings/uuid", tag = "stacky",
    params(("uuid" = String, Query, format = Uuid, description = "Instance UUID")),
    responses((status = 200, description = "Every timing of the instance, marked S (start only), E (end only) or . (complete)", body = Table)))]
async fn timings_of_uuid(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let uuid = params::uuid(params.required("uuid")?)?;
    let rows = queries::timings_of_instance(&state.pool, &uuid).await?;
    let rows = rows.into_iter().map(|timing| {
        let (mark, time) = match (timing.start_when, timing.end_when, timing.duration_us) {
            (Some(_), Some(_), Some(micros)) => (".", render::duration(micros)),
            (Some(_), None, _) => ("S", "n/a".to_owned()),
            _ => ("E", "n/a".to_owned()),
        };
        json!([mark, timing.operation, time])
    });
    Ok(table(json!(["?", "Event", "Time (secs)"]), rows))
}

#[utoipa::path(get, path = "/stacky/summary", tag = "stacky",
    params(("when_min" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "Earliest end time, decimal unix seconds"),
        ("when_max" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "Latest end time, decimal unix seconds"),
        ("percentiles" = Option<String>, Query, description = "Comma-separated percentiles in (0, 100], e.g. 50,95,99")),
    responses((status = 200, description = "Per operation: N, min, max, average and the percentiles asked for", body = Table)))]
async fn summary(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let window = params.window("when_min", "when_max")?;
    let percentiles = summary::percentiles(params.get("percentiles"))?;
    let summaries = summarize::summarize(&state, window).await?;
    let mut header = vec![
        json!("Event"),
        json!("N"),
        json!("Min"),
        json!("Max"),
        json!("Avg"),
    ];
    header.extend(
        percentiles
            .iter()
            .map(|p| json!(format!("p{}", summary::format_percentile(*p)))),
    );
    let rows = summaries.iter().filter_map(|(operation, summary)| {
        let (Some(min), Some(max)) = (summary.min_us, summary.max_us) else {
            return None;
        };
        let mut row = vec![
            json!(operation),
            json!(summary.count),
            json!(render::duration(min)),
            json!(render::duration(max)),
            json!(render::whole_seconds(summary.total_us / summary.count)),
        ];
        for percentile in &percentiles {
            let value =
                tach_schema::histogram::percentile_us(&summary.buckets, *percentile, min, max)
                    .unwrap_or(min);
            row.push(json!(render::duration(value)));
        }
        Some(Value::Array(row))
    });
    Ok(table(Value::Array(header), rows))
}

#[utoipa::path(get, path = "/stacky/kpi", tag = "stacky",
    responses((status = 200, description = "Requests of the last day with their end-to-end time", body = Table)))]
async fn kpi_all(State(state): State<AppState>) -> Answer {
    kpi_table(&state, None).await
}

#[utoipa::path(get, path = "/stacky/kpi/{tenant_id}", tag = "stacky",
    params(("tenant_id" = String, Path, description = "A tenant")),
    responses((status = 200, description = "The tenant's requests of the last day", body = Table)))]
async fn kpi_of_tenant(State(state): State<AppState>, Path(tenant): Path<String>) -> Answer {
    if !queries::tenant_exists(&state.pool, &tenant).await? {
        return Err(ApiError::not_found(format!("tenant {tenant}")));
    }
    kpi_table(&state, Some(&tenant)).await
}

async fn kpi_table(state: &AppState, tenant: Option<&str>) -> Answer {
    let since = Utc::now() - TimeDelta::days(1);
    let rows = queries::kpi(&state.pool, since, tenant).await?;
    let rows = rows.into_iter().map(|row| {
        json!([
            row.operation,
            row.duration_us.map(render::duration),
            row.instance,
            row.deployment
        ])
    });
    Ok(table(json!(["Event", "Time", "UUID", "Deployment"]), rows))
}

/// The optional `instance` filter of the usage tables (a UUID).
fn instance_filter(params: &Params) -> Result<Option<String>, ApiError> {
    params
        .get("instance")
        .filter(|text| !text.is_empty())
        .map(params::uuid)
        .transpose()
}

#[utoipa::path(get, path = "/stacky/usage/launches", tag = "stacky",
    params(("instance" = Option<String>, Query, format = Uuid, description = "Only this instance"), Paging),
    responses((status = 200, description = "Launches", body = Table)))]
async fn launches(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let rows = queries::launches(
        &state.pool,
        instance_filter(&params)?.as_deref(),
        params.paging()?,
    )
    .await?;
    let rows = rows.into_iter().map(|row| {
        json!([
            row.instance,
            optional_when(row.launched_at),
            row.instance_type_id,
            row.instance_flavor_id
        ])
    });
    Ok(table(
        json!([
            "UUID",
            "Launched At",
            "Instance Type Id",
            "Instance Flavor Id"
        ]),
        rows,
    ))
}

#[utoipa::path(get, path = "/stacky/usage/deletes", tag = "stacky",
    params(("instance" = Option<String>, Query, format = Uuid, description = "Only this instance"), Paging),
    responses((status = 200, description = "Deletes", body = Table)))]
async fn deletes(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let rows = queries::deletes(
        &state.pool,
        instance_filter(&params)?.as_deref(),
        params.paging()?,
    )
    .await?;
    let rows = rows.into_iter().map(|(instance, launched_at, deleted_at)| {
        json!([
            instance,
            render::when(launched_at),
            optional_when(deleted_at)
        ])
    });
    Ok(table(json!(["UUID", "Launched At", "Deleted At"]), rows))
}

#[utoipa::path(get, path = "/stacky/usage/exists", tag = "stacky",
    params(("instance" = Option<String>, Query, format = Uuid, description = "Only this instance"), Paging),
    responses((status = 200, description = "Exists records", body = Table)))]
async fn exists(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let rows = queries::exists(
        &state.pool,
        instance_filter(&params)?.as_deref(),
        params.paging()?,
    )
    .await?;
    let rows = rows.into_iter().map(|row| {
        json!([
            row.instance,
            render::when(row.launched_at),
            optional_when(row.deleted_at),
            row.instance_type_id,
            row.instance_flavor_id,
            row.message_id,
            row.status
        ])
    });
    Ok(table(
        json!([
            "UUID",
            "Launched At",
            "Deleted At",
            "Instance Type Id",
            "Instance Flavor Id",
            "Message ID",
            "Status"
        ]),
        rows,
    ))
}

#[utoipa::path(get, path = "/stacky/reports", tag = "stacky",
    params(("created_from" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "decimal unix seconds; default a day ago"),
        ("created_to" = Option<f64>, Query, minimum = -100000000000.0, maximum = 100000000000.0, description = "decimal unix seconds; default now"),
        Paging),
    responses((status = 200, description = "Reports created in the window", body = Table)))]
async fn reports(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let now = Utc::now();
    let from = params
        .unix_time("created_from")?
        .unwrap_or(now - TimeDelta::days(1));
    let to = params.unix_time("created_to")?.unwrap_or(now);
    let rows = queries::reports_created(&state.pool, from, to, params.paging()?).await?;
    let rows = rows.into_iter().map(|row| {
        json!([
            row.id,
            render::unix_seconds(row.period_start),
            render::unix_seconds(row.period_end),
            render::unix_seconds(row.created),
            row.name,
            row.version
        ])
    });
    Ok(table(
        json!(["Id", "Start", "End", "Created", "Name", "Version"]),
        rows,
    ))
}

const REPORT_SEARCH_FIELDS: [&str; 7] = [
    "id",
    "name",
    "created",
    "period_start",
    "period_end",
    "limit",
    "offset",
];

#[utoipa::path(get, path = "/stacky/reports/search", tag = "stacky",
    params(("id" = Option<i64>, Query, description = "A report id"),
        ("name" = Option<String>, Query, description = "A report name"),
        ("created" = Option<String>, Query, description = "Created on this day, YYYY-MM-DD"),
        ("period_start" = Option<String>, Query, description = "YYYY-MM-DD HH:MM:SS"),
        ("period_end" = Option<String>, Query, description = "YYYY-MM-DD HH:MM:SS"),
        Paging),
    responses((status = 200, description = "Matching reports; any other parameter is a 400", body = Table)))]
async fn search_reports(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query.as_deref())?;
    let unknown = params.unknown(&REPORT_SEARCH_FIELDS);
    if !unknown.is_empty() {
        let why = format!(
            "unknown parameter {}; use {}",
            unknown.join(", "),
            REPORT_SEARCH_FIELDS.join(", ")
        );
        return Err(ApiError::bad(why));
    }
    let filter = report_filter(&params)?;
    let rows = queries::reports_matching(&state.pool, &filter, params.paging()?).await?;
    let seconds = |time: chrono::DateTime<Utc>| time.format("%Y-%m-%d %H:%M:%S").to_string();
    let rows = rows.into_iter().map(|row| {
        json!([
            row.id,
            seconds(row.period_start),
            seconds(row.period_end),
            seconds(row.created),
            row.name,
            row.version
        ])
    });
    Ok(table(
        json!(["Id", "Start", "End", "Created", "Name", "Version"]),
        rows,
    ))
}

fn report_filter(params: &Params) -> Result<queries::ReportFilter, ApiError> {
    let datetime = |name: &str| -> Result<Option<chrono::DateTime<Utc>>, ApiError> {
        let Some(text) = params.get(name) else {
            return Ok(None);
        };
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .map(|time| Some(time.and_utc()))
            .map_err(|_| ApiError::bad(format!("{name} must be YYYY-MM-DD HH:MM:SS, not {text:?}")))
    };
    let created_day = match params.get("created") {
        None => None,
        Some(text) => Some(
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| ApiError::bad(format!("created must be YYYY-MM-DD, not {text:?}")))?,
        ),
    };
    Ok(queries::ReportFilter {
        id: params
            .get("id")
            .map(|text| integer_path(text, "id"))
            .transpose()?,
        name: params.get("name").map(str::to_owned),
        created_day,
        period_start: datetime("period_start")?,
        period_end: datetime("period_end")?,
    })
}

#[utoipa::path(get, path = "/stacky/report/{report_id}", tag = "stacky",
    params(("report_id" = i64, Path, description = "A report id")),
    responses((status = 200, description = "The stored report: its metadata object, then its rows", body = serde_json::Value)))]
async fn report(State(state): State<AppState>, Path(report_id): Path<String>) -> Answer {
    let id = integer_path(&report_id, "the report id")?;
    let body = queries::report_body(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("report {id}")))?;
    Ok(Json(body))
}
