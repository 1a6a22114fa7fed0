//! The SQL of the Socorro middleware endpoints. Every value is bound; the
//! only identifiers that vary (the columns `in` and `plugin_in` name) come
//! from the fixed whitelists of `params`. The searches are planned for the
//! values at hand (unnamed statements): which index fits depends on how
//! frequent the signature or product searched is, which a plan cached for
//! any value cannot know (it walked a whole period for a rare signature).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder};

use super::params::{Mode, Paging, ReportType, Search, TermFilter};
use crate::sql::push_page;

/// A crash report as `/search/crashes` and `/report/list` return it.
#[derive(Debug, sqlx::FromRow)]
pub struct ReportRow {
    pub uuid: String,
    pub date_processed: DateTime<Utc>,
    pub client_crash_date: Option<DateTime<Utc>>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub build: Option<String>,
    pub release_channel: Option<String>,
    pub os_name: Option<String>,
    pub os_version: Option<String>,
    pub cpu_name: Option<String>,
    pub signature: Option<String>,
    pub reason: Option<String>,
    pub address: Option<String>,
    pub hangid: Option<String>,
    pub process_type: Option<String>,
    pub user_comments: Option<String>,
    pub email: Option<String>,
    pub url: Option<String>,
    pub uptime: Option<i64>,
    pub install_age: Option<i64>,
    pub plugin_name: Option<String>,
    pub plugin_version: Option<String>,
    pub plugin_filename: Option<String>,
}

const REPORT_COLUMNS: &str =
    "uuid, date_processed, client_crash_date, NULLIF(product, '') AS product, \
     NULLIF(version, '') AS version, build, release_channel, NULLIF(os_name, '') AS os_name, \
     os_version, cpu_name, NULLIF(signature, '') AS signature, reason, address, hangid, \
     process_type, user_comments, email, url, uptime, install_age, plugin_name, \
     plugin_version, plugin_filename";

/// A comment on a report.
#[derive(Debug, sqlx::FromRow)]
pub struct CommentRow {
    pub uuid: String,
    pub date_processed: DateTime<Utc>,
    pub user_comments: Option<String>,
    pub email: Option<String>,
}

/// One distinct signature of `/search/signatures`.
#[derive(Debug, sqlx::FromRow)]
pub struct SignatureRow {
    pub signature: String,
    pub count: i64,
    pub is_windows: i64,
    pub is_mac: i64,
    pub is_linux: i64,
    pub numhang: i64,
    pub numplugin: i64,
}

/// Escapes `%`, `_` and `\` so that LIKE treats them literally.
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn push_terms(query: &mut QueryBuilder<Postgres>, filter: &TermFilter) {
    query.push(" AND (");
    for (index, column) in filter.columns.iter().enumerate() {
        if index > 0 {
            query.push(" OR ");
        }
        // `column` comes from a fixed whitelist (params::SEARCH_FIELDS / PLUGIN_FIELDS).
        match filter.mode {
            Mode::IsExactly => {
                query
                    .push(format!("{column} = "))
                    .push_bind(filter.terms.clone());
            }
            Mode::Contains => {
                let pattern = format!("%{}%", escape_like(&filter.terms));
                query
                    .push(format!("{column} LIKE "))
                    .push_bind(pattern)
                    .push(" ESCAPE '\\'");
            }
            Mode::StartsWith => {
                let pattern = format!("{}%", escape_like(&filter.terms));
                query
                    .push(format!("{column} LIKE "))
                    .push_bind(pattern)
                    .push(" ESCAPE '\\'");
            }
        }
    }
    query.push(")");
}

/// `FROM crash_reports WHERE …` for a search.
fn push_where(query: &mut QueryBuilder<Postgres>, search: &Search) {
    query
        .push(" FROM crash_reports WHERE date_processed >= ")
        .push_bind(search.from)
        .push(" AND date_processed < ")
        .push_bind(search.to);
    push_filters(query, search);
}

