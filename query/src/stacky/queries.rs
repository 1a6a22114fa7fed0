//! The SQL of `stacky/*`. Every statement binds its values (the limits of
//! per-family searches aside, see [`crate::sql::push_page_in_text`]); the one
//! identifier that varies (the `search` column) comes from a fixed whitelist.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder};

use super::params::{Paging, Service, Window};
use super::summary::{Hours, Seek};
use crate::sql::{push_limit, push_page, push_page_in_text};
use tach_schema::rollup::DaySplit;

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

impl Order {
    fn direction(self) -> &'static str {
        match self {
            Order::OldestFirst => "ASC",
            Order::NewestFirst => "DESC",
        }
    }
}

const EVENT_COLUMNS: &str =
    "r.id, r.is_error, r.\"when\", d.name AS deployment, r.event, r.host, r.state, \
     r.old_state, r.old_task, r.image_status, r.instance, r.image_uuid, r.request_id";

/// The raw columns an event table reads, for subqueries joined to `deployments` later.
const RAW_COLUMNS: &str =
    "r.id, r.is_error, r.\"when\", r.deployment_id, r.event, r.host, r.state, \
     r.old_state, r.old_task, r.image_status, r.instance, r.image_uuid, r.request_id";

/// How the index of a searchable column is keyed (migrations 0001 and 0010).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnIndex {
    /// `(column, family, "when")`: one ordered walk per family.
    ByFamily,
    /// `(column, "when")` or a hash of the column: the values belong to one
    /// family (instance and image ids, request ids) or to a handful of rows
    /// (message ids), so the family is a filter.
    Plain,
}

/// The index that serves `column` in `stacky/search`, `uuid` and `request`.
fn column_index(column: &str) -> Option<ColumnIndex> {
    match column {
        "tenant" | "event" | "host" | "service" | "publisher" | "state" | "old_state"
        | "old_task" | "task" | "routing_key" | "image_status" | "image_owner" => {
            Some(ColumnIndex::ByFamily)
        }
        "instance" | "request_id" | "image_uuid" | "message_id" => Some(ColumnIndex::Plain),
        _ => None,
    }
}

/// One walk per family when the index leads with (column, family): a
/// `family = ANY(..)` on the index's second column would lose its "when"
/// order and sort every match.
fn walks_per_family(index: ColumnIndex, families: &[&str]) -> bool {
    index == ColumnIndex::ByFamily && families.len() > 1
}

/// ` AND r."when" >= $n` and ` AND r."when" <= $m` for the bounds given,
/// so that every plan is a range scan (a `$n IS NULL OR …` condition is one
/// a generic plan cannot use an index for).
fn push_window(query: &mut QueryBuilder<Postgres>, window: Window) {
    if let Some(min) = window.min {
        query.push(" AND r.\"when\" >= ").push_bind(min);
    }
    if let Some(max) = window.max {
        query.push(" AND r.\"when\" <= ").push_bind(max);
    }
}

