-- The raw event store: every distinct event of every family, once (SPEC §3.4).

-- A deployment is one broker connection (StackTach's region or cell).
CREATE TABLE deployments (
    id   serial PRIMARY KEY,
    name text NOT NULL UNIQUE
);

-- Ids of raw events; `#` in stacky and the id `stacky/show` takes.
CREATE SEQUENCE raw_events_id_seq AS bigint;

-- The idempotency key. A unique key on the partitioned raw table would have to
-- include the partition key, so (deployment, message_id) gets its own table.
-- Rows outlive raw retention on purpose: a replay of a pruned event must still
-- be recognized, or its derived rows would be counted twice.
CREATE TABLE event_keys (
    deployment_id int    NOT NULL REFERENCES deployments (id),
    message_id    text   NOT NULL,
    event_id      bigint NOT NULL,
    PRIMARY KEY (deployment_id, message_id)
);

-- StackTach's raw columns for every family. `body` is the message's JSON text
-- as published (json, not jsonb: `stacky/show` prints it in its own key order,
-- and json accepts what the publisher sent without re-encoding). lz4 makes
-- compressing ~2 kB bodies far cheaper than the default pglz (SPEC §7).
CREATE TABLE raw_events (
    id            bigint      NOT NULL,
    deployment_id int         NOT NULL,
    message_id    text        NOT NULL,
    family        text        NOT NULL,
    exchange      text        NOT NULL,
    routing_key   text        NOT NULL,
    is_error      boolean     NOT NULL,
    event         text        NOT NULL,
    "when"        timestamptz NOT NULL,
    publisher     text,
    service       text,
    host          text,
    instance      text,
    request_id    text,
    tenant        text,
    state         text,
    old_state     text,
    old_task      text,
    task          text,
    image_type    int,
    image_uuid    text,
    image_status  text,
    image_owner   text,
    image_size    bigint,
    body          json COMPRESSION lz4 NOT NULL
) PARTITION BY RANGE ("when");

CREATE INDEX raw_events_id ON raw_events (id);
CREATE INDEX raw_events_when ON raw_events ("when");
CREATE INDEX raw_events_instance ON raw_events (instance, "when") WHERE instance IS NOT NULL;
CREATE INDEX raw_events_request_id ON raw_events (request_id, "when") WHERE request_id IS NOT NULL;
CREATE INDEX raw_events_image_uuid ON raw_events (image_uuid, "when") WHERE image_uuid IS NOT NULL;

-- Distinct event names and hosts per family, kept on ingest so that
-- `stacky/events` and `stacky/hosts` never scan raw events.
CREATE TABLE event_names (
    family text NOT NULL,
    event  text NOT NULL,
    PRIMARY KEY (family, event)
);

CREATE TABLE event_hosts (
    family text NOT NULL,
    host   text NOT NULL,
    PRIMARY KEY (family, host)
);

-- Every rejected delivery, redeliveries included, with what is needed to
-- replay it once the cause is fixed.
CREATE TABLE rejected_messages (
    id          bigserial   PRIMARY KEY,
    deployment  text        NOT NULL,
    exchange    text        NOT NULL,
    routing_key text        NOT NULL,
    queue       text,
    reason      text        NOT NULL,
    message     text        NOT NULL,
    body        bytea       NOT NULL,
    received_at timestamptz NOT NULL,
    replayed_at timestamptz
);

CREATE INDEX rejected_messages_pending ON rejected_messages (id) WHERE replayed_at IS NULL;
