//! SQL of the release routes, over the tables tach-ingest derives
//! (`releases`, `release_packages`, `environment_deploys`,
//! `environment_status`). Column names come from fixed lists; every value is bound.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use sqlx::types::Json as JsonColumn;
use sqlx::{PgPool, Postgres, QueryBuilder};

use super::params::{Field, Filter, Paging, Value};
use super::render::{orlo_time, Sample};
use crate::sql::push_page;

/// A release row. Its JSON columns come as PostgreSQL's text of them and are
/// answered as they are, without being parsed into values and written again.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReleaseRow {
    /// Release id.
    pub id: String,
    /// Tag fields of `release.create`, a JSON object.
    pub tag_fields: String,
    /// `user`.
    pub user: Option<String>,
    /// `team`.
    pub team: Option<String>,
    /// `platforms`, a JSON array.
    pub platforms: String,
    /// `references`, a JSON array.
    pub references: String,
    /// `notes`, a JSON array.
    pub notes: String,
    /// `metadata`, a JSON object.
    pub metadata: String,
    /// Start.
    pub stime: Option<DateTime<Utc>>,
    /// Finish.
    pub ftime: Option<DateTime<Utc>>,
    /// Seconds.
    pub duration: Option<i64>,
    /// Derived status.
    pub status: String,
}

/// A package row, serialized as Orlo answers a package.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct PackageRow {
    /// Package id.
    pub id: String,
    /// Its release.
    pub release_id: String,
    /// Name.
    pub name: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Rollback flag.
    pub rollback: bool,
    /// Diff URL.
    pub diff_url: Option<String>,
    /// Derived status.
    pub status: String,
    /// Start.
    #[serde(serialize_with = "orlo_time")]
    pub stime: Option<DateTime<Utc>>,
    /// Finish.
    #[serde(serialize_with = "orlo_time")]
    pub ftime: Option<DateTime<Utc>>,
    /// Seconds.
    pub duration: Option<i64>,
}

const RELEASE_COLUMNS: &str =
    "SELECT r.id, r.tag_fields::text, r.\"user\", r.team, r.platforms::text,
        r.\"references\"::text, r.notes::text, r.metadata::text,
        r.stime, r.ftime, r.duration, r.status FROM releases r";
const PACKAGE_COLUMNS: &str =
    "SELECT p.release_id, p.id, p.name, p.version, p.rollback, p.diff_url,
        p.status, p.stime, p.ftime, p.duration FROM release_packages p";

/// Releases matching every filter, newest start first (oldest with `asc`).
pub async fn releases(
    pool: &PgPool,
    filters: &[Filter],
    paging: Paging,
) -> Result<Vec<ReleaseRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new(RELEASE_COLUMNS);
    query.push(" WHERE true");
    for filter in filters {
        push_release_filter(&mut query, filter);
    }
    let order = if paging.ascending { "ASC" } else { "DESC" };
    query.push(format!(
        " ORDER BY r.stime {order} NULLS LAST, r.first_seen {order}, r.id"
    ));
    push_page(&mut query, paging.limit, paging.offset);
    query.build_query_as().fetch_all(pool).await
}

fn push_release_filter(query: &mut QueryBuilder<Postgres>, filter: &Filter) {
    let column = match filter.field {
        Field::User => "r.\"user\"",
        Field::Team => "r.team",
        Field::Status => "r.status",
        Field::Platform => return push_platform(query, &filter.value),
        Field::PackageName
        | Field::PackageVersion
        | Field::PackageStatus
        | Field::PackageRollback => {
            query.push(" AND EXISTS (SELECT 1 FROM release_packages p WHERE p.release_id = r.id");
            push_condition(query, package_column(filter.field), filter);
            query.push(")");
            return;
        }
        other => time_column("r", other),
    };
    push_condition(query, column, filter);
}

