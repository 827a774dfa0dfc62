-- The segment catalog: one row per segment object in R2, master (row) and replica (Parquet).
-- The planner prunes with it; readers take the live rows. A compaction or rebuild swaps rows from
-- 'live' to 'retired' and inserts their replacements in one D1 batch (one transaction), so a reader
-- sees either the old set or the new one, never both or neither. Retired objects are deleted from R2
-- after a grace period (readers that planned before the swap may still be reading them); the row
-- then says 'deleted' and stays, so a late retry of the step that wrote it cannot bring it back.
CREATE TABLE segments (
  key TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('master', 'replica')),
  tenant TEXT NOT NULL,
  shard INTEGER NOT NULL,
  -- Replica partition: the UTC day of the events' time (YYYY-MM-DD); null for master segments.
  date TEXT,
  -- 0: written by the step itself; n + 1: written by compacting segments of level <= n.
  level INTEGER NOT NULL DEFAULT 0,
  -- The shard sequence range the segment was cut from (a replica segment holds the range's events of its date).
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  -- Event time range (epoch ms) of the rows.
  min_time INTEGER NOT NULL,
  max_time INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  checksum TEXT,
  -- JSON: { "<column>": { "min": …, "max": …, "nulls": n } } and the shredded data columns.
  stats TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'retired', 'deleted')),
  created_at INTEGER NOT NULL,
  retired_at INTEGER,
  replaced_by TEXT
);
CREATE INDEX segments_by_partition ON segments (tenant, kind, state, date, shard, first_seq);
CREATE INDEX segments_by_seq ON segments (tenant, kind, shard, first_seq);
CREATE INDEX segments_retired ON segments (state, retired_at) WHERE state = 'retired';

-- Pipeline messages that kept failing and reached the dead-letter queue. The shard's alarm re-drives
-- the work regardless; this table makes the failures visible in GET /v1/status until resolved.
CREATE TABLE dead_letters (
  id TEXT PRIMARY KEY,
  step TEXT NOT NULL,
  tenant TEXT,
  shard INTEGER,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX dead_letters_by_tenant ON dead_letters (tenant, received_at);
