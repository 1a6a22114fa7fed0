-- Rollups of the summary and top-crasher aggregates, kept by the same
-- undoable deltas as the hourly rows (DESIGN.md step 5), so a long window
-- reads one row per day instead of one per hour, and the all-time summary
-- one row per operation and bucket, however long tach has run (SPEC §4.6).

CREATE TABLE timing_buckets_daily (
    operation text        NOT NULL,
    day       timestamptz NOT NULL,  -- midnight UTC
    bucket    smallint    NOT NULL,
    n         bigint      NOT NULL,
    total_us  bigint      NOT NULL,
    PRIMARY KEY (operation, day, bucket)
);

CREATE TABLE timing_buckets_total (
    operation text     NOT NULL,
    bucket    smallint NOT NULL,
    n         bigint   NOT NULL,
    total_us  bigint   NOT NULL,
    PRIMARY KEY (operation, bucket)
);

CREATE TABLE crash_signature_days (
    product       text        NOT NULL,
    version       text        NOT NULL,
    signature     text        NOT NULL,
    day           timestamptz NOT NULL,  -- midnight UTC
    os_name       text        NOT NULL,
    process       text        NOT NULL,
    total         bigint      NOT NULL,
    win_count     bigint      NOT NULL,
    mac_count     bigint      NOT NULL,
    linux_count   bigint      NOT NULL,
    other_count   bigint      NOT NULL,
    hang_count    bigint      NOT NULL,
    plugin_count  bigint      NOT NULL,
    content_count bigint      NOT NULL,
    browser_count bigint      NOT NULL,
    PRIMARY KEY (product, version, day, signature, os_name, process)
);

INSERT INTO timing_buckets_daily (operation, day, bucket, n, total_us)
SELECT operation, date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', bucket, sum(n), sum(total_us)
FROM timing_buckets
GROUP BY 1, 2, 3;

INSERT INTO timing_buckets_total (operation, bucket, n, total_us)
SELECT operation, bucket, sum(n), sum(total_us)
FROM timing_buckets
GROUP BY 1, 2;

INSERT INTO crash_signature_days
SELECT product, version, signature, date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', os_name, process,
       sum(total), sum(win_count), sum(mac_count), sum(linux_count), sum(other_count),
       sum(hang_count), sum(plugin_count), sum(content_count), sum(browser_count)
FROM crash_signature_hours
GROUP BY product, version, signature, 4, os_name, process;
