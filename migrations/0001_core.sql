-- prodigy-store core schema. Every document is kept verbatim in `json` (the
-- exact text the caller or Prodigy wrote) next to columns extracted from it for
-- queries; the extracted columns are derived data and never the truth.
-- Timestamps are kept as written (RFC 3339 text) and as *_ns integers
-- (nanoseconds since the Unix epoch, UTC) for range queries.

-- The repository this database belongs to (exactly one row).
CREATE TABLE repository (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  canonical_path TEXT NOT NULL,
  name           TEXT NOT NULL,   -- folder name under the storage root
  created_at     TEXT NOT NULL
);

-- Small key/value facts about the database itself.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT
) WITHOUT ROWID;
-- Identifies this database file: mirror marks written for another database
-- (one deleted and created anew under the same folder) are not trusted.
INSERT INTO meta (key, value) VALUES ('database_id', abs(random()));

-- Prodigy EventRecords, one row per record, in append (commit) order.
CREATE TABLE events (
  seq            INTEGER PRIMARY KEY,   -- append order; the cursor of queries
  job_id         TEXT NOT NULL,         -- the log the event was appended to (events/<job_id>/)
  record_id      TEXT,                  -- EventRecord.id (UUID)
  timestamp      TEXT,                  -- EventRecord.timestamp as written
  ts_ns          INTEGER,
  event_type     TEXT,                  -- the tag as written, e.g. d_l_q_item_added
  event_name     TEXT,                  -- normalized, e.g. dlq_item_added
  event_job_id   TEXT,                  -- event.job_id inside the record ("claude" for Claude events)
  agent_id       TEXT,
  item_id        TEXT,
  correlation_id TEXT,
  json           TEXT NOT NULL,         -- the record, verbatim (one JSONL line without "\n")
  source_id      INTEGER,               -- import_sources.id when imported from a legacy file
  line_no        INTEGER                -- 1-based line in that source
);
CREATE INDEX events_by_job ON events (job_id, seq);
CREATE INDEX events_by_job_time ON events (job_id, ts_ns);
CREATE INDEX events_by_name ON events (event_name, seq);
CREATE INDEX events_by_agent ON events (agent_id, seq) WHERE agent_id IS NOT NULL;

-- Dead-lettered work items (Prodigy DeadLetteredItem documents).
CREATE TABLE dlq_items (
  job_id                 TEXT NOT NULL,
  item_id                TEXT NOT NULL,
  first_attempt          TEXT,
  last_attempt           TEXT,
  last_attempt_ns        INTEGER,
  failure_count          INTEGER,
  error_signature        TEXT,
  error_type             TEXT,          -- error_type of the last failure: Timeout, CommandFailed, ...
  reprocess_eligible     INTEGER,       -- 0/1
  manual_review_required INTEGER,       -- 0/1
  reprocess_requested_at TEXT,          -- set by "mark for reprocessing", NULL otherwise
  json                   TEXT NOT NULL,
  updated_at             TEXT NOT NULL, -- when this row was last written
  source_id              INTEGER,
  PRIMARY KEY (job_id, item_id)
) WITHOUT ROWID;
CREATE INDEX dlq_by_last_attempt ON dlq_items (last_attempt_ns);
CREATE INDEX dlq_by_signature ON dlq_items (job_id, error_signature);

-- MapReduce job state (MapReduceJobState), several versions kept per job.
CREATE TABLE job_states (
  job_id           TEXT NOT NULL,
  version          INTEGER NOT NULL,    -- checkpoint_version of the document
  is_complete      INTEGER,
  total_items      INTEGER,
  successful_count INTEGER,
  failed_count     INTEGER,
  updated_at       TEXT,                -- updated_at inside the document
  json             TEXT NOT NULL,
  written_at       TEXT NOT NULL,
  source_id        INTEGER,
  PRIMARY KEY (job_id, version)
) WITHOUT ROWID;

-- Cook sessions (SessionState) and unified sessions, keyed by their id.
CREATE TABLE sessions (
  session_id        TEXT PRIMARY KEY,
  status            TEXT,
  started_at        TEXT,
  ended_at          TEXT,
  working_directory TEXT,
  json              TEXT NOT NULL,
  updated_at        TEXT NOT NULL,
  source_id         INTEGER
) WITHOUT ROWID;
CREATE INDEX sessions_by_status ON sessions (status);

-- Workflow checkpoints (WorkflowCheckpoint), one per workflow id.
CREATE TABLE workflow_checkpoints (
  workflow_id        TEXT PRIMARY KEY,
  status             TEXT,              -- execution_state.status
  current_step_index INTEGER,
  total_steps        INTEGER,
  workflow_name      TEXT,
  timestamp          TEXT,
  ts_ns              INTEGER,
  json               TEXT NOT NULL,
  updated_at         TEXT NOT NULL,
  source_id          INTEGER
) WITHOUT ROWID;
CREATE INDEX workflow_checkpoints_by_time ON workflow_checkpoints (ts_ns);

-- Which documents changed, so mirror files can be brought up to date after
-- the commit, and healed after a crash between commit and mirror write.
-- Rows below the mirrored mark are pruned; the newest row always stays, so
-- seq (a rowid) keeps growing without AUTOINCREMENT's extra page write.
CREATE TABLE mirror_changes (
  seq  INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,   -- events | events_rewrite | dlq | state | session | checkpoint
  key1 TEXT NOT NULL,
  key2 TEXT
);
