-- Import ledger for legacy Prodigy files (owned by lib/src/legacy/).
-- One row per source file that was imported; its verbatim content lives in the
-- core tables (rows carrying source_id) plus unparsed_lines for what did not parse.
CREATE TABLE import_sources (
  id          INTEGER PRIMARY KEY,
  path        TEXT NOT NULL,       -- absolute path where the file was found
  legacy_root TEXT NOT NULL,       -- the root it was discovered under (.prodigy, ~/.prodigy, ...)
  rel_path    TEXT NOT NULL,       -- path relative to legacy_root; export --legacy recreates it
  kind        TEXT NOT NULL,       -- events | dlq_item | dlq_index | job_state | job_state_meta | session | workflow_checkpoint | ...
  bytes       INTEGER NOT NULL,
  sha256      TEXT NOT NULL,
  mtime_ns    INTEGER,
  rows        INTEGER NOT NULL,    -- rows written to the database from this source
  status      TEXT NOT NULL,       -- imported | verified | removed
  imported_at TEXT NOT NULL,
  verified_at TEXT,
  removed_at  TEXT,
  UNIQUE (path, sha256)
);

-- Lines (or whole documents) of legacy sources that could not be stored as
-- typed rows: blank, torn, foreign, invalid JSON or invalid UTF-8. Never dropped.
CREATE TABLE unparsed_lines (
  source_id INTEGER NOT NULL REFERENCES import_sources (id),
  line_no   INTEGER NOT NULL,
  raw       BLOB NOT NULL,
  reason    TEXT NOT NULL,
  PRIMARY KEY (source_id, line_no)
) WITHOUT ROWID;
