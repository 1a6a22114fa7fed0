-- Every signature's counts over one top-crasher period: whole days from the
-- daily rollups, the whole hours around them from the hourly aggregates,
-- the partial hours at the period's edges from the reports.
-- $1 product, $2 version, [$3, $4) whole days, [$5, $6) and [$7, $8) whole
-- hours, $9 process class or NULL, $10 os_name LIKE pattern or NULL,
-- [$11, $12) and [$13, $14) the edges. Empty ranges read nothing. Each
-- range is a branch of its own: as one OR, a planner without statistics
-- (a table autovacuum has not analyzed yet) filtered every row of the
-- product and version instead of scanning the two ranges.
WITH parts AS (
    SELECT signature, total, win_count, mac_count, linux_count, hang_count,
           plugin_count, content_count
    FROM crash_signature_days
    WHERE product = $1 AND version = $2 AND day >= $3 AND day < $4
      AND ($9::text IS NULL OR process = $9)
      AND ($10::text IS NULL OR os_name LIKE $10 ESCAPE '\')
    UNION ALL
    SELECT signature, total, win_count, mac_count, linux_count, hang_count,
           plugin_count, content_count
    FROM crash_signature_hours
    WHERE product = $1 AND version = $2 AND hour >= $5 AND hour < $6
      AND ($9::text IS NULL OR process = $9)
      AND ($10::text IS NULL OR os_name LIKE $10 ESCAPE '\')
    UNION ALL
    SELECT signature, total, win_count, mac_count, linux_count, hang_count,
           plugin_count, content_count
    FROM crash_signature_hours
    WHERE product = $1 AND version = $2 AND hour >= $7 AND hour < $8
      AND ($9::text IS NULL OR process = $9)
      AND ($10::text IS NULL OR os_name LIKE $10 ESCAPE '\')
    UNION ALL
    SELECT signature, 1,
           (os_name LIKE 'Win%')::int, (os_name LIKE 'Mac%')::int, (os_name LIKE 'Lin%')::int,
           (hangid IS NOT NULL)::int, (process = 'plugin')::int, (process = 'content')::int
    FROM crash_reports
    WHERE product = $1 AND version = $2 AND date_processed >= $11 AND date_processed < $12
      AND ($9::text IS NULL OR process = $9)
      AND ($10::text IS NULL OR os_name LIKE $10 ESCAPE '\')
    UNION ALL
    SELECT signature, 1,
           (os_name LIKE 'Win%')::int, (os_name LIKE 'Mac%')::int, (os_name LIKE 'Lin%')::int,
           (hangid IS NOT NULL)::int, (process = 'plugin')::int, (process = 'content')::int
    FROM crash_reports
    WHERE product = $1 AND version = $2 AND date_processed >= $13 AND date_processed < $14
      AND ($9::text IS NULL OR process = $9)
      AND ($10::text IS NULL OR os_name LIKE $10 ESCAPE '\')
)
SELECT signature,
       sum(total)::bigint AS count,
       sum(win_count)::bigint AS win_count,
       sum(mac_count)::bigint AS mac_count,
       sum(linux_count)::bigint AS linux_count,
       sum(hang_count)::bigint AS hang_count,
       sum(plugin_count)::bigint AS plugin_count,
       sum(content_count)::bigint AS content_count
FROM parts
GROUP BY signature
