-- Job leases with fencing tokens (docs/coordination.md), per repository: the
-- same two tables as the SQLite schema's 0004_leases.sql.

-- Leases granted through the database (used when no redis_url is configured).
-- A row whose expires_at_ns has passed is free; it is replaced by the next
-- grant. Times are the writer's wall clock (ns since the epoch): machines
-- sharing a server need synchronized clocks (NTP) for expiry to agree.
CREATE TABLE leases (
  repo_id        bigint NOT NULL REFERENCES repositories (id),
  key            text COLLATE "C" NOT NULL,   -- usually a job id
  holder         text NOT NULL,               -- who holds it, as given by the caller
  token          bigint NOT NULL,             -- fencing token of this grant
  acquired_at_ns bigint NOT NULL,
  expires_at_ns  bigint NOT NULL,
  PRIMARY KEY (repo_id, key)
);

-- The newest fencing token seen per key, whichever lease service granted it
-- (database or Redis). Never lowered and never deleted with the lease.
CREATE TABLE lease_fences (
  repo_id    bigint NOT NULL REFERENCES repositories (id),
  key        text COLLATE "C" NOT NULL,
  token      bigint NOT NULL,
  updated_at text NOT NULL,
  PRIMARY KEY (repo_id, key)
);
