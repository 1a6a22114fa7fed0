-- Every signature's counts over one top-crasher period: whole hours from the
-- aggregates, the partial hours at the period's edges from the reports.
-- $1 product, $2 version, [$3, $4) whole hours, $5 process class or NULL,
-- $6 os_name LIKE pattern or NULL, [$7, $8) and [$9, $10) the edges.
WITH parts AS (
    SELECT signature, total, win_count, mac_count, linux_count, hang_count,
           plugin_count, content_count
    FROM crash_signature_hours
    WHERE product = $1 AND version = $2 AND hour >= $3 AND hour < $4
      AND ($5::text IS NULL OR process = $5)
      AND ($6::text IS NULL OR os_name LIKE $6 ESCAPE '\')
    UNION ALL
    SELECT signature, 1,
           (os_name LIKE 'Win%')::int, (os_name LIKE 'Mac%')::int, (os_name LIKE 'Lin%')::int,
           (hangid IS NOT NULL)::int, (process = 'plugin')::int, (process = 'content')::int
    FROM crash_reports
    WHERE product = $1 AND version = $2
      AND ((date_processed >= $7 AND date_processed < $8)
        OR (date_processed >= $9 AND date_processed < $10))
      AND ($5::text IS NULL OR process = $5)
      AND ($6::text IS NULL OR os_name LIKE $6 ESCAPE '\')
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
