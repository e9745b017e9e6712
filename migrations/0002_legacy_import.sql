-- Import ledger for legacy Prodigy files (owned by lib/src/legacy/, described
-- in docs/migration-guide.md). One row per source file imported; its verbatim
-- content lives in the core tables (rows carrying source_id), in
-- unparsed_lines for what did not parse, and in source_blobs for bytes that
-- are not rows (gzip archives, metadata.json, DLQ index.json, documents that
-- lost a key collision).
CREATE TABLE import_sources (
  id             INTEGER PRIMARY KEY,
  path           TEXT NOT NULL,       -- absolute path where the file was found
  legacy_root    TEXT NOT NULL,       -- the folder rel_path is relative to (repository, storage root, ...)
  rel_path       TEXT NOT NULL,       -- export --legacy recreates DIR/<rel_path>
  kind           TEXT NOT NULL,       -- events | events_archive | dlq_item | dlq_index | job_state | job_state_meta | session | workflow_checkpoint
  job_id         TEXT,                -- the job / log its rows went to (events, DLQ, job state)
  bytes          INTEGER NOT NULL,
  sha256         TEXT NOT NULL,
  mtime_ns       INTEGER,
  inode          INTEGER,
  rows           INTEGER NOT NULL,    -- typed rows written from this source
  unparsed       INTEGER NOT NULL DEFAULT 0,  -- unparsed_lines rows written from this source
  final_newline  INTEGER,             -- line sources: the file ended with "\n"
  content_sha256 TEXT,                -- gzip archives: SHA-256 of the decompressed content
  first_seq      INTEGER,             -- line sources: events.seq range of its rows
  last_seq       INTEGER,
  row_table      TEXT,                -- document sources: the typed row holding it
  row_key1       TEXT,
  row_key2       TEXT,
  status         TEXT NOT NULL,       -- imported | verified | removed (the original was deleted)
  rows_changed   INTEGER NOT NULL DEFAULT 0,  -- its rows deleted or replaced since (retention, purges, newer writes)
  note           TEXT,                -- quirks met while importing
  imported_at    TEXT NOT NULL,
  verified_at    TEXT,
  removed_at     TEXT,
  UNIQUE (path, sha256)
);

-- Lines (or whole documents, line_no 0) of legacy sources that could not be
-- stored as typed rows: blank, torn, foreign, invalid JSON or invalid UTF-8.
-- Never dropped. A gzip archive whose stream is damaged gets a line_no 0 row
-- with an empty raw and the reason.
CREATE TABLE unparsed_lines (
  source_id INTEGER NOT NULL REFERENCES import_sources (id),
  line_no   INTEGER NOT NULL,
  raw       BLOB NOT NULL,
  reason    TEXT NOT NULL,
  PRIMARY KEY (source_id, line_no)
) WITHOUT ROWID;

-- Verbatim bytes of a source that are not held by typed rows, in chunks of at
-- most 1 MiB (bounded memory for large archives).
CREATE TABLE source_blobs (
  source_id INTEGER NOT NULL REFERENCES import_sources (id),
  chunk     INTEGER NOT NULL,
  data      BLOB NOT NULL,
  PRIMARY KEY (source_id, chunk)
) WITHOUT ROWID;

-- Prodigy used three ids per MapReduce run: the events folder
-- (mapreduce-YYYYmmdd_HHMMSS, the events.job_id of imported logs), the state /
-- DLQ job id (mapreduce-<millis>, inside job lifecycle events) and agent
-- session ids. This view links each event log to the job ids its lifecycle
-- events name, e.g. all events of state job J:
--   SELECT * FROM events WHERE job_id IN (SELECT log_id FROM event_log_jobs WHERE job_id = 'J');
CREATE VIEW event_log_jobs AS
  SELECT DISTINCT job_id AS log_id, event_job_id AS job_id
  FROM events
  WHERE event_name IN ('job_started', 'job_completed', 'job_failed', 'job_paused', 'job_resumed')
    AND event_job_id IS NOT NULL;