/// The conditions of a search besides its period, on the columns that
/// `crash_reports` and `crash_signature_hours` share (product, version,
/// signature, os_name, process) and on those only reports have.
fn push_filters(query: &mut QueryBuilder<Postgres>, search: &Search) {
    query
        .push(" AND product = ANY(")
        .push_bind(search.products.clone())
        .push(")");
    if let Some(signature) = &search.signature {
        query.push(" AND signature = ").push_bind(signature.clone());
    }
    if let Some(terms) = &search.terms {
        push_terms(query, terms);
    }
    push_versions(query, search);
    if !search.os.is_empty() {
        let patterns: Vec<String> = search
            .os
            .iter()
            .map(|os| format!("{}%", escape_like(os)))
            .collect();
        // LIKE's default escape character is the backslash.
        query
            .push(" AND os_name ILIKE ANY(")
            .push_bind(patterns)
            .push(")");
    }
    push_any(query, "release_channel", &search.branches);
    push_any(query, "reason", &search.reasons);
    if !search.build_ids.is_empty() {
        query
            .push(" AND build_id = ANY(")
            .push_bind(search.build_ids.clone())
            .push(")");
    }
    if let Some(build_from) = search.build_from {
        query.push(" AND build_id >= ").push_bind(build_from);
    }
    if let Some(build_to) = search.build_to {
        query.push(" AND build_id <= ").push_bind(build_to);
    }
    push_process(query, search);
}

fn push_versions(query: &mut QueryBuilder<Postgres>, search: &Search) {
    if search.product_versions.is_empty() && search.bare_versions.is_empty() {
        return;
    }
    let products: Vec<String> = search
        .product_versions
        .iter()
        .map(|(product, _)| product.clone())
        .collect();
    let versions: Vec<String> = search
        .product_versions
        .iter()
        .map(|(_, version)| version.clone())
        .collect();
    query
        .push(" AND ((product, version) IN (SELECT * FROM unnest(")
        .push_bind(products)
        .push("::text[], ")
        .push_bind(versions)
        .push("::text[])) OR version = ANY(")
        .push_bind(search.bare_versions.clone())
        .push("))");
}

/// `column = ANY(values)` when values are given; `column` is a literal of this module.
fn push_any(query: &mut QueryBuilder<Postgres>, column: &'static str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    query
        .push(format!(" AND {column} = ANY("))
        .push_bind(values.to_vec())
        .push(")");
}

fn push_process(query: &mut QueryBuilder<Postgres>, search: &Search) {
    if let Some(process) = search.process {
        query.push(" AND process = ").push_bind(process);
    }
    match search.report_type {
        ReportType::Any => {}
        ReportType::Crash => {
            query.push(" AND hangid IS NULL");
        }
        ReportType::Hang => {
            query.push(" AND hangid IS NOT NULL");
        }
    }
    if let Some(plugin) = &search.plugin {
        push_terms(query, plugin);
    }
}

/// Reports matching `search`, newest first, and how many match in all.
pub async fn reports(
    pool: &PgPool,
    search: &Search,
    paging: Paging,
) -> Result<(Vec<ReportRow>, i64), sqlx::Error> {
    let rows = report_page(pool, search, paging).await?;
    Ok((rows, count(pool, search, "count(*)").await?))
}

/// One page of the reports matching `search`, newest first.
async fn report_page(
    pool: &PgPool,
    search: &Search,
    paging: Paging,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    let mut query = QueryBuilder::new(format!("SELECT {REPORT_COLUMNS}"));
    push_where(&mut query, search);
    query.push(" ORDER BY date_processed DESC, uuid COLLATE \"C\"");
    push_page(&mut query, paging.limit, paging.offset);
    query
        .build_query_as()
        .persistent(false)
        .fetch_all(pool)
        .await
}

async fn count(pool: &PgPool, search: &Search, what: &'static str) -> Result<i64, sqlx::Error> {
    let mut query = QueryBuilder::new(format!("SELECT {what}"));
    push_where(&mut query, search);
    query
        .build_query_scalar()
        .persistent(false)
        .fetch_one(pool)
        .await
}