/// ` AND r.family = $n`, or ` = ANY($n)` for several families.
fn push_families(query: &mut QueryBuilder<Postgres>, families: &[&'static str]) {
    match families {
        [family] => query.push(" AND r.family = ").push_bind(*family),
        _ => query
            .push(" AND r.family = ANY(")
            .push_bind(families.to_vec())
            .push(")"),
    };
}

/// ` AND (r.family = …) IS TRUE`: the family as a filter only. Where the
/// searched value picks a handful of rows (an instance, a request, an id),
/// a plain family condition let a planner without statistics on a new
/// partition combine every row of the family from the (family, "when")
/// index with the value's few: 4,700 pages instead of 50 per request.
fn push_family_filter(query: &mut QueryBuilder<Postgres>, families: &[&'static str]) {
    query.push(" AND (true");
    push_families(query, families);
    query.push(") IS TRUE");
}

/// ` AND r.<column> = …`. On a (column, family, "when") index the value is
/// an array of one, and the order names the column too (see [`push_order`]).
fn push_match(
    query: &mut QueryBuilder<Postgres>,
    column: &'static str,
    index: ColumnIndex,
    value: &str,
) {
    match index {
        ColumnIndex::ByFamily => query
            .push(format!(" AND r.{column} = ANY("))
            .push_bind(vec![value.to_owned()])
            .push(")"),
        ColumnIndex::Plain => query
            .push(format!(" AND r.{column} = "))
            .push_bind(value.to_owned()),
    };
}

/// ` ORDER BY r."when", r.id` in `direction`, after the searched column when
/// its index is (column, family, "when"): the column holds one value, so the
/// rows come in the same order, but only that index can give it. Otherwise
/// the planner walks the (family, "when") index and filters, which it
/// believes cheaper for a frequent value (the composite index's heap order
/// looks random to it) and which reads every newer event of the family when
/// the value has stopped occurring.
fn push_order(query: &mut QueryBuilder<Postgres>, leading: Option<&str>, direction: &str) {
    query.push(" ORDER BY ");
    if let Some(column) = leading {
        query.push(format!("r.{column} {direction}, "));
    }
    query.push(format!("r.\"when\" {direction}, r.id {direction}"));
}

/// The column [`push_order`] leads with for a search of `column`.
fn leading_column(column: &'static str, index: ColumnIndex) -> Option<&'static str> {
    (index == ColumnIndex::ByFamily).then_some(column)
}

/// Events of `service` whose `column` equals `value`. `column` must come from
/// [`Service::search_fields`] or be a fixed column name of this module; each
/// has an index ([`column_index`]) that yields the rows in time order, so a
/// page costs its own rows (plus the offset), whatever the number stored.
pub async fn events_where(
    pool: &PgPool,
    service: Service,
    column: &'static str,
    value: &str,
    window: Window,
    paging: Paging,
    order: Order,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let direction = order.direction();
    let families = service.families();
    let index = column_index(column).unwrap_or(ColumnIndex::Plain);
    // A walk of one (column, family) index without a window has one best
    // plan whatever the value: let PostgreSQL cache it.
    let one_plan = index == ColumnIndex::ByFamily && window == Window::default();
    let push_rows = |query: &mut QueryBuilder<Postgres>, limit: i64, offset: i64| {
        if one_plan {
            push_page_in_text(query, limit, offset);
        } else {
            push_page(query, limit, offset);
        }
    };
    let mut query = QueryBuilder::new("");
    if walks_per_family(index, families) {
        // The first offset + limit rows of each family, merged.
        let per_family = paging.limit.saturating_add(paging.offset);
        query.push(format!("SELECT {EVENT_COLUMNS} FROM ("));
        for (position, family) in families.iter().enumerate() {
            if position > 0 {
                query.push(" UNION ALL ");
            }
            query.push(format!(
                "(SELECT {RAW_COLUMNS} FROM raw_events r WHERE true"
            ));
            push_match(&mut query, column, index, value);
            push_families(&mut query, &[family]);
            push_window(&mut query, window);
            push_order(&mut query, leading_column(column, index), direction);
            push_rows(&mut query, per_family, 0);
            query.push(")");
        }
        query.push(") r JOIN deployments d ON d.id = r.deployment_id");
        query.push(format!(
            " ORDER BY r.\"when\" {direction}, r.id {direction}"
        ));
    } else {
        query.push(format!(
            "SELECT {EVENT_COLUMNS} FROM raw_events r \
             JOIN deployments d ON d.id = r.deployment_id WHERE true"
        ));
        push_match(&mut query, column, index, value);
        match index {
            ColumnIndex::ByFamily => push_families(&mut query, families),
            ColumnIndex::Plain => push_family_filter(&mut query, families),
        }
        push_window(&mut query, window);
        push_order(&mut query, leading_column(column, index), direction);
    }
    push_rows(&mut query, paging.limit, paging.offset);
    query.build_query_as().fetch_all(pool).await
}

/// One event by id, within a service (the family a filter only, as in
/// [`push_family_filter`]).
pub async fn event_by_id(
    pool: &PgPool,
    service: Service,
    id: i64,
) -> Result<Option<ShownEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.\"when\", d.name AS deployment, r.routing_key, r.publisher, r.state, r.image_status,
                r.event, r.service, r.host, r.instance, r.image_uuid, r.request_id, r.body::text AS body
         FROM raw_events r JOIN deployments d ON d.id = r.deployment_id
         WHERE r.id = $1 AND (r.family = ANY($2)) IS TRUE",
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

/// Events for `watch`: `since < when <= now`, oldest first. Each family's
/// events come in time order from its (family, "when") index, or with an
/// event name from the (event, family, "when") index; several families are
/// merged.
pub async fn watched_events(
    pool: &PgPool,
    service: Service,
    deployment_id: Option<i32>,
    event_name: Option<&str>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let push_family = |query: &mut QueryBuilder<Postgres>, family: &'static str| {
        if let Some(event) = event_name {
            push_match(query, "event", ColumnIndex::ByFamily, event);
        }
        push_families(query, &[family]);
        query
            .push(" AND r.\"when\" > ")
            .push_bind(since)
            .push(" AND r.\"when\" <= ")
            .push_bind(now);
        if let Some(deployment_id) = deployment_id {
            query
                .push(" AND r.deployment_id = ")
                .push_bind(deployment_id);
        }
        push_order(query, event_name.map(|_| "event"), "ASC");
        push_limit(query, limit);
    };
    let mut query = QueryBuilder::new("");
    match service.families() {
        [family] => {
            query.push(format!(
                "SELECT {EVENT_COLUMNS} FROM raw_events r \
                 JOIN deployments d ON d.id = r.deployment_id WHERE true"
            ));
            push_family(&mut query, family);
        }
        families => {
            query.push(format!("SELECT {EVENT_COLUMNS} FROM ("));
            for (position, family) in families.iter().enumerate() {
                if position > 0 {
                    query.push(" UNION ALL ");
                }
                query.push(format!(
                    "(SELECT {RAW_COLUMNS} FROM raw_events r WHERE true"
                ));
                push_family(&mut query, family);
                query.push(")");
            }
            query.push(") r JOIN deployments d ON d.id = r.deployment_id ");
            query.push("ORDER BY r.\"when\", r.id");
            push_limit(&mut query, limit);
        }
    }
    query.build_query_as().fetch_all(pool).await
}

/// Complete timings of an operation, ascending by duration: a walk of
/// (operation, duration), or with end-time bounds the cheaper of that walk
/// and a range of (operation, end_when), planned for the bounds at hand.
pub async fn timings_by_name(
    pool: &PgPool,
    operation: &str,
    end_window: Window,
    paging: Paging,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut query = QueryBuilder::new(
        "SELECT instance, duration_us FROM timings WHERE duration_us >= 0 AND operation = ",
    );
    query.push_bind(operation.to_owned());
    if let Some(min) = end_window.min {
        query.push(" AND end_when >= ").push_bind(min);
    }
    if let Some(max) = end_window.max {
        query.push(" AND end_when <= ").push_bind(max);
    }
    query.push(" ORDER BY duration_us, instance");
    push_page(&mut query, paging.limit, paging.offset);
    let windowed = end_window != Window::default();
    query
        .build_query_as()
        .persistent(!windowed)
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

/// Every operation with a complete timing: the distinct operations of
/// `timing_buckets_total`, one primary-key probe each.
pub async fn summary_operations(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH RECURSIVE ops (op) AS (
             SELECT min(operation) FROM timing_buckets_total
             UNION ALL
             SELECT (SELECT min(operation) FROM timing_buckets_total WHERE operation > ops.op)
             FROM ops WHERE ops.op IS NOT NULL)
         SELECT op FROM ops WHERE op IS NOT NULL",
    )
    .fetch_all(pool)
    .await
}

/// Count, total, and the number of whole days and of hours around them
/// holding one bucket of one operation.
#[derive(Debug, sqlx::FromRow)]
pub struct BucketTotal {
    pub operation: String,
    pub bucket: i16,
    pub count: i64,
    pub total_us: i64,
    pub days: i64,
    pub hours: i64,
}

/// Per operation and bucket over all time, from `timing_buckets_total`.
pub async fn all_time_totals(pool: &PgPool) -> Result<Vec<BucketTotal>, sqlx::Error> {
    sqlx::query_as(
        "SELECT operation, bucket, n AS count, total_us, 0::bigint AS days, 0::bigint AS hours
         FROM timing_buckets_total",
    )
    .fetch_all(pool)
    .await
}

/// ` AND <column> >= $n` and ` AND <column> < $m` for the sides given.
fn push_range(
    query: &mut QueryBuilder<Postgres>,
    column: &str,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) {
    if let Some(from) = from {
        query.push(format!(" AND {column} >= ")).push_bind(from);
    }
    if let Some(until) = until {
        query.push(format!(" AND {column} < ")).push_bind(until);
    }
}

/// ` AND (<column> in one of the ranges)`; ranges are `[from, until)`.
fn push_ranges(
    query: &mut QueryBuilder<Postgres>,
    column: &str,
    ranges: &[(DateTime<Utc>, DateTime<Utc>)],
) {
    query.push(" AND (false");
    for (from, until) in ranges {
        query
            .push(format!(" OR ({column} >= "))
            .push_bind(*from)
            .push(format!(" AND {column} < "))
            .push_bind(*until)
            .push(")");
    }
    query.push(")");
}

/// Per operation and bucket over the whole hours of a window, read as
/// `days` splits them: the count and total of complete timings, and how
/// many of its days and hours hold the bucket. One primary-key range per
/// operation in the daily rows, and in the hourly rows around them.
pub async fn bucket_totals(
    pool: &PgPool,
    operations: &[String],
    days: &DaySplit,
) -> Result<Vec<BucketTotal>, sqlx::Error> {
    if days.days.is_none() && days.hours.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::new(
        "SELECT x.op AS operation, c.bucket, sum(c.n)::bigint AS count,
                sum(c.total_us)::bigint AS total_us, count(*) FILTER (WHERE c.daily) AS days,
                count(*) FILTER (WHERE NOT c.daily) AS hours
         FROM unnest(",
    );
    query
        .push_bind(operations.to_vec())
        .push("::text[]) AS x (op) CROSS JOIN LATERAL (");
    if let Some(whole_days) = days.days {
        query.push(
            "SELECT bucket, n, total_us, true AS daily FROM timing_buckets_daily \
             WHERE operation = x.op",
        );
        push_range(&mut query, "day", whole_days.from, whole_days.until);
        if !days.hours.is_empty() {
            query.push(" UNION ALL ");
        }
    }
    if !days.hours.is_empty() {
        query.push(
            "SELECT bucket, n, total_us, false AS daily FROM timing_buckets \
             WHERE operation = x.op",
        );
        push_ranges(&mut query, "hour", &days.hours);
    }
    // OFFSET 0 keeps the subquery a range per operation: flattened into a
    // join, the planner may scan the whole table instead.
    query.push(" OFFSET 0) c GROUP BY x.op, c.bucket");
    query.build_query_as().fetch_all(pool).await
}

/// Complete timings that ended in `[from, until)` (a partial hour at an edge
/// of a summary window): operation and duration, through (operation, end_when).
pub async fn timings_ending_between(
    pool: &PgPool,
    operations: &[String],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT x.op, t.duration_us FROM unnest($1::text[]) AS x (op)
         CROSS JOIN LATERAL (
             SELECT duration_us FROM timings
             WHERE operation = x.op AND duration_us >= 0 AND end_when >= $2 AND end_when < $3
             OFFSET 0) t",
    )
    .bind(operations)
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await
}

/// Exact min and max duration per operation over all its timings, each an
/// index lookup.
pub async fn min_max(
    pool: &PgPool,
    operations: &[String],
) -> Result<Vec<(String, Option<i64>, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT op,
                (SELECT duration_us FROM timings WHERE operation = op AND duration_us >= 0
                 ORDER BY duration_us LIMIT 1),
                (SELECT duration_us FROM timings WHERE operation = op AND duration_us >= 0
                 ORDER BY duration_us DESC LIMIT 1)
         FROM unnest($1::text[]) AS op",
    )
    .bind(operations)
    .fetch_all(pool)
    .await
}

/// Where to look for one operation's exact extremes in whole hours.
#[derive(Debug, Clone)]
pub struct ExtremeSeek {
    pub operation: String,
    pub lowest: Seek,
    pub highest: Seek,
}

/// Exact min and max duration per operation over the timings that ended in
/// the whole hours `hours` (read as `days` splits them). Each extreme
/// either probes the hours whose aggregates hold its bucket (found through
/// the days' and hours' rows, then one lookup each in (operation, hour of
/// end, duration)), or walks (operation, duration) from the bucket's bound
/// to the first timing of the window; a probe that finds nothing walks.
pub async fn hours_min_max(
    pool: &PgPool,
    hours: Hours,
    days: &DaySplit,
    seeks: &[ExtremeSeek],
) -> Result<Vec<(String, Option<i64>, Option<i64>)>, sqlx::Error> {
    let column = |pick: fn(&ExtremeSeek) -> Seek| -> (Vec<bool>, Vec<i16>, Vec<i64>) {
        (
            seeks.iter().map(|seek| pick(seek).probe_hours).collect(),
            seeks.iter().map(|seek| pick(seek).bucket).collect(),
            seeks.iter().map(|seek| pick(seek).bound_us).collect(),
        )
    };
    let (low_probe, low_bucket, low_bound) = column(|seek| seek.lowest);
    let (high_probe, high_bucket, high_bound) = column(|seek| seek.highest);
    let operations: Vec<&str> = seeks.iter().map(|seek| seek.operation.as_str()).collect();
    let mut query = QueryBuilder::new("SELECT x.op, ");
    push_extreme(&mut query, hours, days, &Extreme::LOWEST);
    query.push(", ");
    push_extreme(&mut query, hours, days, &Extreme::HIGHEST);
    query
        .push(" FROM unnest(")
        .push_bind(operations)
        .push("::text[], ")
        .push_bind(low_probe)
        .push("::bool[], ")
        .push_bind(low_bucket)
        .push("::int2[], ")
        .push_bind(low_bound)
        .push("::bigint[], ")
        .push_bind(high_probe)
        .push("::bool[], ")
        .push_bind(high_bucket)
        .push("::int2[], ")
        .push_bind(high_bound)
        .push(
            "::bigint[]) AS x (op, low_probe, low_bucket, low_bound, \
             high_probe, high_bucket, high_bound)",
        );
    // Planned with the window at hand each time: a generic plan cannot see
    // that the walks stop at their first row, and sorts whole windows.
    query
        .build_query_as()
        .persistent(false)
        .fetch_all(pool)
        .await
}

/// The columns of `hours_min_max`'s input that describe one extreme, and
/// its order: "" for the minimum, "DESC" for the maximum.
struct Extreme {
    probe: &'static str,
    bucket: &'static str,
    bound: &'static str,
    direction: &'static str,
}

impl Extreme {
    const LOWEST: Extreme = Extreme {
        probe: "x.low_probe",
        bucket: "x.low_bucket",
        bound: "x.low_bound",
        direction: "",
    };
    const HIGHEST: Extreme = Extreme {
        probe: "x.high_probe",
        bucket: "x.high_bucket",
        bound: "x.high_bound",
        direction: "DESC",
    };
}

/// The hours of the window whose aggregates hold bucket `bucket` of `x.op`:
/// the hours of each whole day whose daily row holds it, and the hours
/// around the days that hold it.
fn push_candidate_hours(query: &mut QueryBuilder<Postgres>, days: &DaySplit, bucket: &str) {
    query.push("SELECT NULL::timestamptz AS hour WHERE false");
    if let Some(whole_days) = days.days {
        query.push(format!(
            " UNION ALL SELECT c.hour FROM timing_buckets_daily dd CROSS JOIN LATERAL (
                 SELECT hour FROM timing_buckets
                 WHERE operation = x.op AND bucket = {bucket}
                   AND hour >= dd.day AND hour < dd.day + interval '24 hours') c
             WHERE dd.operation = x.op AND dd.bucket = {bucket}"
        ));
        push_range(query, "dd.day", whole_days.from, whole_days.until);
    }
    if !days.hours.is_empty() {
        query.push(format!(
            " UNION ALL SELECT hour FROM timing_buckets WHERE operation = x.op AND bucket = {bucket}"
        ));
        push_ranges(query, "hour", &days.hours);
    }
}

