-- Glance image usage as StackTach kept it (API.md §1 "Usage"). Each row
-- comes from one stored event (`event_id`, tach's raw event id), so a
-- message stored once gives its rows once; raw partitions may later be
-- pruned, these rows stay.

CREATE TABLE image_usage (
    event_id   bigint      PRIMARY KEY,
    message_id text        NOT NULL,
    uuid       text        NOT NULL,
    created_at timestamptz,
    owner      text,
    size       bigint
);
CREATE INDEX image_usage_uuid ON image_usage (uuid);

CREATE TABLE image_deletes (
    event_id   bigint      PRIMARY KEY,
    message_id text        NOT NULL,
    uuid       text        NOT NULL,
    deleted_at timestamptz
);
CREATE INDEX image_deletes_uuid ON image_deletes (uuid);

CREATE TABLE image_exists (
    event_id               bigint      NOT NULL,
    position               int         NOT NULL,  -- index in payload.images
    message_id             text        NOT NULL,
    uuid                   text        NOT NULL,
    created_at             timestamptz NOT NULL,
    deleted_at             timestamptz,
    audit_period_beginning timestamptz,
    audit_period_ending    timestamptz,
    owner                  text,
    size                   bigint,
    status                 text        NOT NULL DEFAULT 'pending',
    PRIMARY KEY (event_id, position)
);
CREATE INDEX image_exists_uuid ON image_exists (uuid);
CREATE INDEX image_exists_owner_ending ON image_exists (owner, audit_period_ending);