fn push_platform(query: &mut QueryBuilder<Postgres>, value: &Value) {
    match value {
        Value::Text(platform) => {
            query.push(" AND jsonb_exists(r.platforms, ");
            query.push_bind(platform.clone());
            query.push(")");
        }
        _ => {
            query.push(" AND jsonb_array_length(r.platforms) = 0");
        }
    }
}

fn package_column(field: Field) -> &'static str {
    match field {
        Field::PackageName => "p.name",
        Field::PackageVersion => "p.version",
        Field::PackageStatus => "p.status",
        Field::PackageRollback => "p.rollback",
        Field::ReleaseId => "p.release_id",
        other => time_column("p", other),
    }
}

fn time_column(table: &str, field: Field) -> &'static str {
    match (table, field) {
        ("r", Field::StimeBefore | Field::StimeAfter) => "r.stime",
        ("r", Field::FtimeBefore | Field::FtimeAfter) => "r.ftime",
        ("r", _) => "r.duration",
        (_, Field::StimeBefore | Field::StimeAfter) => "p.stime",
        (_, Field::FtimeBefore | Field::FtimeAfter) => "p.ftime",
        _ => "p.duration",
    }
}

/// ` AND <column> <op> $n`, or ` AND <column> IS NULL` for Orlo's `null`.
fn push_condition(query: &mut QueryBuilder<Postgres>, column: &str, filter: &Filter) {
    query.push(format!(" AND {column}"));
    let operator = match filter.field {
        Field::StimeBefore | Field::FtimeBefore | Field::DurationLt => " < ",
        Field::StimeAfter | Field::FtimeAfter | Field::DurationGt => " > ",
        _ => " = ",
    };
    match &filter.value {
        Value::Null => query.push(" IS NULL"),
        Value::Text(text) => query.push(operator).push_bind(text.clone()),
        Value::Time(time) => query.push(operator).push_bind(*time),
        Value::Seconds(seconds) => query.push(operator).push_bind(*seconds),
        Value::Bool(flag) => query.push(operator).push_bind(*flag),
    };
}

/// The packages of `release_ids`, each release's in their order.
pub async fn packages_of(
    pool: &PgPool,
    release_ids: &[String],
) -> Result<Vec<PackageRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PACKAGE_COLUMNS} WHERE p.release_id = ANY($1) ORDER BY p.release_id, p.position"
    )))
    .bind(release_ids)
    .fetch_all(pool)
    .await
}

/// One release by id.
pub async fn release(pool: &PgPool, id: &str) -> Result<Option<ReleaseRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{RELEASE_COLUMNS} WHERE r.id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The tag object of the release tagged with one of `tags` (the first tag
/// given wins; among releases of one tag, the latest created).
pub async fn tag_object(pool: &PgPool, tags: &[String]) -> Result<Option<Json>, sqlx::Error> {
    let found: Option<JsonColumn<Json>> = sqlx::query_scalar(
        "SELECT r.tag_fields FROM releases r
         JOIN unnest($1::text[]) WITH ORDINALITY AS wanted (tag, ordinal) ON wanted.tag = r.tag
         ORDER BY wanted.ordinal, r.first_seen DESC, r.id LIMIT 1",
    )
    .bind(tags)
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|json| json.0))
}

/// One package by id (within one release when `release_id` is given).
pub async fn package(
    pool: &PgPool,
    release_id: Option<&str>,
    id: &str,
) -> Result<Option<PackageRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PACKAGE_COLUMNS} WHERE p.id = $1 AND ($2::text IS NULL OR p.release_id = $2)
         ORDER BY p.release_id LIMIT 1"
    )))
    .bind(id)
    .bind(release_id)
    .fetch_optional(pool)
    .await
}

/// Packages matching every filter, newest start first (oldest with `asc`).
pub async fn packages(
    pool: &PgPool,
    filters: &[Filter],
    paging: Paging,
) -> Result<Vec<PackageRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new(PACKAGE_COLUMNS);
    query.push(" WHERE true");
    for filter in filters {
        push_condition(&mut query, package_column(filter.field), filter);
    }
    let order = if paging.ascending { "ASC" } else { "DESC" };
    query.push(format!(
        " ORDER BY p.stime {order} NULLS LAST, p.release_id, p.position"
    ));
    push_page(&mut query, paging.limit, paging.offset);
    query.build_query_as().fetch_all(pool).await
}