/// Reports with a non-empty comment matching `search`, newest first.
pub async fn comments(
    pool: &PgPool,
    search: &Search,
    paging: Paging,
) -> Result<(Vec<CommentRow>, i64), sqlx::Error> {
    let with_comment = |query: &mut QueryBuilder<Postgres>| {
        push_where(query, search);
        query.push(" AND user_comments IS NOT NULL AND user_comments <> ''");
    };
    let mut query = QueryBuilder::new("SELECT uuid, date_processed, user_comments, email");
    with_comment(&mut query);
    query.push(" ORDER BY date_processed DESC, uuid COLLATE \"C\"");
    push_page(&mut query, paging.limit, paging.offset);
    let rows = query
        .build_query_as()
        .persistent(false)
        .fetch_all(pool)
        .await?;
    let mut total = QueryBuilder::new("SELECT count(*)");
    with_comment(&mut total);
    let total = total
        .build_query_scalar()
        .persistent(false)
        .fetch_one(pool)
        .await?;
    Ok((rows, total))
}

/// Distinct signatures of the reports matching `search`, by count
/// descending then signature, and how many distinct signatures match.
pub async fn signatures(
    pool: &PgPool,
    search: &Search,
    paging: Paging,
) -> Result<(Vec<SignatureRow>, i64), sqlx::Error> {
    let mut query = QueryBuilder::new(
        "SELECT signature, count(*) AS count,
                count(*) FILTER (WHERE os_name LIKE 'Win%') AS is_windows,
                count(*) FILTER (WHERE os_name LIKE 'Mac%') AS is_mac,
                count(*) FILTER (WHERE os_name LIKE 'Lin%') AS is_linux,
                count(*) FILTER (WHERE hangid IS NOT NULL) AS numhang,
                count(*) FILTER (WHERE process = 'plugin') AS numplugin",
    );
    push_where(&mut query, search);
    query.push(" GROUP BY signature ORDER BY count DESC, signature COLLATE \"C\"");
    push_page(&mut query, paging.limit, paging.offset);
    let rows = query
        .build_query_as()
        .persistent(false)
        .fetch_all(pool)
        .await?;
    Ok((
        rows,
        count(pool, search, "count(DISTINCT signature)").await?,
    ))
}

/// A search period split for the aggregates: whole hours `[start, end)`
/// read from `crash_signature_hours`, and the partial hours at its edges
/// read from the reports (empty ranges read nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourSplit {
    /// Whole hours.
    pub hours: (DateTime<Utc>, DateTime<Utc>),
    /// Edges.
    pub edges: [(DateTime<Utc>, DateTime<Utc>); 2],
}

