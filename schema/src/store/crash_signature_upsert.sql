-- Adds signed counts to the top-crasher aggregates (rows come sorted by key).
INSERT INTO crash_signature_hours AS t
SELECT * FROM jsonb_populate_recordset(NULL::crash_signature_hours, $1)
ON CONFLICT (product, version, hour, signature, os_name, process) DO UPDATE SET
    total = t.total + EXCLUDED.total,
    win_count = t.win_count + EXCLUDED.win_count,
    mac_count = t.mac_count + EXCLUDED.mac_count,
    linux_count = t.linux_count + EXCLUDED.linux_count,
    other_count = t.other_count + EXCLUDED.other_count,
    hang_count = t.hang_count + EXCLUDED.hang_count,
    plugin_count = t.plugin_count + EXCLUDED.plugin_count,
    content_count = t.content_count + EXCLUDED.content_count,
    browser_count = t.browser_count + EXCLUDED.browser_count
