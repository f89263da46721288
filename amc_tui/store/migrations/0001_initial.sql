-- amc-tui history store, schema 1.
-- Applied by amc_tui.store.schema in one transaction, together with
-- PRAGMA application_id and PRAGMA user_version = 1.
-- Timestamps are ISO-8601 UTC text (YYYY-MM-DDTHH:MM:SS.ffffffZ), so that they sort
-- as text in time order.

-- The stable mapping between amc-tui's own instance UUIDs and AMC's instance ids,
-- per profile.  Rows are never deleted (executions refer to them); an instance that
-- AMC no longer lists is marked inactive.
CREATE TABLE instances (
    uuid          TEXT PRIMARY KEY NOT NULL,
    profile       TEXT NOT NULL,
    instance_id   TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    instance_type TEXT NOT NULL DEFAULT 'STANDARD',
    region        TEXT NOT NULL DEFAULT '',
    advertiser_id TEXT NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    updated_at    TEXT NOT NULL,
    UNIQUE (profile, instance_id)
);

CREATE TABLE batches (
    id               TEXT PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL DEFAULT '',
    profile          TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN (
                         'pending', 'running', 'completed', 'partial', 'failed',
                         'cancelled', 'interrupted')),
    query            TEXT NOT NULL,          -- QuerySpec as JSON
    max_concurrency  INTEGER NOT NULL CHECK (max_concurrency >= 1),
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1))
);

-- The history page: newest first, optionally one status only.
CREATE INDEX batches_by_created ON batches (created_at DESC, id DESC);
CREATE INDEX batches_by_status ON batches (status, created_at DESC, id DESC);

CREATE TABLE executions (
    id               INTEGER PRIMARY KEY,
    batch_id         TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    instance_uuid    TEXT NOT NULL,
    instance_id      TEXT NOT NULL,
    instance_name    TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL DEFAULT 'QUEUED' CHECK (status IN (
                         'QUEUED', 'SUBMITTING', 'PENDING', 'RUNNING', 'SUCCEEDED',
                         'FAILED', 'CANCELLED', 'UNKNOWN')),
    amc_execution_id TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error_category   TEXT,
    error_message    TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    submitted_at     TEXT,
    finished_at      TEXT,
    UNIQUE (batch_id, instance_uuid)
);

-- Executions of a batch, and their counts by status without touching the table
-- (a covering index for the history page's counts).
CREATE INDEX executions_by_batch ON executions (batch_id, status);
-- Reconciliation: find our execution from AMC's id.
CREATE INDEX executions_by_amc_id ON executions (amc_execution_id)
    WHERE amc_execution_id IS NOT NULL;

CREATE TABLE attempts (
    id             INTEGER PRIMARY KEY,
    execution_id   INTEGER NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    number         INTEGER NOT NULL CHECK (number >= 1),
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    error_category TEXT,
    error_message  TEXT,
    retry_delay    REAL CHECK (retry_delay IS NULL OR retry_delay >= 0),
    UNIQUE (execution_id, number)
);
