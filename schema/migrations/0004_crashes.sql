-- Socorro's half of tach (SPEC §3.3, API.md §2): crash reports, their
-- extensions, per-signature aggregates, product versions and builds, all
-- materialized on ingest from `crash.processed`, `product.version` and
-- `product.build` events.

-- One row per crash `uuid`: the newest message of that uuid wins, ordered by
-- (source_when, source_message_id) so that the same set of messages gives the
-- same row whatever order they arrive in.
CREATE TABLE crash_reports (
    uuid              text        PRIMARY KEY,
    event_id          bigint      NOT NULL,  -- raw event of the winning message (`report_id`)
    source_when       timestamptz NOT NULL,
    source_message_id text        NOT NULL,
    date_processed    timestamptz NOT NULL,
    client_crash_date timestamptz,
    product           text        NOT NULL,  -- '' when the report carries none
    version           text        NOT NULL,  -- '' when none
    build             text,
    build_id          bigint,                -- `build` when it is an integer
    release_channel   text,
    os_name           text        NOT NULL,  -- '' when none
    os_version        text,
    cpu_name          text,
    signature         text        NOT NULL,  -- '' when none
    reason            text,
    address           text,
    hangid            text,                  -- null when absent or empty
    process_type      text,                  -- as sent
    process           text        NOT NULL,  -- browser, plugin, content or other
    user_comments     text,
    email             text,
    url               text,
    plugin_name       text,
    plugin_version    text,
    plugin_filename   text,
    uptime            bigint,
    install_age       bigint
);

CREATE INDEX crash_reports_date ON crash_reports (date_processed);
CREATE INDEX crash_reports_signature ON crash_reports (signature, date_processed);
CREATE INDEX crash_reports_product ON crash_reports (product, version, date_processed);
CREATE INDEX crash_reports_hangid ON crash_reports (hangid) WHERE hangid IS NOT NULL;
CREATE INDEX crash_reports_comments ON crash_reports (date_processed)
    WHERE user_comments IS NOT NULL AND user_comments <> '';

-- `addons` of a report, `extension_key` being the position in the list.
CREATE TABLE crash_extensions (
    uuid              text    NOT NULL REFERENCES crash_reports (uuid) ON DELETE CASCADE,
    extension_key     int     NOT NULL,
    extension_id      text    NOT NULL,
    extension_version text,
    PRIMARY KEY (uuid, extension_key)
);

-- Top-crasher aggregates: undoable sums per (product, version, signature,
-- hour of date_processed, os_name, process). A replaced report subtracts
-- what it once added. os_name and process are part of the key so that the
-- `os` and `crash_type` filters of `/crashes/signatures` stay exact.
CREATE TABLE crash_signature_hours (
    product       text        NOT NULL,
    version       text        NOT NULL,
    signature     text        NOT NULL,
    hour          timestamptz NOT NULL,
    os_name       text        NOT NULL,
    process       text        NOT NULL,
    total         bigint      NOT NULL,
    win_count     bigint      NOT NULL,
    mac_count     bigint      NOT NULL,
    linux_count   bigint      NOT NULL,
    other_count   bigint      NOT NULL,
    hang_count    bigint      NOT NULL,
    plugin_count  bigint      NOT NULL,
    content_count bigint      NOT NULL,
    browser_count bigint      NOT NULL,
    PRIMARY KEY (product, version, hour, signature, os_name, process)
);

-- Product versions: the newest `product.version` message of (product, version) wins.
CREATE TABLE product_versions (
    product           text        NOT NULL,
    version           text        NOT NULL,
    source_when       timestamptz NOT NULL,
    source_message_id text        NOT NULL,
    build_type        text,
    release_channel   text,
    major_version     text,
    start_date        date,
    end_date          date,
    throttle          double precision,
    is_featured       boolean,
    PRIMARY KEY (product, version)
);

-- Nightly builds: the newest `product.build` message of
-- (product, version, platform, buildid) wins.
CREATE TABLE product_builds (
    product           text        NOT NULL,
    version           text        NOT NULL,
    platform          text        NOT NULL,
    buildid           bigint      NOT NULL,
    source_when       timestamptz NOT NULL,
    source_message_id text        NOT NULL,
    build_type        text,
    beta_number       text,
    repository        text,
    date              date,
    PRIMARY KEY (product, version, platform, buildid)
);

CREATE INDEX product_builds_date ON product_builds (product, date);
