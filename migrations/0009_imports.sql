-- Bulk product imports. The upload is stored in chunks as it arrives (an
-- import is 'uploading' until its request completes); a worker job then
-- reads the chunks in order and applies the rows in batches, each batch
-- committed with the progress it makes (resume_line), so a killed worker
-- resumes after the last committed batch and applies no row twice.

CREATE TABLE imports (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id),
    status       text NOT NULL DEFAULT 'uploading'
                 CHECK (status IN ('uploading', 'queued', 'running', 'done', 'failed')),
    format       text NOT NULL CHECK (format IN ('ndjson', 'csv')),
    mode         text NOT NULL CHECK (mode IN ('upsert', 'create')),
    atomic       boolean NOT NULL,
    bytes        bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    rows         integer NOT NULL DEFAULT 0 CHECK (rows >= 0),
    created      integer NOT NULL DEFAULT 0 CHECK (created >= 0),
    updated      integer NOT NULL DEFAULT 0 CHECK (updated >= 0),
    failed       integer NOT NULL DEFAULT 0 CHECK (failed >= 0),
    resume_line  bigint NOT NULL DEFAULT 1 CHECK (resume_line >= 1),
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz
);

-- Listing newest first, and the purge of abandoned uploads.
CREATE INDEX imports_created_idx ON imports (created_at, id);
CREATE INDEX imports_uploading_idx ON imports (created_at) WHERE status = 'uploading';

CREATE TABLE import_chunks (
    import_id bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    seq       integer NOT NULL CHECK (seq >= 0),
    data      bytea NOT NULL,
    PRIMARY KEY (import_id, seq)
);

CREATE TABLE import_errors (
    import_id bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    n         integer NOT NULL CHECK (n >= 1),
    line      bigint NOT NULL CHECK (line >= 1),
    field     text,
    message   text NOT NULL,
    PRIMARY KEY (import_id, n)
);
