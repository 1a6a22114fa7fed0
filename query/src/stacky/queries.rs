//! The SQL of `stacky/*`. Every statement binds its values; the one
//! identifier that varies (the `search` column) comes from a fixed whitelist.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::params::{Paging, Service, Window};

/// A row of an event table.
#[derive(Debug, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub is_error: bool,
    pub when: DateTime<Utc>,
    pub deployment: String,
    pub event: String,
    pub host: Option<String>,
    pub state: Option<String>,
    pub old_state: Option<String>,
    pub old_task: Option<String>,
    pub image_status: Option<String>,
    pub instance: Option<String>,
    pub image_uuid: Option<String>,
    pub request_id: Option<String>,
}

/// Oldest or newest first.
#[derive(Debug, Clone, Copy)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

const EVENT_COLUMNS: &str =
    "r.id, r.is_error, r.\"when\", d.name AS deployment, r.event, r.host, r.state, \
     r.old_state, r.old_task, r.image_status, r.instance, r.image_uuid, r.request_id";

/// Events of `service` whose `column` equals `value`. `column` must come from
/// [`Service::search_fields`] or be a fixed column name of this module.
pub async fn events_where(
    pool: &PgPool,
    service: Service,
    column: &'static str,
    value: &str,
    window: Window,
    paging: Paging,
    order: Order,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let direction = match order {
        Order::OldestFirst => "ASC",
        Order::NewestFirst => "DESC",
    };
    let statement = format!(
        "SELECT {EVENT_COLUMNS} FROM raw_events r JOIN deployments d ON d.id = r.deployment_id
         WHERE r.{column} = $1 AND r.family = ANY($2)
           AND ($3::timestamptz IS NULL OR r.\"when\" >= $3)
           AND ($4::timestamptz IS NULL OR r.\"when\" <= $4)
         ORDER BY r.\"when\" {direction}, r.id {direction}
         LIMIT $5 OFFSET $6"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(value)
        .bind(service.families())
        .bind(window.min)
        .bind(window.max)
        .bind(paging.limit)
        .bind(paging.offset)
        .fetch_all(pool)
        .await
}

/// One event by id, within a service.
pub async fn event_by_id(
    pool: &PgPool,
    service: Service,
    id: i64,
) -> Result<Option<ShownEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.\"when\", d.name AS deployment, r.routing_key, r.publisher, r.state, r.image_status,
                r.event, r.service, r.host, r.instance, r.image_uuid, r.request_id, r.body::text AS body
         FROM raw_events r JOIN deployments d ON d.id = r.deployment_id
         WHERE r.id = $1 AND r.family = ANY($2)",
    )
    .bind(id)
    .bind(service.families())
    .fetch_optional(pool)
    .await
}

/// What `stacky/show` prints.
#[derive(Debug, sqlx::FromRow)]
pub struct ShownEvent {
    pub id: i64,
    pub when: DateTime<Utc>,
    pub deployment: String,
    pub routing_key: String,
    pub publisher: Option<String>,
    pub state: Option<String>,
    pub image_status: Option<String>,
    pub event: String,
    pub service: Option<String>,
    pub host: Option<String>,
    pub instance: Option<String>,
    pub image_uuid: Option<String>,
    pub request_id: Option<String>,
    pub body: String,
}

/// Deployments by name.
pub async fn deployments(pool: &PgPool) -> Result<Vec<(i32, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name FROM deployments ORDER BY name")
        .fetch_all(pool)
        .await
}

/// Distinct event names of some families, sorted.
pub async fn event_names(pool: &PgPool, families: &[&str]) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT event FROM event_names WHERE family = ANY($1) ORDER BY 1")
        .bind(families)
        .fetch_all(pool)
        .await
}

/// Distinct hosts of some families, sorted.
pub async fn hosts(pool: &PgPool, families: &[&str]) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT host FROM event_hosts WHERE family = ANY($1) ORDER BY 1")
        .bind(families)
        .fetch_all(pool)
        .await
}

/// The length of the longest event name of some families (watch's column width).
pub async fn longest_event_name(pool: &PgPool, families: &[&str]) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(max(length(event)), 0) FROM event_names WHERE family = ANY($1)",
    )
    .bind(families)
    .fetch_one(pool)
    .await
}

