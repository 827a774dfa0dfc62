-- Per-tenant reducers: how GET /v1/streams/{stream}/state folds each event type (src/engine/fold.ts).
-- `reducers` is a JSON object { "<event type>": <reducer> }; types not listed are merged (RFC 7396).
CREATE TABLE reducers (
  tenant TEXT PRIMARY KEY REFERENCES tenants (id),
  reducers TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
