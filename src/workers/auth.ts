// Who is calling: the bearer API key, its tenant and scopes, and its request rate.

import type { Context, MiddlewareHandler } from 'hono';
import { apiKeyId, hashApiKey, looksLikeApiKey, TokenBucket, type Scope } from '../engine/keys.js';
import { ProblemError } from '../engine/problem.js';
import { config } from '../config.js';
import { loadTenant, type Tenant } from './tenant.js';

export interface Caller {
  tenant: Tenant;
  keyId: string;
  scopes: readonly Scope[];
}

/** The Hono environment of every app: bindings, and the caller once authenticated. */
export type App = { Bindings: Env; Variables: { caller: Caller } };

interface KeyRow {
  id: string;
  tenant: string;
  scopes: string;
  rate_per_second: number | null;
  revoked_at: number | null;
}

/**
 * Keys looked up recently, by hash, for KEY_CACHE_MS: a revoked key stops working within that
 * time. Unknown hashes are cached too (briefly), so a flood of bad keys does not become a flood
 * of D1 reads. Bounded: cleared when full.
 */
const keys = new Map<string, { row: KeyRow | null; until: number }>();
const KEY_CACHE_MS = 30_000;
const MISS_CACHE_MS = 2_000;
const KEY_CACHE_SIZE = 10_000;

/** Forgets every cached key, so a revocation takes effect at once in this isolate (others: within KEY_CACHE_MS). */
export function forgetKeys(): void {
  keys.clear();
}

/** Per key, for the life of the isolate (approximate in production, where a key's requests spread over isolates). */
const buckets = new Map<string, TokenBucket>();

async function lookUp(env: Env, hash: string, now: number): Promise<KeyRow | null> {
  const cached = keys.get(hash);
  if (cached && cached.until > now) return cached.row;
  const row = await env.CATALOG.prepare('SELECT id, tenant, scopes, rate_per_second, revoked_at FROM api_keys WHERE hash = ?')
    .bind(hash)
    .first<KeyRow>();
  if (keys.size >= KEY_CACHE_SIZE) keys.clear();
  keys.set(hash, { row, until: now + (row ? KEY_CACHE_MS : MISS_CACHE_MS) });
  return row;
}

const unauthorized = (detail: string) => new ProblemError(401, 'unauthorized', detail);

/** Authenticates the request's key; answers the caller or throws 401/429. Scope is checked by requireScope. */
export async function authenticate(c: Context<App>): Promise<Caller> {
  const header = c.req.header('authorization');
  if (!header) throw unauthorized('send an API key as "Authorization: Bearer esk_…"; create one with `npm run admin -- create-key`');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized('the Authorization header must be "Bearer <API key>"');
  const token = match[1]!;
  if (!looksLikeApiKey(token))
    throw unauthorized('the bearer token is not an API key of this store (they look like esk_ and 43 characters)');
  const now = Date.now();
  const hash = await hashApiKey(token);
  const row = await lookUp(c.env, hash, now);
  if (!row || row.revoked_at !== null) throw unauthorized(`unknown or revoked API key ${apiKeyId(hash)}`);

  let bucket = buckets.get(row.id);
  const rate = row.rate_per_second ?? config(c.env).keyRatePerSecond;
  if (!bucket || bucket.rate !== rate) {
    if (buckets.size >= KEY_CACHE_SIZE) buckets.clear();
    buckets.set(row.id, (bucket = new TokenBucket(rate, rate * 2, now)));
  }
  const wait = bucket.take(now);
  if (wait > 0) {
    throw new ProblemError(429, 'rate-limited', `API key ${row.id} is limited to ${rate} requests per second; retry after ${wait} s`, {
      retryAfterSeconds: wait,
    });
  }
  return { tenant: await loadTenant(c.env, row.tenant), keyId: row.id, scopes: JSON.parse(row.scopes) as Scope[] };
}

/** Middleware: the route needs a key with `scope`; the caller is then `c.get('caller')`. */
export function requireScope(scope: Scope): MiddlewareHandler<App> {
  return async (c, next) => {
    const caller = await authenticate(c);
    if (!caller.scopes.includes(scope)) {
      throw new ProblemError(
        403,
        'forbidden',
        `API key ${caller.keyId} has the scopes ${caller.scopes.join(', ') || '(none)'}; ${c.req.method} ${c.req.path} needs "${scope}"`,
      );
    }
    c.set('caller', caller);
    await next();
  };
}
