-- Indexes that let every tach-query read cost the rows it returns, not the
-- rows stored (SPEC §4.6, §4.8). Each serves the order its endpoint reads
-- in (query/src/<family>/queries.rs), so a page stops after its rows.

-- stacky/search on every allowed field. Each index leads with the field and
-- the family, then the time, so a search walks one value of one family newest
-- first and stops after its page, however rare or frequent the value and
-- however many events are stored. The values of the nova-only and
-- glance-only columns are NULL elsewhere and stay out of the index.
CREATE INDEX raw_events_tenant ON raw_events (tenant, family, "when") WHERE tenant IS NOT NULL;
CREATE INDEX raw_events_event ON raw_events (event, family, "when");
CREATE INDEX raw_events_host ON raw_events (host, family, "when") WHERE host IS NOT NULL;
CREATE INDEX raw_events_service ON raw_events (service, family, "when") WHERE service IS NOT NULL;
CREATE INDEX raw_events_publisher ON raw_events (publisher, family, "when") WHERE publisher IS NOT NULL;
CREATE INDEX raw_events_state ON raw_events (state, family, "when") WHERE state IS NOT NULL;
CREATE INDEX raw_events_old_state ON raw_events (old_state, family, "when") WHERE old_state IS NOT NULL;
CREATE INDEX raw_events_old_task ON raw_events (old_task, family, "when") WHERE old_task IS NOT NULL;
CREATE INDEX raw_events_task ON raw_events (task, family, "when") WHERE task IS NOT NULL;
CREATE INDEX raw_events_routing_key ON raw_events (routing_key, family, "when");
CREATE INDEX raw_events_image_status ON raw_events (image_status, family, "when") WHERE image_status IS NOT NULL;
CREATE INDEX raw_events_image_owner ON raw_events (image_owner, family, "when") WHERE image_owner IS NOT NULL;
-- A message id matches a handful of events (one per deployment): a hash
-- index finds them with a 4-byte entry per event instead of the id itself.
CREATE INDEX raw_events_message_id ON raw_events USING hash (message_id);

-- stacky/watch reads one family's events in time order; so does the report
-- of a period (family 'nova'). Replaces the index on "when" alone, which made
-- a watch of one family read every other family's events of the window.
DROP INDEX raw_events_when;
CREATE INDEX raw_events_family_when ON raw_events (family, "when");

-- The exact minimum and maximum of a summary window: the extreme timing of
-- one operation in one hour is the first entry of its (operation, hour)
-- range. The hour is the UTC hour `timing_buckets` counts the timing in.
CREATE INDEX timings_by_end_hour ON timings
    (operation, date_bin('1 hour', end_when, timestamptz '1970-01-01 00:00:00+00'), duration_us)
    WHERE duration_us >= 0;

-- stacky/kpi/<tenant>: the tenant's finished trackers of the last day.
CREATE INDEX kpi_trackers_tenant ON kpi_trackers (tenant, start_when) WHERE end_event_id IS NOT NULL;

-- stacky/usage/* without an instance: the pages in their order.
CREATE INDEX usage_launches_order ON usage_launches (launched_at NULLS FIRST, instance, request_id);
CREATE INDEX usage_deletes_order ON usage_deletes (launched_at, instance);
CREATE INDEX usage_exists_order ON usage_exists (audit_period_ending NULLS FIRST, launched_at, instance, message_id);

-- stacky/reports/search: a name's reports newest first, and the period bounds.
CREATE INDEX reports_name ON reports (name, id);
CREATE INDEX reports_period_start ON reports (period_start);
CREATE INDEX reports_period_end ON reports (period_end);

-- /report/list counts one signature's reports of a period from its hourly
-- aggregates alone, not from every signature of its product.
CREATE INDEX crash_signature_hours_signature ON crash_signature_hours (signature, hour);

-- /crashes/comments: a signature's commented reports of a period.
CREATE INDEX crash_reports_signature_comments ON crash_reports (signature, date_processed)
    WHERE user_comments IS NOT NULL AND user_comments <> '';

-- GET /releases and GET /packages in both orders (newest start first, or
-- oldest with asc=true). The ascending release index replaces the one on
-- stime alone, whose ranges it serves too.
DROP INDEX releases_stime;
CREATE INDEX releases_newest ON releases (stime DESC NULLS LAST, first_seen DESC, id);
CREATE INDEX releases_oldest ON releases (stime, first_seen, id);
CREATE INDEX release_packages_newest ON release_packages (stime DESC NULLS LAST, release_id, position);
CREATE INDEX release_packages_oldest ON release_packages (stime, release_id, position);
-- /info/packages/versions: each package's latest successful run.
CREATE INDEX release_packages_latest_success ON release_packages
    (name, ftime DESC NULLS LAST, stime DESC NULLS LAST, release_id)
    WHERE status = 'SUCCESSFUL';
