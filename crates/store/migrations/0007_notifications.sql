-- The notification outbox: one row per (alert notification, channel), written before it is
-- sent, so a notification that could not be delivered is kept and retried, across restarts,
-- and one delivered is never sent again. Portable SQL for SQLite and PostgreSQL: TEXT and
-- BIGINT, unix milliseconds.

CREATE TABLE notification_outbox (
    -- Stable for the row's life; sent as the webhook-id and the email's Message-ID.
    id               TEXT    NOT NULL PRIMARY KEY,
    channel          TEXT    NOT NULL,
    alert_key        TEXT    NOT NULL,
    -- firing or resolved
    alert_status     TEXT    NOT NULL,
    -- The notification as JSON.
    payload          TEXT    NOT NULL,
    -- pending, delivered or failed (given up: refused for good, or its channel is gone)
    state            TEXT    NOT NULL,
    attempts         BIGINT  NOT NULL,
    created_at       BIGINT  NOT NULL,
    -- When it may be tried (again); while a sender holds it, when its claim runs out.
    next_attempt_at  BIGINT  NOT NULL,
    last_error       TEXT,
    finished_at      BIGINT
);

CREATE INDEX notification_outbox_due ON notification_outbox (channel, state, next_attempt_at);
CREATE INDEX notification_outbox_key ON notification_outbox (channel, alert_key, created_at);
