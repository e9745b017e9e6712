-- prodigy-store on PostgreSQL: the SQLite schema (migrations/0001_core.sql and
-- 0002_legacy_import.sql) for many repositories in one database. Every table
-- has the same columns as its SQLite twin plus repo_id, which leads every key
-- and index (tests/postgres/schema_test.cc compares the column lists).
--
-- Documents stay verbatim: `json`, never `jsonb` (jsonb reorders keys, drops
-- duplicate keys and rejects \u0000). Bytes that may be invalid UTF-8 (raw
-- legacy lines, source blobs) are `bytea`. Timestamps are kept as written
-- (text) plus *_ns integers, as in SQLite.
--
-- Applied by lib/src/postgres/schema.cc under an advisory lock; the version
-- table records what was applied.

-- One row per repository; `key` is the repository_key of the configuration.
-- last_seq is the events counter: every write transaction locks this row
-- first, so seq values are handed out in commit order per repository and a
-- reader's "after seq N" cursor never skips an event that commits late.
CREATE TABLE repositories (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key            text NOT NULL UNIQUE,
  name           text NOT NULL,     -- folder name of the repository that created it
  canonical_path text NOT NULL,     -- the repository path on the machine that created it
  created_at     text NOT NULL,
  database_id    text,              -- the SQLite database last copied in by `sync --to`
  last_seq       bigint NOT NULL DEFAULT 0
);

CREATE TABLE events (
  repo_id        bigint NOT NULL REFERENCES repositories (id),
  seq            bigint NOT NULL,
  job_id         text NOT NULL,
  record_id      text,
  timestamp      text,
  ts_ns          bigint,
  event_type     text,
  event_name     text,
  event_job_id   text,
  agent_id       text,
  item_id        text,
  correlation_id text,
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
  job_id                 text NOT NULL,
  item_id                text NOT NULL,
  first_attempt          text,
  last_attempt           text,
  last_attempt_ns        bigint,
  failure_count          bigint,
  error_signature        text,
  error_type             text,
  reprocess_eligible     bigint,
  manual_review_required bigint,
  reprocess_requested_at text,
  json                   json NOT NULL,
  updated_at             text NOT NULL,
  source_id              bigint,
  PRIMARY KEY (repo_id, job_id, item_id)
);
CREATE INDEX dlq_by_last_attempt ON dlq_items (repo_id, last_attempt_ns);
CREATE INDEX dlq_by_signature ON dlq_items (repo_id, job_id, error_signature);

CREATE TABLE job_states (
  repo_id          bigint NOT NULL REFERENCES repositories (id),
  job_id           text NOT NULL,
  version          bigint NOT NULL,
  is_complete      bigint,
  total_items      bigint,
  successful_count bigint,
  failed_count     bigint,
  updated_at       text,
  json             json NOT NULL,
  written_at       text NOT NULL,
  source_id        bigint,
  PRIMARY KEY (repo_id, job_id, version)
);

CREATE TABLE sessions (
  repo_id           bigint NOT NULL REFERENCES repositories (id),
  session_id        text NOT NULL,
  status            text,
  started_at        text,
  ended_at          text,
  working_directory text,
  json              json NOT NULL,
  updated_at        text NOT NULL,
  source_id         bigint,
  PRIMARY KEY (repo_id, session_id)
);
CREATE INDEX sessions_by_status ON sessions (repo_id, status);

CREATE TABLE workflow_checkpoints (
  repo_id            bigint NOT NULL REFERENCES repositories (id),
  workflow_id        text NOT NULL,
  status             text,
  current_step_index bigint,
  total_steps        bigint,
  workflow_name      text,
  timestamp          text,
  ts_ns              bigint,
  json               json NOT NULL,
  updated_at         text NOT NULL,
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
  path           text NOT NULL,
  legacy_root    text NOT NULL,
  rel_path       text NOT NULL,
  kind           text NOT NULL,
  job_id         text,
  bytes          bigint NOT NULL,
  sha256         text NOT NULL,
  mtime_ns       bigint,
  inode          bigint,
  rows           bigint NOT NULL,
  unparsed       bigint NOT NULL DEFAULT 0,
  final_newline  bigint,
  content_sha256 text,
  first_seq      bigint,
  last_seq       bigint,
  row_table      text,
  row_key1       text,
  row_key2       text,
  status         text NOT NULL,
  rows_changed   bigint NOT NULL DEFAULT 0,
  note           text,
  imported_at    text NOT NULL,
  verified_at    text,
  removed_at     text,
  PRIMARY KEY (repo_id, id),
  UNIQUE (repo_id, path, sha256)
);

CREATE TABLE unparsed_lines (
  repo_id   bigint NOT NULL,
  source_id bigint NOT NULL,
  line_no   bigint NOT NULL,
  raw       bytea NOT NULL,
  reason    text NOT NULL,
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
