-- Releases, their packages, and environments (SPEC §3.3, API.md §3).
-- `releases` and `release_packages` are re-derived per release id from all of
-- that release's deploy events (DESIGN.md); the environment tables hold one
-- row per event, so "latest wins" is decided when reading and the stored state
-- does not depend on arrival order.

CREATE TABLE releases (
    id           text        PRIMARY KEY,
    tag          text,
    -- The tag fields of `release.create` as sent (tag, ref, sha, message,
    -- tagger, url, object): Observatory answers them verbatim.
    tag_fields   jsonb       NOT NULL,
    "user"       text,
    team         text,
    platforms    jsonb       NOT NULL,
    "references" jsonb       NOT NULL,
    notes        jsonb       NOT NULL,
    metadata     jsonb       NOT NULL,
    stime        timestamptz,
    ftime        timestamptz,
    duration     bigint,
    status       text        NOT NULL,
    -- True when any package is a rollback (Orlo's stats split on it).
    rollback     boolean     NOT NULL,
    -- Time of the release's first event: orders releases never started.
    first_seen   timestamptz NOT NULL
);

CREATE INDEX releases_tag ON releases (tag) WHERE tag IS NOT NULL;
CREATE INDEX releases_stime ON releases (stime);
CREATE INDEX releases_user ON releases ("user");

CREATE TABLE release_packages (
    release_id text        NOT NULL,
    id         text        NOT NULL,
    -- Order of the package's first event within its release.
    position   int         NOT NULL,
    name       text,
    version    text,
    rollback   boolean     NOT NULL,
    diff_url   text,
    status     text        NOT NULL,
    stime      timestamptz,
    ftime      timestamptz,
    duration   bigint,
    results    jsonb       NOT NULL,
    PRIMARY KEY (release_id, id)
);

CREATE INDEX release_packages_id ON release_packages (id);
CREATE INDEX release_packages_name ON release_packages (name, version);

-- One row per `environment.deploy` event; the current revisions are those of
-- the latest (by event time, then message id).
CREATE TABLE environment_deploys (
    environment   text        NOT NULL,
    deployed_at   timestamptz NOT NULL,
    deployment_id int         NOT NULL,
    message_id    text        NOT NULL,
    revisions     jsonb       NOT NULL,
    PRIMARY KEY (environment, deployment_id, message_id)
);

CREATE INDEX environment_deploys_latest ON environment_deploys (environment, deployed_at DESC, message_id DESC);

-- One row per status sample (`environment.status`), keyed by the sample's own
-- id: a re-sent sample replaces the stored one only when it is newer.
CREATE TABLE environment_status (
    environment  text        NOT NULL,
    sample_key   text        NOT NULL,
    date_created timestamptz NOT NULL,
    "when"       timestamptz NOT NULL,
    message_id   text        NOT NULL,
    sample       jsonb       NOT NULL,
    PRIMARY KEY (environment, sample_key)
);

CREATE INDEX environment_status_recent ON environment_status (environment, date_created DESC);
