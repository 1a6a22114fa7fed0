-- A batch's cost stays flat as events accumulate (SPEC §4.8): re-derivations
-- read only their key's events (DESIGN.md, "Keep keys small, and out of
-- retention's reach"), and the dedup key table stays as small as it can be.

-- An exists record depends on its own audit event alone and is now written
-- once with it; re-deriving it from every audit of its instance made each
-- batch slower as instances aged. Audits are no longer kept for re-derivation.
DELETE FROM usage_events WHERE event = 'compute.instance.exists';

-- The events timings and KPI trackers are derived from: every nova `.start`
-- and `.end`, and every `compute.instance.update` published by an api
-- service, with only the columns pairing reads. Narrow, indexed by both
-- keys, not partitioned, and never pruned: a re-derivation is one index
-- probe per key instead of one per raw partition (the newest of which has
-- no statistics yet while it fills, so the planner scanned it), and an
-- `.end` that arrives after retention dropped its `.start` still pairs.
CREATE TABLE pairing_events (
    event_id      bigint      PRIMARY KEY,  -- raw_events.id
    deployment_id int         NOT NULL,
    message_id    text        NOT NULL,
    event         text        NOT NULL,
    "when"        timestamptz NOT NULL,
    service       text,
    instance      text,
    request_id    text,
    tenant        text
);
CREATE INDEX pairing_events_instance ON pairing_events (instance) WHERE instance IS NOT NULL;
CREATE INDEX pairing_events_request ON pairing_events (request_id) WHERE request_id IS NOT NULL;

INSERT INTO pairing_events (event_id, deployment_id, message_id, event, "when", service, instance, request_id, tenant)
SELECT id, deployment_id, message_id, event, "when", service, instance, request_id, tenant
FROM raw_events
WHERE family = 'nova'
  AND (right(event, 6) = '.start' OR right(event, 4) = '.end'
       OR (event = 'compute.instance.update' AND service LIKE '%api%'));

-- The key table grows by one row per event forever (it outlives retention on
-- purpose) and takes inserts at random places, so its size is what its
-- insert cost follows once it no longer fits in memory. A message id is
-- kept as its 128-bit MD5 (a uuid): 16 bytes instead of ~37 for the ids
-- publishers send, which made the primary key 39 % and the table 29 %
-- smaller per key at 1.1 million keys. A chance collision of two ids is
-- vanishingly unlikely (about 10^-22 at a billion keys). The foreign key to
-- `deployments` is gone too: ids come from that table itself
-- (Store::deployment_id), and the check cost a trigger call per key.
CREATE TABLE event_keys_by_hash (
    deployment_id int    NOT NULL,
    key           uuid   NOT NULL,  -- md5(message_id)::uuid
    event_id      bigint NOT NULL
);
INSERT INTO event_keys_by_hash (deployment_id, key, event_id)
SELECT deployment_id, md5(message_id)::uuid, event_id FROM event_keys
ORDER BY 1, 2;
DROP TABLE event_keys;
ALTER TABLE event_keys_by_hash RENAME TO event_keys;
ALTER TABLE event_keys ADD PRIMARY KEY (deployment_id, key);
