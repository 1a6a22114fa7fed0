-- Nova usage as StackTach kept it (API.md §1 "Usage"), re-derived per
-- instance from its lifecycle events on ingest.

CREATE TABLE usage_launches (
    instance           text NOT NULL,
    request_id         text NOT NULL,  -- '' when none
    launched_at        timestamptz,
    instance_type_id   text,
    instance_flavor_id text,
    tenant             text,
    PRIMARY KEY (instance, request_id)
);

CREATE TABLE usage_deletes (
    instance    text        NOT NULL,
    launched_at timestamptz NOT NULL,
    deleted_at  timestamptz,
    PRIMARY KEY (instance, launched_at)
);

CREATE TABLE usage_exists (
    message_id             text        NOT NULL,
    instance               text        NOT NULL,
    launched_at            timestamptz NOT NULL,
    deleted_at             timestamptz,
    instance_type_id       text,
    instance_flavor_id     text,
    audit_period_beginning timestamptz,
    audit_period_ending    timestamptz,
    tenant                 text,
    bandwidth_public_out   bigint      NOT NULL,
    status                 text        NOT NULL DEFAULT 'pending',
    PRIMARY KEY (instance, message_id)
);
