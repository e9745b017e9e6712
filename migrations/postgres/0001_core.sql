-- prodigy-store on PostgreSQL: the SQLite schema (migrations/0001_core.sql and
-- 0002_legacy_import.sql) for many repositories in one database. Every table
-- has the same columns as its SQLite twin plus repo_id, which leads every key
-- and index (tests/postgres/schema_test.cc compares the column lists).
--
-- Documents stay verbatim: `json`, never `jsonb` (jsonb reorders keys, drops
-- duplicate keys and rejects \u0000). Bytes that may be invalid UTF-8 (raw
-- legacy lines, source blobs) are `bytea`. Timestamps are kept as written
-- (text) plus *_ns integers, as in SQLite. Text columns compare bytes
-- (COLLATE "C") as SQLite does, so both engines list rows in the same order
-- whatever the server's default collation.
--
-- Applied by lib/src/postgres/schema.cc under an advisory lock; the version
-- table records what was applied.

-- One row per repository; `key` is the repository_key of the configuration.
-- last_seq is the events counter: every write transaction locks this row
-- first, so seq values are handed out in commit order per repository and a
-- reader's "after seq N" cursor never skips an event that commits late.
CREATE TABLE repositories (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key            text COLLATE "C" NOT NULL UNIQUE,
  name           text COLLATE "C" NOT NULL,     -- folder name of the repository that created it
  canonical_path text COLLATE "C" NOT NULL,     -- the repository path on the machine that created it
  created_at     text COLLATE "C" NOT NULL,
  database_id    text COLLATE "C",              -- the SQLite database last copied in by `sync --to`
  last_seq       bigint NOT NULL DEFAULT 0
);

