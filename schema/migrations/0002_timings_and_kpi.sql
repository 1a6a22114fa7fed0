-- StackTach's derived data for nova notifications (SPEC §4.4–4.6). Every row
-- is re-derived from the stored events of its key on ingest (DESIGN.md).

-- One row per timing of (instance, operation, request): a pair, or a start or
-- an end alone. `duration_us` is set for pairs only.
CREATE TABLE timings (
    instance       text        NOT NULL,
    operation      text        NOT NULL,
    request_id     text        NOT NULL,  -- '' when the events carry none
    seq            int         NOT NULL,
    deployment_id  int         NOT NULL,
    start_event_id bigint,
    start_when     timestamptz,
    end_event_id   bigint,
    end_when       timestamptz,
    duration_us    bigint,
    PRIMARY KEY (instance, operation, request_id, seq)
);

-- `stacky/timings` (by name, ascending) and exact summary min/max.
CREATE INDEX timings_by_duration ON timings (operation, duration_us) WHERE duration_us >= 0;
-- `stacky/timings` and `summary` restricted to a window of end times.
CREATE INDEX timings_by_end ON timings (operation, end_when) WHERE duration_us >= 0;

-- Summary aggregates: sums that a re-derivation can undo. Complete,
-- non-negative timings per (operation, hour of their end, duration bucket);
-- buckets are log-spaced (histogram.rs), so a percentile over any window
-- costs the number of buckets in it.
CREATE TABLE timing_buckets (
    operation text        NOT NULL,
    hour      timestamptz NOT NULL,
    bucket    smallint    NOT NULL,
    n         bigint      NOT NULL,
    total_us  bigint      NOT NULL,
    PRIMARY KEY (operation, hour, bucket)
);

-- KPI request trackers: one per api `compute.instance.update`, ended by the
-- latest `.end` of its request.
CREATE TABLE kpi_trackers (
    start_event_id bigint      PRIMARY KEY,
    request_id     text        NOT NULL,
    deployment_id  int         NOT NULL,
    instance       text,
    start_when     timestamptz NOT NULL,
    end_event_id   bigint,
    end_when       timestamptz,
    operation      text,
    tenant         text,
    duration_us    bigint
);

CREATE INDEX kpi_trackers_request ON kpi_trackers (request_id);
CREATE INDEX kpi_trackers_start ON kpi_trackers (start_when) WHERE end_event_id IS NOT NULL;

-- Every tenant any stored event carries, so `stacky/kpi/<tenant>` can tell an
-- unknown tenant (404) from one without recent requests without a scan.
CREATE TABLE event_tenants (
    tenant text PRIMARY KEY
);
