-- Subscriptions: named consumers of a tenant's global order, each with its own checkpoint.
--
-- `checkpoint` is a global-read cursor (src/engine/global.ts): the consumer is served the events
-- after it, and it moves only when the consumer acks, so delivery is at-least-once. `types` is a
-- JSON array or NULL (all types); `stream_prefix` NULL means every stream.
CREATE TABLE subscriptions (
  tenant TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  types TEXT,
  stream_prefix TEXT,
  checkpoint TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  acked_at INTEGER,
  PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