/// What `/info/*` and `/stats/*` group releases by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// All releases as one group named `global`.
    Global,
    /// `user`.
    User,
    /// `team`.
    Team,
    /// Each platform of a release.
    Platform,
    /// Each package name of a release.
    Package,
}

impl GroupBy {
    /// The group's `kind` in `release_counts` (migration 0013).
    fn kind(self) -> &'static str {
        match self {
            GroupBy::Global => "global",
            GroupBy::User => "user",
            GroupBy::Team => "team",
            GroupBy::Platform => "platform",
            GroupBy::Package => "package",
        }
    }

    /// The releases joined with their group keys, `r` and `k.key`; with
    /// `named`, only the group `$1` where that narrows the read.
    fn source(self, named: bool) -> String {
        let lateral = |keys: &str| format!("releases r CROSS JOIN LATERAL ({keys}) AS k (key)");
        match self {
            GroupBy::Global => lateral("SELECT 'global'::text"),
            GroupBy::User => lateral("SELECT r.\"user\""),
            GroupBy::Team => lateral("SELECT r.team"),
            GroupBy::Platform => lateral("SELECT jsonb_array_elements_text(r.platforms)"),
            // Packages first, then their releases: one read of the package
            // names instead of one probe of release_packages per release.
            GroupBy::Package => format!(
                "(SELECT DISTINCT p.release_id, p.name FROM release_packages p
                  WHERE p.name IS NOT NULL{}) AS k (release_id, key)
                 JOIN releases r ON r.id = k.release_id",
                if named { " AND p.name = $1" } else { "" }
            ),
        }
    }
}

/// Which releases `/info` and `/stats` count.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only this group.
    pub name: Option<String>,
    /// Only releases on this platform.
    pub platform: Option<String>,
    /// Only releases started at or after.
    pub stime: Option<DateTime<Utc>>,
    /// Only releases finished at or before.
    pub ftime: Option<DateTime<Utc>>,
}

/// Release counts of one group.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupCounts {
    /// The group's name.
    pub key: String,
    /// Every release.
    pub releases: i64,
    /// Successful releases without a rollback package.
    pub normal_successful: i64,
    /// Failed releases without a rollback package.
    pub normal_failed: i64,
    /// Successful releases with a rollback package.
    pub rollback_successful: i64,
    /// Failed releases with a rollback package.
    pub rollback_failed: i64,
}

/// Release counts per group, by name: from the running totals of
/// `release_counts` unless a platform or time filter narrows the releases
/// counted, which only counting them can answer.
pub async fn group_counts(
    pool: &PgPool,
    group_by: GroupBy,
    scope: &Scope,
) -> Result<Vec<GroupCounts>, sqlx::Error> {
    if scope.platform.is_none() && scope.stime.is_none() && scope.ftime.is_none() {
        return sqlx::query_as(
            "SELECT key, releases, normal_successful, normal_failed,
                    rollback_successful, rollback_failed
             FROM release_counts
             WHERE kind = $1 AND ($2::text IS NULL OR key = $2) AND releases > 0
             ORDER BY key",
        )
        .bind(group_by.kind())
        .bind(scope.name.as_deref())
        .fetch_all(pool)
        .await;
    }
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT k.key, count(*) AS releases,
                count(*) FILTER (WHERE r.status = 'SUCCESSFUL' AND NOT r.rollback) AS normal_successful,
                count(*) FILTER (WHERE r.status = 'FAILED' AND NOT r.rollback) AS normal_failed,
                count(*) FILTER (WHERE r.status = 'SUCCESSFUL' AND r.rollback) AS rollback_successful,
                count(*) FILTER (WHERE r.status = 'FAILED' AND r.rollback) AS rollback_failed
         FROM {}
         WHERE k.key IS NOT NULL
           AND ($1::text IS NULL OR k.key = $1)
           AND ($2::text IS NULL OR jsonb_exists(r.platforms, $2))
           AND ($3::timestamptz IS NULL OR r.stime >= $3)
           AND ($4::timestamptz IS NULL OR r.ftime <= $4)
         GROUP BY k.key ORDER BY k.key",
        group_by.source(scope.name.is_some())
    )))
    .bind(scope.name.as_deref())
    .bind(scope.platform.as_deref())
    .bind(scope.stime)
    .bind(scope.ftime)
    .fetch_all(pool)
    .await
}

