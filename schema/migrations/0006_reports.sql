-- Stored reports (`stacky/reports`, `stacky/report/<id>`): generated on a
-- schedule or on demand by `tach-ingest report`, read as stored.
CREATE TABLE reports (
    id           bigserial   PRIMARY KEY,
    name         text        NOT NULL,
    version      int         NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    created      timestamptz NOT NULL,
    body         json        NOT NULL,
    UNIQUE (name, period_start, period_end)
);

CREATE INDEX reports_created ON reports (created);
