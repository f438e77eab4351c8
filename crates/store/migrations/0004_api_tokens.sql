-- API tokens of the controller's HTTP API. Only a SHA-256 of each token is kept: the token
-- itself is shown once, when it is created. Scopes are a space-separated list (read, operate).

CREATE TABLE api_tokens (
    name        TEXT    NOT NULL PRIMARY KEY,
    hash        TEXT    NOT NULL UNIQUE,
    scopes      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
