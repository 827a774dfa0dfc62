// The local D1 catalog of `wrangler dev`, reached through `wrangler d1 execute --local`, for the
// command-line tools (npm run admin, the dev key of npm start). Not for production: there, use the
// admin routes with an admin key or the ADMIN_TOKEN.

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wrangler = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

/** SQL text literal. */
export const lit = (v) =>
  v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`;

/** Runs SQL against the local catalog; answers the rows of the last statement. */
export function sql(text, persistTo) {
  const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
  const file = join(dir, 'q.sql');
  writeFileSync(file, text);
  try {
    const args = [wrangler, 'd1', 'execute', 'CATALOG', '--local', '--json', '--file', file];
    if (persistTo) args.push('--persist-to', persistTo);
    const out = execFileSync(process.execPath, args, {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
    });
    const parsed = JSON.parse(out.slice(out.indexOf('[')));
    return parsed[parsed.length - 1]?.results ?? [];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A new API key and what the catalog keeps of it (same format as src/engine/keys.ts). */
export function newKey() {
  const key = 'esk_' + randomBytes(32).toString('base64url');
  const hash = createHash('sha256').update(key).digest('hex');
  return { key, hash, id: `key_${hash.slice(0, 12)}` };
}

export const SCOPES = ['write', 'read', 'query', 'admin'];

export function insertKeySql(tenant, scopes, name, rate) {
  const { key, hash, id } = newKey();
  const text = `INSERT INTO api_keys (hash, id, tenant, scopes, name, rate_per_second, created_at) VALUES (${lit(hash)}, ${lit(id)}, ${lit(tenant)}, ${lit(JSON.stringify(scopes))}, ${lit(name)}, ${lit(rate)}, ${Date.now()});`;
  return { key, id, text };
}
