-- The store's tables: runs, per-device outcomes, the command journal and device leases.
-- Portable SQL for SQLite and PostgreSQL alike: TEXT and BIGINT only, timestamps as BIGINT
-- unix milliseconds (UTC), booleans as BIGINT 0/1. Run ids are allocated by the store.

CREATE TABLE runs (
    id            BIGINT  NOT NULL PRIMARY KEY,
    actor         TEXT    NOT NULL,
    command       TEXT    NOT NULL,
    git_commit    TEXT,
    plan_summary  TEXT,
    status        TEXT    NOT NULL,
    started_at    BIGINT  NOT NULL,
    finished_at   BIGINT
);

CREATE INDEX runs_started_at ON runs (started_at);

CREATE TABLE outcomes (
    run_id       BIGINT  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    device       TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    changes      BIGINT  NOT NULL,
    commands     BIGINT  NOT NULL,
    recorded_at  BIGINT  NOT NULL,
    PRIMARY KEY (run_id, device)
);

CREATE INDEX outcomes_device ON outcomes (device, run_id);

CREATE TABLE journal (
    run_id   BIGINT  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    device   TEXT    NOT NULL,
    seq      BIGINT  NOT NULL,
    at       BIGINT  NOT NULL,
    command  TEXT    NOT NULL,
    output   TEXT    NOT NULL,
    ok       BIGINT  NOT NULL,
    PRIMARY KEY (run_id, device, seq)
);

CREATE INDEX journal_device ON journal (device, run_id);

CREATE TABLE leases (
    device       TEXT    NOT NULL PRIMARY KEY,
    owner        TEXT    NOT NULL,
    token        TEXT    NOT NULL,
    acquired_at  BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
