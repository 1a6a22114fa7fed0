-- What each batch transaction stored, in commit order, for the live stream
-- (`stacky/watch/<deployment>/stream`). Event ids are taken before commit
-- and batches commit out of order, so a cursor on ids would skip events
-- that commit late. Each batch writes one row keyed by its transaction id;
-- a reader takes only rows below its snapshot's xmin, where every earlier
-- transaction has ended, so no row can later appear behind its cursor
-- (this holds on a streaming replica too). One row per batch, with the
-- watch rows as JSON, kept for an hour: the stream serves reconnects, the
-- tables serve history.
CREATE TABLE live_commits (
    xact          xid8        PRIMARY KEY,
    committed_at  timestamptz NOT NULL DEFAULT now(),
    deployment_id int         NOT NULL,
    -- [[id, is_error, family, "when" (RFC 3339), event, instance, image_uuid], …]
    events        jsonb       NOT NULL
);
CREATE INDEX live_commits_committed_at ON live_commits (committed_at);
