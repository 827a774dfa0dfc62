// Part of `npm start`: makes sure the local catalog has the default tenant and a development key
// with every scope, and prints the key, so the first request works. The key is kept in
// .wrangler/dev-key (git-ignored, like the rest of the local state) and reused on later starts.
// Tools that start their own store (bench, durability) run it with `--persist-to DIR --print-key`,
// which prints the key alone.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { insertKeySql, lit, root, SCOPES, sql } from './catalog-local.mjs';

const persistTo = process.argv.includes('--persist-to') ? process.argv[process.argv.indexOf('--persist-to') + 1] : undefined;
const stateDir = persistTo ?? join(root, '.wrangler');
const file = join(stateDir, 'dev-key');
const tenant = 'default';

let key = existsSync(file) ? readFileSync(file, 'utf8').trim() : null;
const known = key
  ? sql(`SELECT id FROM api_keys WHERE hash = ${lit(createHash('sha256').update(key).digest('hex'))} AND revoked_at IS NULL;`, persistTo)
  : [];
if (known.length === 0) {
  const issued = insertKeySql(tenant, SCOPES, 'development key (npm start)', 1_000_000);
  sql(
    `INSERT INTO tenants (id, shard_count, created_at) VALUES (${lit(tenant)}, 8, ${Date.now()}) ON CONFLICT (id) DO NOTHING; ${issued.text}`,
    persistTo,
  );
  key = issued.key;
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(file, key + '\n', { mode: 0o600 });
}
if (process.argv.includes('--print-key')) console.log(key);
else {
  console.log(
    `\nDevelopment API key of tenant "${tenant}" (every scope; in ${file}):\n\n  export EVENT_STORE_KEY=${key}\n  curl -H "authorization: Bearer $EVENT_STORE_KEY" localhost:8787/v1/status\n`,
  );
}
