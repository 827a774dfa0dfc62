-- API keys and webhook sources, both bound to one tenant.
--
-- A key is shown once, when created; only its SHA-256 is stored, so a leaked catalog leaks no key.
-- `scopes` is a JSON array of 'write', 'read', 'query', 'admin'. `rate_per_second` overrides the
-- default per-key request rate (KEY_RATE_PER_SECOND).
CREATE TABLE api_keys (
  hash TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  tenant TEXT NOT NULL REFERENCES tenants (id),
  scopes TEXT NOT NULL,
  name TEXT,
  rate_per_second INTEGER CHECK (rate_per_second IS NULL OR rate_per_second > 0),
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant);

-- A webhook source: the URL /v1/webhooks/{id} of one tenant for one platform, with its secrets
-- (a JSON object: secret, verifyToken, publicKey). Secrets are never returned by the API or logged.
CREATE TABLE sources (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants (id),
  platform TEXT NOT NULL CHECK (platform IN ('github', 'slack', 'meta', 'x', 'discord', 'stripe', 'standard')),
  secrets TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX sources_by_tenant ON sources (tenant);
