-- Nothing a message carries, and no retention step, may block or change
-- what is stored (SPEC §4.3, §4.7).

-- A rejected delivery keeps its whole envelope: the AMQP properties as JSON
-- (NULL for a replay from a file). `json`, not `jsonb`: it keeps a `\u0000`
-- escape that `jsonb` refuses.
ALTER TABLE rejected_messages ADD COLUMN properties json;

-- The same message id in two deployments (a mirrored stream) is one event in
-- each, so an exists record belongs to its deployment. Existing rows take the
-- deployment whose key table holds their message id.
ALTER TABLE usage_exists ADD COLUMN deployment_id int;
UPDATE usage_exists AS u
SET deployment_id = k.deployment_id
FROM (SELECT key, min(deployment_id) AS deployment_id FROM event_keys GROUP BY key) AS k
WHERE k.key = md5(u.message_id)::uuid;
UPDATE usage_exists SET deployment_id = 0 WHERE deployment_id IS NULL;
ALTER TABLE usage_exists ALTER COLUMN deployment_id SET NOT NULL;
ALTER TABLE usage_exists DROP CONSTRAINT usage_exists_pkey;
ALTER TABLE usage_exists ADD PRIMARY KEY (instance, message_id, deployment_id);
DROP INDEX usage_exists_order;
CREATE INDEX usage_exists_order
    ON usage_exists (audit_period_ending NULLS FIRST, launched_at, instance, message_id, deployment_id);

-- The events a release is derived from (every `release.*` and `package.*`
-- event), kept like `usage_events` and `pairing_events`: never pruned, so a
-- note or a package result that arrives after retention dropped the
-- release's first events re-derives it from all of them, not from what the
-- prune left.
CREATE TABLE release_events (
    event_id   bigint      PRIMARY KEY,  -- raw_events.id
    release_id text        NOT NULL,
    message_id text        NOT NULL,
    event      text        NOT NULL,
    "when"     timestamptz NOT NULL,
    payload    json        NOT NULL
);
CREATE INDEX release_events_release ON release_events (release_id);

INSERT INTO release_events (event_id, release_id, message_id, event, "when", payload)
SELECT id, instance, message_id, event, "when", coalesce(body -> 'payload', 'null'::json)
FROM raw_events
WHERE family = 'deploy' AND instance IS NOT NULL AND event NOT LIKE 'environment.%';
