-- Job leases with fencing tokens (docs/coordination.md).

-- Leases granted through the database (used when no redis_url is configured).
-- A row whose expires_at_ns has passed is free; it is replaced by the next
-- grant. Times are the writer's wall clock (CLOCK_REALTIME, ns since the
-- epoch): every process of one machine reads the same clock.
CREATE TABLE leases (
  key            TEXT PRIMARY KEY,   -- usually a job id
  holder         TEXT NOT NULL,      -- who holds it, as given by the caller (host:pid, agent id)
  token          INTEGER NOT NULL,   -- fencing token of this grant
  acquired_at_ns INTEGER NOT NULL,
  expires_at_ns  INTEGER NOT NULL
) WITHOUT ROWID;

-- The newest fencing token seen per key, whichever lease service granted it
-- (database or Redis). A grant raises it; a state write carrying an older
-- token is refused. Never lowered and never deleted with the lease, so tokens
-- stay monotonic per key even when Redis loses its counters.
CREATE TABLE lease_fences (
  key        TEXT PRIMARY KEY,
  token      INTEGER NOT NULL,
  updated_at TEXT NOT NULL
) WITHOUT ROWID;
