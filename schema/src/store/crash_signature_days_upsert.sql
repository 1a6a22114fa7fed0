-- Adds the same signed counts to the daily rollup of the top-crasher
-- aggregates, summed per day (so no row is updated twice), in key order.
INSERT INTO crash_signature_days AS t
SELECT product, version, signature, date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day,
       os_name, process,
       sum(total), sum(win_count), sum(mac_count), sum(linux_count), sum(other_count),
       sum(hang_count), sum(plugin_count), sum(content_count), sum(browser_count)
FROM jsonb_populate_recordset(NULL::crash_signature_hours, $1)
GROUP BY product, version, signature, day, os_name, process
ORDER BY product, version, day, signature, os_name, process
ON CONFLICT (product, version, day, signature, os_name, process) DO UPDATE SET
    total = t.total + EXCLUDED.total,
    win_count = t.win_count + EXCLUDED.win_count,
    mac_count = t.mac_count + EXCLUDED.mac_count,
    linux_count = t.linux_count + EXCLUDED.linux_count,
    other_count = t.other_count + EXCLUDED.other_count,
    hang_count = t.hang_count + EXCLUDED.hang_count,
    plugin_count = t.plugin_count + EXCLUDED.plugin_count,
    content_count = t.content_count + EXCLUDED.content_count,
    browser_count = t.browser_count + EXCLUDED.browser_count
