-- Brings every version-2 database to one shape, whichever edition of
-- 0002_legacy_import.sql created it. 0002 was changed after it first shipped
-- (import_sources.rows_changed and the triggers below were added), so a
-- database created by its first edition lacks them. Released migrations never
-- change again: migrations/SHA256SUMS pins each file and the build checks it.
--
-- The directive below is run by the migration runner before this file: it adds
-- the column only where it is missing (SQLite has no ADD COLUMN IF NOT EXISTS).
-- ensure-column: import_sources rows_changed INTEGER NOT NULL DEFAULT 0
--
-- The table is then rebuilt in its canonical column order (SQLite's documented
-- way to change a table's shape: create the new table, copy, drop, rename), so
-- that databases of every edition end with the same sqlite_schema. The
-- triggers read import_sources, so they are dropped first and created again.

DROP TRIGGER IF EXISTS events_leave_import;
DROP TRIGGER IF EXISTS dlq_items_leave_import;
DROP TRIGGER IF EXISTS job_states_leave_import;
DROP TRIGGER IF EXISTS sessions_leave_import;
DROP TRIGGER IF EXISTS workflow_checkpoints_leave_import;
DROP TRIGGER IF EXISTS dlq_items_replace_import;
DROP TRIGGER IF EXISTS job_states_replace_import;
DROP TRIGGER IF EXISTS sessions_replace_import;
DROP TRIGGER IF EXISTS workflow_checkpoints_replace_import;

CREATE TABLE import_sources_v3 (
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
INSERT INTO import_sources_v3 (id, path, legacy_root, rel_path, kind, job_id, bytes, sha256, mtime_ns, inode, rows, unparsed, final_newline, content_sha256, first_seq, last_seq, row_table, row_key1, row_key2, status, rows_changed, note, imported_at, verified_at, removed_at)
  SELECT id, path, legacy_root, rel_path, kind, job_id, bytes, sha256, mtime_ns, inode, rows, unparsed, final_newline, content_sha256, first_seq, last_seq, row_table, row_key1, row_key2, status, rows_changed, note, imported_at, verified_at, removed_at FROM import_sources;
DROP TABLE import_sources;
ALTER TABLE import_sources_v3 RENAME TO import_sources;

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

-- A database created by the first edition of 0001_core.sql has no database id
-- (mirror marks compare it); give it one.
INSERT OR IGNORE INTO meta (key, value) VALUES ('database_id', abs(random()));
