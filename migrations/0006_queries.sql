-- Background queries (POST /v1/queries): yellow while accepted or running, orange once answered
-- (the answer is in R2 at queries/tenant=…/<id>.json), failed with a problem document. Rows and
-- answers past expires_at are no longer served.
CREATE TABLE queries (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants (id),
  sql TEXT NOT NULL,
  consistency TEXT NOT NULL CHECK (consistency IN ('eventual', 'strong')),
  status TEXT NOT NULL CHECK (status IN ('yellow', 'orange', 'failed')),
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  expires_at INTEGER,
  error TEXT
);
CREATE INDEX queries_by_tenant ON queries (tenant, created_at);
