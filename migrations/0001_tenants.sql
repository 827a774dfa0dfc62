-- Tenants: every event belongs to one. The shard count is pinned here when the tenant is created,
-- because the stream -> shard routing depends on it (docs/decisions/0003-shard-routing.md).
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  shard_count INTEGER NOT NULL CHECK (shard_count BETWEEN 1 AND 1024),
  created_at INTEGER NOT NULL
);