/// `WITH … parts AS (…)`: one row per aggregate row of the period's whole
/// hours and per report of its edges, each with the counts it adds. Only
/// for a search the aggregates can answer ([`Search::answers_from_aggregates`]).
fn push_parts(query: &mut QueryBuilder<Postgres>, search: &Search, split: &HourSplit) {
    match &search.signature {
        Some(signature) => push_signature_parts(query, search, signature, split),
        None => push_version_parts(query, search, split),
    }
    // Named as the aggregates name them: when the period holds no whole
    // hour (or ends before it starts) this arm is the only one.
    query.push(
        "SELECT signature, 1 AS total, (os_name LIKE 'Win%')::int AS win_count,
                (os_name LIKE 'Mac%')::int AS mac_count, (os_name LIKE 'Lin%')::int AS linux_count,
                (hangid IS NOT NULL)::int AS hang_count, (process = 'plugin')::int AS plugin_count
         FROM crash_reports WHERE ((date_processed >= ",
    );
    query
        .push_bind(split.edges[0].0)
        .push(" AND date_processed < ")
        .push_bind(split.edges[0].1)
        .push(") OR (date_processed >= ")
        .push_bind(split.edges[1].0)
        .push(" AND date_processed < ")
        .push_bind(split.edges[1].1)
        .push("))");
    push_filters(query, search);
    query.push(")");
}

const AGGREGATE_COUNTS: &str =
    "signature, total, win_count, mac_count, linux_count, hang_count, plugin_count";

/// One signature's hourly rows of the whole hours, through (signature, hour):
/// they are that signature's alone, however many others the product has.
fn push_signature_parts(
    query: &mut QueryBuilder<Postgres>,
    search: &Search,
    signature: &str,
    split: &HourSplit,
) {
    query
        .push(format!(
            "WITH parts AS (SELECT {AGGREGATE_COUNTS} FROM crash_signature_hours WHERE signature = "
        ))
        .push_bind(signature.to_owned())
        .push(" AND hour >= ")
        .push_bind(split.hours.0)
        .push(" AND hour < ")
        .push_bind(split.hours.1);
    push_filters(query, search);
    query.push(" UNION ALL ");
}

/// The whole days from the daily rollups and the hours around them from
/// the hourly rows, per (product, version): the versions of each product
/// come one primary-key probe at a time, so a product's rows are read from
/// its key ranges whatever else is stored.
fn push_version_parts(query: &mut QueryBuilder<Postgres>, search: &Search, split: &HourSplit) {
    let parts = RollupParts::of(split.hours);
    query
        .push(
            "WITH RECURSIVE versions (product, version) AS (
                 SELECT wanted.product, (SELECT min(version) FROM crash_signature_days
                                         WHERE product = wanted.product)
                 FROM unnest(",
        )
        .push_bind(search.products.clone())
        .push(
            "::text[]) AS wanted (product)
                 UNION ALL
                 SELECT v.product, (SELECT min(version) FROM crash_signature_days
                                    WHERE product = v.product AND version > v.version)
                 FROM versions v WHERE v.version IS NOT NULL),
             parts AS (",
        );
    // One arm per non-empty range, each a range of the primary key.
    let ranges = [("crash_signature_days", "day", parts.days)]
        .into_iter()
        .chain(
            parts
                .hours
                .map(|hours| ("crash_signature_hours", "hour", hours)),
        )
        .filter(|(_, _, (from, until))| from < until);
    for (table, column, (from, until)) in ranges {
        query.push(format!(
            "SELECT a.* FROM versions v CROSS JOIN LATERAL (
                 SELECT {AGGREGATE_COUNTS} FROM {table}
                 WHERE product = v.product AND version = v.version AND {column} >= "
        ));
        query
            .push_bind(from)
            .push(format!(" AND {column} < "))
            .push_bind(until);
        push_filters(query, search);
        // OFFSET 0 keeps the subquery a probe per version: flattened into
        // a join, the planner may scan the whole table instead.
        query.push(" OFFSET 0) a WHERE v.version IS NOT NULL UNION ALL ");
    }
}

/// [`signatures`] from the aggregates: the same rows and total, reading
/// the aggregate rows of the period's whole hours instead of its reports.
pub async fn signatures_from_hours(
    pool: &PgPool,
    search: &Search,
    split: &HourSplit,
    paging: Paging,
) -> Result<(Vec<SignatureRow>, i64), sqlx::Error> {
    let mut query = QueryBuilder::new("");
    push_parts(&mut query, search, split);
    query.push(
        " SELECT signature, sum(total)::bigint AS count, sum(win_count)::bigint AS is_windows,
                     sum(mac_count)::bigint AS is_mac, sum(linux_count)::bigint AS is_linux,
                     sum(hang_count)::bigint AS numhang, sum(plugin_count)::bigint AS numplugin,
                     count(*) OVER () AS signatures
              FROM parts GROUP BY signature
              ORDER BY count DESC, signature COLLATE \"C\"",
    );
    push_page(&mut query, paging.limit, paging.offset);
    let rows: Vec<CountedSignatureRow> = query
        .build_query_as()
        .persistent(false)
        .fetch_all(pool)
        .await?;
    let total = match rows.first() {
        Some(row) => row.signatures,
        // A page past the end: count the signatures on their own.
        None if paging.offset > 0 => {
            let mut count = QueryBuilder::new("");
            push_parts(&mut count, search, split);
            count.push(" SELECT count(DISTINCT signature) FROM parts");
            count
                .build_query_scalar()
                .persistent(false)
                .fetch_one(pool)
                .await?
        }
        None => 0,
    };
    Ok((rows.into_iter().map(|row| row.row).collect(), total))
}

/// A signature row with the number of signatures of the whole answer.
#[derive(Debug, sqlx::FromRow)]
struct CountedSignatureRow {
    #[sqlx(flatten)]
    row: SignatureRow,
    signatures: i64,
}

/// How many reports match a search the aggregates can answer.
pub async fn count_from_hours(
    pool: &PgPool,
    search: &Search,
    split: &HourSplit,
) -> Result<i64, sqlx::Error> {
    let mut query = QueryBuilder::new("");
    push_parts(&mut query, search, split);
    query.push(" SELECT coalesce(sum(total), 0)::bigint FROM parts");
    query
        .build_query_scalar()
        .persistent(false)
        .fetch_one(pool)
        .await
}

/// Reports matching `search`, newest first; the total from the aggregates.
pub async fn reports_counted_from_hours(
    pool: &PgPool,
    search: &Search,
    split: &HourSplit,
    paging: Paging,
) -> Result<(Vec<ReportRow>, i64), sqlx::Error> {
    let rows = report_page(pool, search, paging).await?;
    Ok((rows, count_from_hours(pool, search, split).await?))
}

/// One signature's counts over a period, for top crashers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TopCrasherRow {
    pub signature: String,
    pub count: i64,
    pub win_count: i64,
    pub mac_count: i64,
    pub linux_count: i64,
    pub hang_count: i64,
    pub plugin_count: i64,
    pub content_count: i64,
}

/// What a top-crasher period is made of: whole hours read from the
/// aggregates, and the partial hours at its edges read from the reports
/// (at most two hours of them), so any period is exact.
#[derive(Debug, Clone)]
pub struct Period {
    /// Product.
    pub product: String,
    /// Version.
    pub version: String,
    /// Whole hours `[start, end)` read from `crash_signature_hours`.
    pub hours: (DateTime<Utc>, DateTime<Utc>),
    /// Edges read from `crash_reports`.
    pub edges: [(DateTime<Utc>, DateTime<Utc>); 2],
    /// Process class, or None for all.
    pub process: Option<&'static str>,
    /// An `os_name` prefix, LIKE-escaped, or None.
    pub os_pattern: Option<String>,
}

/// Every signature's counts over `period`.
pub async fn top_crashers(
    pool: &PgPool,
    period: &Period,
) -> Result<Vec<TopCrasherRow>, sqlx::Error> {
    let parts = RollupParts::of(period.hours);
    sqlx::query_as(include_str!("top_crashers.sql"))
        .bind(&period.product)
        .bind(&period.version)
        .bind(parts.days.0)
        .bind(parts.days.1)
        .bind(parts.hours[0].0)
        .bind(parts.hours[0].1)
        .bind(parts.hours[1].0)
        .bind(parts.hours[1].1)
        .bind(period.process)
        .bind(&period.os_pattern)
        .bind(period.edges[0].0)
        .bind(period.edges[0].1)
        .bind(period.edges[1].0)
        .bind(period.edges[1].1)
        .fetch_all(pool)
        .await
}

/// Whole hours `[start, end)` as the aggregates hold them: whole UTC days
/// from `crash_signature_days`, at most two hour ranges around them from
/// `crash_signature_hours`; an empty range is `(start, start)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupParts {
    /// Whole days.
    pub days: (DateTime<Utc>, DateTime<Utc>),
    /// Hours before and after the days.
    pub hours: [(DateTime<Utc>, DateTime<Utc>); 2],
}

impl RollupParts {
    /// Splits whole hours `[start, end)`.
    pub fn of((start, end): (DateTime<Utc>, DateTime<Utc>)) -> RollupParts {
        let empty = (start, start);
        let split = tach_schema::rollup::split_into_days(Some(start), Some(end));
        let days = split
            .days
            .and_then(|days| Some((days.from?, days.until?)))
            .unwrap_or(empty);
        let mut hours = [empty; 2];
        for (slot, range) in hours.iter_mut().zip(split.hours) {
            *slot = range;
        }
        RollupParts { days, hours }
    }
}

/// The other reports of `uuid`'s hang pair (or of `hangid`, at most one).
pub async fn paired_uuids(
    pool: &PgPool,
    uuid: &str,
    hangid: Option<&str>,
) -> Result<Vec<String>, sqlx::Error> {
    match hangid {
        Some(hangid) => {
            sqlx::query_scalar(
                "SELECT uuid FROM crash_reports WHERE hangid = $1 AND uuid <> $2
                 ORDER BY uuid COLLATE \"C\" LIMIT 1",
            )
            .bind(hangid)
            .bind(uuid)
            .fetch_all(pool)
            .await
        }
        None => {
            sqlx::query_scalar(
                "SELECT other.uuid FROM crash_reports report
                 JOIN crash_reports other ON other.hangid = report.hangid AND other.uuid <> report.uuid
                 WHERE report.uuid = $1
                 ORDER BY other.uuid COLLATE \"C\"",
            )
            .bind(uuid)
            .fetch_all(pool)
            .await
        }
    }
}

/// One extension of a report.
#[derive(Debug, sqlx::FromRow)]
pub struct ExtensionRow {
    pub report_id: i64,
    pub date_processed: DateTime<Utc>,
    pub extension_key: i32,
    pub extension_id: String,
    pub extension_version: Option<String>,
}

/// The extensions of report `uuid` processed at `date` (to the microsecond,
/// or to the second when `date` has no fraction).
pub async fn extensions(
    pool: &PgPool,
    uuid: &str,
    date: DateTime<Utc>,
) -> Result<Vec<ExtensionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.event_id AS report_id, r.date_processed, e.extension_key, e.extension_id,
                e.extension_version
         FROM crash_reports r JOIN crash_extensions e ON e.uuid = r.uuid
         WHERE r.uuid = $1
           AND (r.date_processed = $2 OR date_trunc('second', r.date_processed) = $2)
         ORDER BY e.extension_key",
    )
    .bind(uuid)
    .bind(date)
    .fetch_all(pool)
    .await
}

