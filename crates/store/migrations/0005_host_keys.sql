-- SSH host keys recorded on first contact (`--accept-new-host-keys`), so a device whose key
-- changes later is refused, with or without the flag. Portable SQL for SQLite and PostgreSQL.

CREATE TABLE host_keys (
    device       TEXT    NOT NULL PRIMARY KEY,
    host_key     TEXT    NOT NULL,
    recorded_at  BIGINT  NOT NULL
);