/// `coalesce(CASE WHEN probe THEN <probe hours> END, <walk>)` for one
/// extreme. The probes read the hour index of migration 0010, whose hour is
/// the aggregates' hour (`date_bin` on UTC hours, as `timings.rs` truncates).
fn push_extreme(
    query: &mut QueryBuilder<Postgres>,
    hours: Hours,
    days: &DaySplit,
    extreme: &Extreme,
) {
    let Extreme {
        probe,
        bucket,
        bound,
        direction,
    } = *extreme;
    let (pick, beyond) = if direction.is_empty() {
        ("min", ">=")
    } else {
        ("max", "<=")
    };
    query.push(format!(
        "coalesce(CASE WHEN {probe} THEN (SELECT {pick}(t.duration_us) FROM ("
    ));
    push_candidate_hours(query, days, bucket);
    query.push(format!(
        ") candidate CROSS JOIN LATERAL (
             SELECT duration_us FROM timings
             WHERE operation = x.op AND duration_us >= 0
               AND date_bin('1 hour', end_when, timestamptz '1970-01-01 00:00:00+00')
                   = candidate.hour
             ORDER BY duration_us {direction} LIMIT 1) t) END,"
    ));
    // The walk's window test is kept out of reach of the (operation,
    // end_when) index (`IS TRUE` is no index condition): the planner would
    // otherwise read every timing of the window and sort them.
    query.push(format!(
        " (SELECT duration_us FROM timings
           WHERE operation = x.op AND duration_us >= 0 AND duration_us {beyond} {bound}
             AND (true"
    ));
    push_range(query, "end_when", hours.from, hours.until);
    query.push(format!(
        ") IS TRUE ORDER BY duration_us {direction} LIMIT 1))"
    ));
}

