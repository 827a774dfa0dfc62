// Before the integration tests: the D1 migrations, as `wrangler d1 migrations apply` would, and the
// default tenant with a key of every scope (helpers.ts sends it unless a test says otherwise).
import { applyD1Migrations, env } from 'cloudflare:test';
import { apiKeyId, hashApiKey } from '../../src/engine/keys.js';
import { TEST_KEY } from './keys.js';

await applyD1Migrations(env.CATALOG, env.TEST_MIGRATIONS);
const hash = await hashApiKey(TEST_KEY);
await env.CATALOG.batch([
  env.CATALOG.prepare(`INSERT INTO tenants (id, shard_count, created_at) VALUES ('default', 8, 0) ON CONFLICT DO NOTHING`),
  env.CATALOG.prepare(
    `INSERT INTO api_keys (hash, id, tenant, scopes, name, rate_per_second, created_at)
     VALUES (?, ?, 'default', '["write","read","query","admin"]', 'tests', 1000000, 0) ON CONFLICT DO NOTHING`,
  ).bind(hash, apiKeyId(hash)),
]);