/// Events for `watch`: `since < when <= now`, oldest first.
pub async fn watched_events(
    pool: &PgPool,
    service: Service,
    deployment_id: Option<i32>,
    event_name: Option<&str>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let statement = format!(
        "SELECT {EVENT_COLUMNS} FROM raw_events r JOIN deployments d ON d.id = r.deployment_id
         WHERE r.\"when\" > $1 AND r.\"when\" <= $2 AND r.family = ANY($3)
           AND ($4::int IS NULL OR r.deployment_id = $4)
           AND ($5::text IS NULL OR r.event = $5)
         ORDER BY r.\"when\", r.id
         LIMIT $6"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(since)
        .bind(now)
        .bind(service.families())
        .bind(deployment_id)
        .bind(event_name)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Complete timings of an operation, ascending by duration.
pub async fn timings_by_name(
    pool: &PgPool,
    operation: &str,
    end_window: Window,
    paging: Paging,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT instance, duration_us FROM timings
         WHERE operation = $1 AND duration_us >= 0
           AND ($2::timestamptz IS NULL OR end_when >= $2)
           AND ($3::timestamptz IS NULL OR end_when <= $3)
         ORDER BY duration_us, instance
         LIMIT $4 OFFSET $5",
    )
    .bind(operation)
    .bind(end_window.min)
    .bind(end_window.max)
    .bind(paging.limit)
    .bind(paging.offset)
    .fetch_all(pool)
    .await
}

/// Every timing of an instance, by the time of its first event.
#[derive(Debug, sqlx::FromRow)]
pub struct InstanceTiming {
    pub operation: String,
    pub start_when: Option<DateTime<Utc>>,
    pub end_when: Option<DateTime<Utc>>,
    pub duration_us: Option<i64>,
}

/// The timings of one instance.
pub async fn timings_of_instance(
    pool: &PgPool,
    instance: &str,
) -> Result<Vec<InstanceTiming>, sqlx::Error> {
    sqlx::query_as(
        "SELECT operation, start_when, end_when, duration_us FROM timings
         WHERE instance = $1
         ORDER BY LEAST(start_when, end_when), operation, request_id, seq",
    )
    .bind(instance)
    .fetch_all(pool)
    .await
}

/// Per operation: count and total of complete timings, from the aggregates,
/// over whole hours of end time in `[from_hour, until_hour)` (open when None).
pub async fn bucket_totals(
    pool: &PgPool,
    from_hour: Option<DateTime<Utc>>,
    until_hour: Option<DateTime<Utc>>,
) -> Result<Vec<(String, i16, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT operation, bucket, sum(n)::bigint, sum(total_us)::bigint FROM timing_buckets
         WHERE ($1::timestamptz IS NULL OR hour >= $1) AND ($2::timestamptz IS NULL OR hour < $2)
         GROUP BY operation, bucket",
    )
    .bind(from_hour)
    .bind(until_hour)
    .fetch_all(pool)
    .await
}

/// Complete timings that ended in `[from, until)` (the partial hours at the
/// edges of a summary window): operation and duration.
pub async fn timings_ending_between(
    pool: &PgPool,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT operation, duration_us FROM timings
         WHERE duration_us >= 0 AND end_when >= $1 AND end_when < $2",
    )
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await
}

/// Exact min and max duration per operation, each an index lookup; within
/// an end-time window when given.
pub async fn min_max(
    pool: &PgPool,
    operations: &[String],
    end_window: Window,
) -> Result<Vec<(String, Option<i64>, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT op,
                (SELECT duration_us FROM timings
                 WHERE operation = op AND duration_us >= 0
                   AND ($2::timestamptz IS NULL OR end_when >= $2)
                   AND ($3::timestamptz IS NULL OR end_when <= $3)
                 ORDER BY duration_us LIMIT 1),
                (SELECT duration_us FROM timings
                 WHERE operation = op AND duration_us >= 0
                   AND ($2::timestamptz IS NULL OR end_when >= $2)
                   AND ($3::timestamptz IS NULL OR end_when <= $3)
                 ORDER BY duration_us DESC LIMIT 1)
         FROM unnest($1::text[]) AS op",
    )
    .bind(operations)
    .bind(end_window.min)
    .bind(end_window.max)
    .fetch_all(pool)
    .await
}

/// A finished KPI tracker.
#[derive(Debug, sqlx::FromRow)]
pub struct KpiRow {
    pub operation: Option<String>,
    pub duration_us: Option<i64>,
    pub instance: Option<String>,
    pub deployment: String,
}

/// Trackers started since `since` that have ended, ascending by duration.
pub async fn kpi(
    pool: &PgPool,
    since: DateTime<Utc>,
    tenant: Option<&str>,
) -> Result<Vec<KpiRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT k.operation, k.duration_us, k.instance, d.name AS deployment
         FROM kpi_trackers k JOIN deployments d ON d.id = k.deployment_id
         WHERE k.end_event_id IS NOT NULL AND k.start_when >= $1
           AND ($2::text IS NULL OR k.tenant = $2)
         ORDER BY k.duration_us, k.start_event_id",
    )
    .bind(since)
    .bind(tenant)
    .fetch_all(pool)
    .await
}