/// Each package's version of its latest successful run in a finished release:
/// one walk of (name, ftime, stime, release id) per package name, from the
/// first successful run on, until one belongs to a finished release (on the
/// platform when given).
pub async fn package_versions(
    pool: &PgPool,
    platform: Option<&str>,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new(
        "WITH RECURSIVE names (name) AS (
             SELECT min(name) FROM release_packages WHERE status = 'SUCCESSFUL'
             UNION ALL
             SELECT (SELECT min(name) FROM release_packages
                     WHERE status = 'SUCCESSFUL' AND name > names.name)
             FROM names WHERE names.name IS NOT NULL)
         SELECT n.name, latest.version FROM names n CROSS JOIN LATERAL (
             SELECT p.version FROM release_packages p JOIN releases r ON r.id = p.release_id
             WHERE p.name = n.name AND p.status = 'SUCCESSFUL' AND r.ftime IS NOT NULL",
    );
    if let Some(platform) = platform {
        query
            .push(" AND jsonb_exists(r.platforms, ")
            .push_bind(platform.to_owned())
            .push(")");
    }
    query.push(
        " ORDER BY p.ftime DESC NULLS LAST, p.stime DESC NULLS LAST, p.release_id LIMIT 1) latest
         WHERE n.name IS NOT NULL ORDER BY n.name",
    );
    query.build_query_as().fetch_all(pool).await
}

/// The time units of `/stats/by_date` (`unit`, lowercase), each naming the
/// parts of a start time its tree nests by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DateUnit {
    /// Calendar year.
    Year,
    /// Year, month.
    Month,
    /// ISO week-numbering year, ISO week.
    Week,
    /// ISO year, week and weekday (Monday 1).
    Iso,
    /// Year, month, day.
    Day,
    /// Year, month, day, hour.
    Hour,
}

impl DateUnit {
    /// The unit Orlo names `text`.
    pub fn parse(text: &str) -> Option<DateUnit> {
        Some(match text {
            "year" => DateUnit::Year,
            "month" => DateUnit::Month,
            "week" => DateUnit::Week,
            "iso" => DateUnit::Iso,
            "day" => DateUnit::Day,
            "hour" => DateUnit::Hour,
            _ => return None,
        })
    }

    /// The unit's parts of the UTC time `t`, as SQL integers.
    fn parts_sql(self) -> &'static str {
        match self {
            DateUnit::Year => "extract(year FROM t)::int",
            DateUnit::Month => "extract(year FROM t)::int, extract(month FROM t)::int",
            DateUnit::Week => "extract(isoyear FROM t)::int, extract(week FROM t)::int",
            DateUnit::Iso => {
                "extract(isoyear FROM t)::int, extract(week FROM t)::int, extract(isodow FROM t)::int"
            }
            DateUnit::Day => {
                "extract(year FROM t)::int, extract(month FROM t)::int, extract(day FROM t)::int"
            }
            DateUnit::Hour => {
                "extract(year FROM t)::int, extract(month FROM t)::int, extract(day FROM t)::int,
                 extract(hour FROM t)::int"
            }
        }
    }
}

