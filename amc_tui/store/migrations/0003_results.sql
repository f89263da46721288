-- amc-tui history store, schema 3.
-- Results: what was downloaded for each succeeded execution (amc_tui.store.results).

-- One row per execution whose results were asked for: where the download stands.
CREATE TABLE result_sets (
    execution_id   INTEGER PRIMARY KEY NOT NULL
                       REFERENCES executions (id) ON DELETE CASCADE,
    status         TEXT NOT NULL CHECK (status IN ('downloading', 'downloaded', 'failed')),
    files          INTEGER CHECK (files IS NULL OR files >= 0),  -- data files AMC listed
    error_category TEXT,
    error_message  TEXT,
    updated_at     TEXT NOT NULL
);

-- One row per file of a result, from the moment its download starts.  While
-- 'downloading', size is what the server announced (or NULL) and the bytes are in
-- NAME.part; once 'done', the file NAME is whole and size and sha256 describe it.
CREATE TABLE result_files (
    execution_id INTEGER NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('data', 'metadata')),
    number       INTEGER NOT NULL CHECK (number >= 1),
    name         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('downloading', 'done')),
    etag         TEXT,
    size         INTEGER CHECK (size IS NULL OR size >= 0),
    sha256       TEXT CHECK (sha256 IS NULL OR length(sha256) = 64),
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    PRIMARY KEY (execution_id, kind, number),
    CHECK (status = 'downloading' OR (size IS NOT NULL AND sha256 IS NOT NULL))
) WITHOUT ROWID;