/// A product version.
#[derive(Debug, sqlx::FromRow)]
pub struct VersionRow {
    pub product: String,
    pub version: String,
    pub build_type: Option<String>,
    pub release_channel: Option<String>,
    pub major_version: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub throttle: Option<f64>,
    pub is_featured: Option<bool>,
    pub build_ids: Vec<i64>,
}

/// What [`product_versions`] reads besides the version rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builds {
    /// Each version's distinct build ids (`/util/versions_info`).
    Listed,
    /// None: `/products/versions` does not show them, and collecting them
    /// was nine tenths of its query (11.4 ms of PostgreSQL for 600 versions).
    Skipped,
}

/// The versions named (every one when `pairs` is empty), by product and version.
pub async fn product_versions(
    pool: &PgPool,
    pairs: &[(String, String)],
    builds: Builds,
) -> Result<Vec<VersionRow>, sqlx::Error> {
    let products: Vec<&str> = pairs.iter().map(|(p, _)| p.as_str()).collect();
    let versions: Vec<&str> = pairs.iter().map(|(_, v)| v.as_str()).collect();
    let build_ids = match builds {
        Builds::Listed => {
            "ARRAY(SELECT DISTINCT b.buildid FROM product_builds b
                   WHERE b.product = v.product AND b.version = v.version
                   ORDER BY b.buildid)"
        }
        Builds::Skipped => "'{}'::bigint[]",
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT v.product, v.version, v.build_type, v.release_channel, v.major_version,
                v.start_date, v.end_date, v.throttle, v.is_featured, {build_ids} AS build_ids
         FROM product_versions v
         WHERE cardinality($1::text[]) = 0
            OR (v.product, v.version) IN (SELECT * FROM unnest($1::text[], $2::text[]))
         ORDER BY v.product COLLATE \"C\", v.version COLLATE \"C\""
    )))
    .bind(&products)
    .bind(&versions)
    .fetch_all(pool)
    .await
}

/// A nightly build.
#[derive(Debug, sqlx::FromRow)]
pub struct BuildRow {
    pub product: String,
    pub version: String,
    pub platform: String,
    pub buildid: i64,
    pub build_type: Option<String>,
    pub beta_number: Option<String>,
    pub repository: Option<String>,
    pub date: Option<NaiveDate>,
}

/// Builds of `product` (and `version`) dated `from` or later, newest first.
pub async fn builds(
    pool: &PgPool,
    product: &str,
    version: Option<&str>,
    from: NaiveDate,
) -> Result<Vec<BuildRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT product, version, platform, buildid, build_type, beta_number, repository, date
         FROM product_builds
         WHERE product = $1 AND ($2::text IS NULL OR version = $2) AND date >= $3
         ORDER BY date DESC, buildid DESC, version COLLATE \"C\", platform COLLATE \"C\"",
    )
    .bind(product)
    .bind(version)
    .bind(from)
    .fetch_all(pool)
    .await
}