-- Count the rows of an import that leave afterwards (events clean, DLQ purge
-- or removal, state versions pruned, documents deleted), so that `check` can
-- tell a source pruned on purpose from a damaged one.
CREATE TRIGGER events_leave_import AFTER DELETE ON events WHEN OLD.source_id IS NOT NULL
BEGIN UPDATE import_sources SET rows_changed = rows_changed + 1 WHERE id = OLD.source_id; END;
CREATE TRIGGER dlq_items_leave_import AFTER DELETE ON dlq_items WHEN OLD.source_id IS NOT NULL
BEGIN UPDATE import_sources SET rows_changed = rows_changed + 1 WHERE id = OLD.source_id; END;
CREATE TRIGGER job_states_leave_import AFTER DELETE ON job_states WHEN OLD.source_id IS NOT NULL
BEGIN UPDATE import_sources SET rows_changed = rows_changed + 1 WHERE id = OLD.source_id; END;
CREATE TRIGGER sessions_leave_import AFTER DELETE ON sessions WHEN OLD.source_id IS NOT NULL
BEGIN UPDATE import_sources SET rows_changed = rows_changed + 1 WHERE id = OLD.source_id; END;
CREATE TRIGGER workflow_checkpoints_leave_import AFTER DELETE ON workflow_checkpoints WHEN OLD.source_id IS NOT NULL
BEGIN UPDATE import_sources SET rows_changed = rows_changed + 1 WHERE id = OLD.source_id; END;

-- INSERT OR REPLACE does not fire delete triggers (recursive_triggers is off):
-- a newer document taking an imported document's key is counted before it lands.
CREATE TRIGGER dlq_items_replace_import BEFORE INSERT ON dlq_items
WHEN (SELECT source_id FROM dlq_items WHERE job_id = NEW.job_id AND item_id = NEW.item_id) IS NOT NULL
 AND (SELECT source_id FROM dlq_items WHERE job_id = NEW.job_id AND item_id = NEW.item_id) IS NOT NEW.source_id
BEGIN UPDATE import_sources SET rows_changed = rows_changed + 1
  WHERE id = (SELECT source_id FROM dlq_items WHERE job_id = NEW.job_id AND item_id = NEW.item_id); END;
CREATE TRIGGER job_states_replace_import BEFORE INSERT ON job_states
WHEN (SELECT source_id FROM job_states WHERE job_id = NEW.job_id AND version = NEW.version) IS NOT NULL
 AND (SELECT source_id FROM job_states WHERE job_id = NEW.job_id AND version = NEW.version) IS NOT NEW.source_id
BEGIN UPDATE import_sources SET rows_changed = rows_changed + 1
  WHERE id = (SELECT source_id FROM job_states WHERE job_id = NEW.job_id AND version = NEW.version); END;
CREATE TRIGGER sessions_replace_import BEFORE INSERT ON sessions
WHEN (SELECT source_id FROM sessions WHERE session_id = NEW.session_id) IS NOT NULL
 AND (SELECT source_id FROM sessions WHERE session_id = NEW.session_id) IS NOT NEW.source_id
BEGIN UPDATE import_sources SET rows_changed = rows_changed + 1
  WHERE id = (SELECT source_id FROM sessions WHERE session_id = NEW.session_id); END;
CREATE TRIGGER workflow_checkpoints_replace_import BEFORE INSERT ON workflow_checkpoints
WHEN (SELECT source_id FROM workflow_checkpoints WHERE workflow_id = NEW.workflow_id) IS NOT NULL
 AND (SELECT source_id FROM workflow_checkpoints WHERE workflow_id = NEW.workflow_id) IS NOT NEW.source_id
BEGIN UPDATE import_sources SET rows_changed = rows_changed + 1
  WHERE id = (SELECT source_id FROM workflow_checkpoints WHERE workflow_id = NEW.workflow_id); END;