-- Small key/value facts per repository (SQLite's meta table).
CREATE TABLE meta (
  repo_id bigint NOT NULL REFERENCES repositories (id),
  key     text COLLATE "C" NOT NULL,
  value   text COLLATE "C",
  PRIMARY KEY (repo_id, key)
);

CREATE TABLE events (
  repo_id        bigint NOT NULL REFERENCES repositories (id),
  seq            bigint NOT NULL,
  job_id         text COLLATE "C" NOT NULL,
  record_id      text COLLATE "C",
  timestamp      text COLLATE "C",
  ts_ns          bigint,
  event_type     text COLLATE "C",
  event_name     text COLLATE "C",
  event_job_id   text COLLATE "C",
  agent_id       text COLLATE "C",
  item_id        text COLLATE "C",
  correlation_id text COLLATE "C",
  json           json NOT NULL,
  source_id      bigint,
  line_no        bigint,
  PRIMARY KEY (repo_id, seq)
);
CREATE INDEX events_by_job ON events (repo_id, job_id, seq);
CREATE INDEX events_by_job_time ON events (repo_id, job_id, ts_ns);
CREATE INDEX events_by_name ON events (repo_id, event_name, seq);
CREATE INDEX events_by_agent ON events (repo_id, agent_id, seq) WHERE agent_id IS NOT NULL;

CREATE TABLE dlq_items (
  repo_id                bigint NOT NULL REFERENCES repositories (id),
  job_id                 text COLLATE "C" NOT NULL,
  item_id                text COLLATE "C" NOT NULL,
  first_attempt          text COLLATE "C",
  last_attempt           text COLLATE "C",
  last_attempt_ns        bigint,
  failure_count          bigint,
  error_signature        text COLLATE "C",
  error_type             text COLLATE "C",
  reprocess_eligible     bigint,
  manual_review_required bigint,
  reprocess_requested_at text COLLATE "C",
  json                   json NOT NULL,
  updated_at             text COLLATE "C" NOT NULL,
  source_id              bigint,
  PRIMARY KEY (repo_id, job_id, item_id)
);
CREATE INDEX dlq_by_last_attempt ON dlq_items (repo_id, last_attempt_ns);
CREATE INDEX dlq_by_signature ON dlq_items (repo_id, job_id, error_signature);

CREATE TABLE job_states (
  repo_id          bigint NOT NULL REFERENCES repositories (id),
  job_id           text COLLATE "C" NOT NULL,
  version          bigint NOT NULL,
  is_complete      bigint,
  total_items      bigint,
  successful_count bigint,
  failed_count     bigint,
  updated_at       text COLLATE "C",
  json             json NOT NULL,
  written_at       text COLLATE "C" NOT NULL,
  source_id        bigint,
  PRIMARY KEY (repo_id, job_id, version)
);

CREATE TABLE sessions (
  repo_id           bigint NOT NULL REFERENCES repositories (id),
  session_id        text COLLATE "C" NOT NULL,
  status            text COLLATE "C",
  started_at        text COLLATE "C",
  ended_at          text COLLATE "C",
  working_directory text COLLATE "C",
  json              json NOT NULL,
  updated_at        text COLLATE "C" NOT NULL,
  source_id         bigint,
  PRIMARY KEY (repo_id, session_id)
);
CREATE INDEX sessions_by_status ON sessions (repo_id, status);

CREATE TABLE workflow_checkpoints (
  repo_id            bigint NOT NULL REFERENCES repositories (id),
  workflow_id        text COLLATE "C" NOT NULL,
  status             text COLLATE "C",
  current_step_index bigint,
  total_steps        bigint,
  workflow_name      text COLLATE "C",
  timestamp          text COLLATE "C",
  ts_ns              bigint,
  json               json NOT NULL,
  updated_at         text COLLATE "C" NOT NULL,
  source_id          bigint,
  PRIMARY KEY (repo_id, workflow_id)
);
CREATE INDEX workflow_checkpoints_by_time ON workflow_checkpoints (repo_id, ts_ns);

-- The legacy import ledger, copied by `sync` so that `check` and
-- `export --legacy` work on a repository moved between engines. The importer
-- itself writes to SQLite only.
CREATE TABLE import_sources (
  repo_id        bigint NOT NULL REFERENCES repositories (id),
  id             bigint NOT NULL,
  path           text COLLATE "C" NOT NULL,
  legacy_root    text COLLATE "C" NOT NULL,
  rel_path       text COLLATE "C" NOT NULL,
  kind           text COLLATE "C" NOT NULL,
  job_id         text COLLATE "C",
  bytes          bigint NOT NULL,
  sha256         text COLLATE "C" NOT NULL,
  mtime_ns       bigint,
  inode          bigint,
  rows           bigint NOT NULL,
  unparsed       bigint NOT NULL DEFAULT 0,
  final_newline  bigint,
  content_sha256 text COLLATE "C",
  first_seq      bigint,
  last_seq       bigint,
  row_table      text COLLATE "C",
  row_key1       text COLLATE "C",
  row_key2       text COLLATE "C",
  status         text COLLATE "C" NOT NULL,
  rows_changed   bigint NOT NULL DEFAULT 0,
  note           text COLLATE "C",
  imported_at    text COLLATE "C" NOT NULL,
  verified_at    text COLLATE "C",
  removed_at     text COLLATE "C",
  PRIMARY KEY (repo_id, id),
  UNIQUE (repo_id, path, sha256)
);

CREATE TABLE unparsed_lines (
  repo_id   bigint NOT NULL,
  source_id bigint NOT NULL,
  line_no   bigint NOT NULL,
  raw       bytea NOT NULL,
  reason    text COLLATE "C" NOT NULL,
  PRIMARY KEY (repo_id, source_id, line_no),
  FOREIGN KEY (repo_id, source_id) REFERENCES import_sources (repo_id, id)
);

CREATE TABLE source_blobs (
  repo_id   bigint NOT NULL,
  source_id bigint NOT NULL,
  chunk     bigint NOT NULL,
  data      bytea NOT NULL,
  PRIMARY KEY (repo_id, source_id, chunk),
  FOREIGN KEY (repo_id, source_id) REFERENCES import_sources (repo_id, id)
);

CREATE VIEW event_log_jobs AS
  SELECT DISTINCT repo_id, job_id AS log_id, event_job_id AS job_id
  FROM events
  WHERE event_name IN ('job_started', 'job_completed', 'job_failed', 'job_paused', 'job_resumed')
    AND event_job_id IS NOT NULL;
