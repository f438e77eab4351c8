-- Monitoring: the status poll's state transitions (an endpoint's state, a device reachable or
-- not, a reboot), the alerts firing now, and every alert that fired, with who acknowledged it.
-- Portable SQL for SQLite and PostgreSQL: TEXT and BIGINT only, times as unix milliseconds.

CREATE TABLE monitor_transitions (
    at        BIGINT  NOT NULL,
    device    TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    from_state TEXT,
    to_state  TEXT    NOT NULL,
    detail    TEXT    NOT NULL
);

CREATE INDEX monitor_transitions_at ON monitor_transitions (at);
CREATE INDEX monitor_transitions_device ON monitor_transitions (device, at);

-- One row per alert firing now, by its dedup key.
CREATE TABLE alerts (
    alert_key    TEXT    NOT NULL PRIMARY KEY,
    rule         TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    device       TEXT,
    labels       TEXT    NOT NULL,
    summary      TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    resolved_text TEXT   NOT NULL,
    started_at   BIGINT  NOT NULL,
    acked_by     TEXT,
    acked_at     BIGINT
);

-- Every firing, from its start; `ended_at` is set when it resolves.
CREATE TABLE alert_history (
    alert_key    TEXT    NOT NULL,
    started_at   BIGINT  NOT NULL,
    rule         TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    device       TEXT,
    labels       TEXT    NOT NULL,
    summary      TEXT    NOT NULL,
    ended_at     BIGINT,
    resolved_text TEXT,
    acked_by     TEXT,
    acked_at     BIGINT,
    PRIMARY KEY (alert_key, started_at)
);

CREATE INDEX alert_history_started_at ON alert_history (started_at);