/// One leaf count of `/stats/by_date`: the time parts of a unit, a package
/// name (packages only), the release's outcome and rollback flag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DatedCount {
    /// The unit's parts of the start time.
    pub parts: Vec<i32>,
    /// Package name, for packages.
    pub name: Option<String>,
    /// The release succeeded (else it failed).
    pub successful: bool,
    /// Release has a rollback package.
    pub rollback: bool,
    /// How many.
    pub count: i64,
}

/// Finished (successful or failed) releases, or their packages, that
/// started, counted per leaf of the tree, in the order of each leaf's first
/// start (the tree's keys appear in the order their first start came).
pub async fn dated(
    pool: &PgPool,
    packages: bool,
    unit: DateUnit,
) -> Result<Vec<DatedCount>, sqlx::Error> {
    let started = if packages {
        "SELECT p.stime AT TIME ZONE 'UTC' AS t, p.name, r.status, r.rollback
         FROM release_packages p JOIN releases r ON r.id = p.release_id
         WHERE p.stime IS NOT NULL AND r.status IN ('SUCCESSFUL', 'FAILED')"
    } else {
        "SELECT r.stime AT TIME ZONE 'UTC' AS t, NULL::text AS name, r.status, r.rollback
         FROM releases r
         WHERE r.stime IS NOT NULL AND r.status IN ('SUCCESSFUL', 'FAILED')
           AND EXISTS (SELECT 1 FROM release_packages p WHERE p.release_id = r.id)"
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT ARRAY[{}] AS parts, name, status = 'SUCCESSFUL' AS successful, rollback,
                count(*) AS count
         FROM ({started}) AS started
         GROUP BY 1, 2, 3, 4 ORDER BY min(t)",
        unit.parts_sql()
    )))
    .fetch_all(pool)
    .await
}

/// Known environments, sorted: the distinct names of both tables, one
/// primary-key probe per name.
pub async fn environment_names(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH RECURSIVE deployed (name) AS (
             SELECT min(environment) FROM environment_deploys
             UNION ALL
             SELECT (SELECT min(environment) FROM environment_deploys
                     WHERE environment > deployed.name)
             FROM deployed WHERE deployed.name IS NOT NULL),
         sampled (name) AS (
             SELECT min(environment) FROM environment_status
             UNION ALL
             SELECT (SELECT min(environment) FROM environment_status
                     WHERE environment > sampled.name)
             FROM sampled WHERE sampled.name IS NOT NULL)
         SELECT name FROM deployed WHERE name IS NOT NULL
         UNION SELECT name FROM sampled WHERE name IS NOT NULL ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}

/// True when an environment has a deploy or a status sample.
pub async fn environment_exists(pool: &PgPool, environment: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM environment_deploys WHERE environment = $1)
             OR EXISTS (SELECT 1 FROM environment_status WHERE environment = $1)",
    )
    .bind(environment)
    .fetch_one(pool)
    .await
}

/// The revisions of an environment's latest deploy (`{}` when none).
pub async fn latest_revisions(pool: &PgPool, environment: &str) -> Result<Json, sqlx::Error> {
    let revisions: Option<JsonColumn<Json>> = sqlx::query_scalar(
        "SELECT revisions FROM environment_deploys WHERE environment = $1
         ORDER BY deployed_at DESC, message_id DESC LIMIT 1",
    )
    .bind(environment)
    .fetch_optional(pool)
    .await?;
    Ok(revisions.map(|json| json.0).unwrap_or(Json::Null))
}

/// An environment's status samples of the last 7 days, newest first, at most 1,000.
pub async fn recent_samples(
    pool: &PgPool,
    environment: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, Sample)>, sqlx::Error> {
    let rows: Vec<(DateTime<Utc>, JsonColumn<Sample>)> = sqlx::query_as(
        "SELECT date_created, sample FROM environment_status
         WHERE environment = $1 AND date_created > $2 - interval '7 days'
         ORDER BY date_created DESC, sample_key DESC LIMIT 1000",
    )
    .bind(environment)
    .bind(now)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(created, sample)| (created, sample.0))
        .collect())
}
