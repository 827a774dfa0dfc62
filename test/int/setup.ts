// Applies the D1 migrations before the integration tests, as `wrangler d1 migrations apply` would.
import { applyD1Migrations, env } from 'cloudflare:test';

await applyD1Migrations(env.CATALOG, env.TEST_MIGRATIONS);