/// True when some stored event carries the tenant.
pub async fn tenant_exists(pool: &PgPool, tenant: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM event_tenants WHERE tenant = $1)")
        .bind(tenant)
        .fetch_one(pool)
        .await
}

/// A launch row.
#[derive(Debug, sqlx::FromRow)]
pub struct LaunchRow {
    pub instance: String,
    pub launched_at: Option<DateTime<Utc>>,
    pub instance_type_id: Option<String>,
    pub instance_flavor_id: Option<String>,
}

/// Launches, of one instance when given, oldest launch first.
pub async fn launches(
    pool: &PgPool,
    instance: Option<&str>,
    paging: Paging,
) -> Result<Vec<LaunchRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT instance, launched_at, instance_type_id, instance_flavor_id FROM usage_launches
         WHERE ($1::text IS NULL OR instance = $1)
         ORDER BY launched_at NULLS FIRST, instance, request_id LIMIT $2 OFFSET $3",
    )
    .bind(instance)
    .bind(paging.limit)
    .bind(paging.offset)
    .fetch_all(pool)
    .await
}

/// Deletes, of one instance when given.
pub async fn deletes(
    pool: &PgPool,
    instance: Option<&str>,
    paging: Paging,
) -> Result<Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT instance, launched_at, deleted_at FROM usage_deletes
         WHERE ($1::text IS NULL OR instance = $1)
         ORDER BY launched_at, instance LIMIT $2 OFFSET $3",
    )
    .bind(instance)
    .bind(paging.limit)
    .bind(paging.offset)
    .fetch_all(pool)
    .await
}

/// An exists row.
#[derive(Debug, sqlx::FromRow)]
pub struct ExistsRow {
    pub instance: String,
    pub launched_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub instance_type_id: Option<String>,
    pub instance_flavor_id: Option<String>,
    pub message_id: String,
    pub status: String,
}

/// Exists records, of one instance when given.
pub async fn exists(
    pool: &PgPool,
    instance: Option<&str>,
    paging: Paging,
) -> Result<Vec<ExistsRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT instance, launched_at, deleted_at, instance_type_id, instance_flavor_id, message_id, status
         FROM usage_exists
         WHERE ($1::text IS NULL OR instance = $1)
         ORDER BY audit_period_ending NULLS FIRST, launched_at, instance, message_id LIMIT $2 OFFSET $3",
    )
    .bind(instance)
    .bind(paging.limit)
    .bind(paging.offset)
    .fetch_all(pool)
    .await
}

/// A stored report's listing.
#[derive(Debug, sqlx::FromRow)]
pub struct ReportRow {
    pub id: i64,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub name: String,
    pub version: i32,
}

/// Reports created in `[from, to]`, oldest first.
pub async fn reports_created(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    paging: Paging,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, period_start, period_end, created, name, version FROM reports
         WHERE created >= $1 AND created <= $2 ORDER BY created, id LIMIT $3 OFFSET $4",
    )
    .bind(from)
    .bind(to)
    .bind(paging.limit)
    .bind(paging.offset)
    .fetch_all(pool)
    .await
}

/// What `reports/search` filters on; each given field must match exactly.
#[derive(Debug, Default)]
pub struct ReportFilter {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub created_day: Option<chrono::NaiveDate>,
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
}

/// Reports matching the filter, newest id first.
pub async fn reports_matching(
    pool: &PgPool,
    filter: &ReportFilter,
    paging: Paging,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, period_start, period_end, created, name, version FROM reports
         WHERE ($1::bigint IS NULL OR id = $1) AND ($2::text IS NULL OR name = $2)
           AND ($3::date IS NULL OR (created AT TIME ZONE 'UTC')::date = $3)
           AND ($4::timestamptz IS NULL OR period_start = $4) AND ($5::timestamptz IS NULL OR period_end = $5)
         ORDER BY id DESC LIMIT $6 OFFSET $7",
    )
    .bind(filter.id)
    .bind(&filter.name)
    .bind(filter.created_day)
    .bind(filter.period_start)
    .bind(filter.period_end)
    .bind(paging.limit)
    .bind(paging.offset)
    .fetch_all(pool)
    .await
}

/// A stored report's JSON.
pub async fn report_body(pool: &PgPool, id: i64) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar("SELECT body FROM reports WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}