/// A finished KPI tracker.
#[derive(Debug, sqlx::FromRow)]
pub struct KpiRow {
    pub operation: Option<String>,
    pub duration_us: Option<i64>,
    pub instance: Option<String>,
    pub deployment: String,
}

/// Trackers started since `since` that have ended, ascending by duration:
/// every tracker of the period is in the answer (through (start_when)), or
/// a tenant's (through (tenant, start_when)).
pub async fn kpi(
    pool: &PgPool,
    since: DateTime<Utc>,
    tenant: Option<&str>,
) -> Result<Vec<KpiRow>, sqlx::Error> {
    let mut query = QueryBuilder::new(
        "SELECT k.operation, k.duration_us, k.instance, d.name AS deployment
         FROM kpi_trackers k JOIN deployments d ON d.id = k.deployment_id
         WHERE k.end_event_id IS NOT NULL AND k.start_when >= ",
    );
    query.push_bind(since);
    if let Some(tenant) = tenant {
        query.push(" AND k.tenant = ").push_bind(tenant.to_owned());
    }
    query.push(" ORDER BY k.duration_us, k.start_event_id");
    query.build_query_as().fetch_all(pool).await
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

/// Launches, of one instance when given, oldest launch first: an
/// instance's rows by its key, all rows through the index of this order.
pub async fn launches(
    pool: &PgPool,
    instance: Option<&str>,
    paging: Paging,
) -> Result<Vec<LaunchRow>, sqlx::Error> {
    let mut query = QueryBuilder::new(
        "SELECT instance, launched_at, instance_type_id, instance_flavor_id FROM usage_launches",
    );
    push_instance(&mut query, instance);
    query.push(" ORDER BY launched_at NULLS FIRST, instance, request_id");
    push_page(&mut query, paging.limit, paging.offset);
    query.build_query_as().fetch_all(pool).await
}

/// ` WHERE instance = $n` when an instance is given.
fn push_instance(query: &mut QueryBuilder<Postgres>, instance: Option<&str>) {
    if let Some(instance) = instance {
        query
            .push(" WHERE instance = ")
            .push_bind(instance.to_owned());
    }
}

/// Deletes, of one instance when given, oldest launch first.
pub async fn deletes(
    pool: &PgPool,
    instance: Option<&str>,
    paging: Paging,
) -> Result<Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)>, sqlx::Error> {
    let mut query =
        QueryBuilder::new("SELECT instance, launched_at, deleted_at FROM usage_deletes");
    push_instance(&mut query, instance);
    query.push(" ORDER BY launched_at, instance");
    push_page(&mut query, paging.limit, paging.offset);
    query.build_query_as().fetch_all(pool).await
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

/// Exists records, of one instance when given, by audit period end.
pub async fn exists(
    pool: &PgPool,
    instance: Option<&str>,
    paging: Paging,
) -> Result<Vec<ExistsRow>, sqlx::Error> {
    let mut query = QueryBuilder::new(
        "SELECT instance, launched_at, deleted_at, instance_type_id, instance_flavor_id,
                message_id, status
         FROM usage_exists",
    );
    push_instance(&mut query, instance);
    query.push(
        " ORDER BY audit_period_ending NULLS FIRST, launched_at, instance, message_id, deployment_id",
    );
    push_page(&mut query, paging.limit, paging.offset);
    query.build_query_as().fetch_all(pool).await
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

/// Reports matching the filter, newest id first. Each filter given is one
/// condition (`created` a range of its UTC day), so a name or a period
/// bound reads its own index.
pub async fn reports_matching(
    pool: &PgPool,
    filter: &ReportFilter,
    paging: Paging,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    let mut query = QueryBuilder::new(
        "SELECT id, period_start, period_end, created, name, version FROM reports WHERE true",
    );
    if let Some(id) = filter.id {
        query.push(" AND id = ").push_bind(id);
    }
    if let Some(name) = &filter.name {
        query.push(" AND name = ").push_bind(name.clone());
    }
    if let Some(day) = filter.created_day {
        let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
        query
            .push(" AND created >= ")
            .push_bind(start)
            .push(" AND created < ")
            .push_bind(start + chrono::TimeDelta::days(1));
    }
    if let Some(period_start) = filter.period_start {
        query.push(" AND period_start = ").push_bind(period_start);
    }
    if let Some(period_end) = filter.period_end {
        query.push(" AND period_end = ").push_bind(period_end);
    }
    query.push(" ORDER BY id DESC");
    push_page(&mut query, paging.limit, paging.offset);
    query.build_query_as().fetch_all(pool).await
}

/// A stored report's JSON.
pub async fn report_body(pool: &PgPool, id: i64) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar("SELECT body FROM reports WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_searchable_column_has_an_index() {
        for service in [Service::Nova, Service::Glance, Service::Generic] {
            for (field, column) in service.search_fields() {
                assert!(column_index(column).is_some(), "{field} of {service:?}");
            }
        }
        for column in ["instance", "image_uuid", "request_id"] {
            assert_eq!(column_index(column), Some(ColumnIndex::Plain), "{column}");
        }
    }

    #[test]
    fn only_family_keyed_indexes_walk_each_family() {
        let generic = Service::Generic.families();
        assert!(walks_per_family(ColumnIndex::ByFamily, generic));
        assert!(!walks_per_family(
            ColumnIndex::ByFamily,
            Service::Nova.families()
        ));
        assert!(!walks_per_family(ColumnIndex::Plain, generic));
    }
}
