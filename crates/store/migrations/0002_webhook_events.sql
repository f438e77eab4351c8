-- Webhook deliveries already received, so a replayed or retried delivery is answered but not
-- processed twice. Portable SQL for SQLite and PostgreSQL: TEXT and BIGINT, unix milliseconds.

CREATE TABLE webhook_events (
    source       TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    received_at  BIGINT  NOT NULL,
    PRIMARY KEY (source, event_id)
);

CREATE INDEX webhook_events_received_at ON webhook_events (received_at);
