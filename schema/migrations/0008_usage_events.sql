-- The events nova usage is derived from (API.md §1 "Usage"), with only the
-- payload fields it reads. Unlike raw_events this table is never pruned: an
-- instance lives longer than raw retention, and its usage is re-derived from
-- all its events whenever a new one arrives.

CREATE TABLE usage_events (
    event_id   bigint      PRIMARY KEY,  -- raw_events.id
    instance   text        NOT NULL,
    message_id text        NOT NULL,
    event      text        NOT NULL,
    "when"     timestamptz NOT NULL,
    request_id text        NOT NULL,     -- '' when none
    tenant     text,
    payload    json        NOT NULL      -- the payload fields usage reads
);
CREATE INDEX usage_events_instance ON usage_events (instance);

-- The usage events already stored.
INSERT INTO usage_events (event_id, instance, message_id, event, "when", request_id, tenant, payload)
SELECT id, instance, message_id, event, "when", coalesce(request_id, ''), tenant,
       CASE WHEN json_typeof(body -> 'payload') = 'object' THEN
           coalesce((SELECT json_object_agg(key, value)
                     FROM json_each(body -> 'payload')
                     WHERE key IN ('instance_type_id', 'instance_flavor_id', 'launched_at',
                                   'terminated_at', 'deleted_at', 'message',
                                   'audit_period_beginning', 'audit_period_ending', 'bandwidth')),
                    '{}'::json)
       ELSE '{}'::json END
FROM raw_events
WHERE family = 'nova' AND instance IS NOT NULL
  AND event IN ('compute.instance.create.start', 'compute.instance.create.end',
                'compute.instance.rebuild.start', 'compute.instance.rebuild.end',
                'compute.instance.rescue.start', 'compute.instance.rescue.end',
                'compute.instance.resize.prep.start', 'compute.instance.resize.revert.start',
                'compute.instance.resize.revert.end', 'compute.instance.finish_resize.start',
                'compute.instance.finish_resize.end', 'compute.instance.delete.end',
                'compute.instance.exists');
