// Tenants: every event, key, source and segment belongs to one; its shard count is pinned at creation.

import type { Context } from 'hono';
import { ProblemError } from '../engine/problem.js';
import type { App } from './auth.js';

export interface Tenant {
  id: string;
  shardCount: number;
}

/** Tenants' shard counts never change once created, so an isolate may keep them. */
const known = new Map<string, Tenant>();

export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A tenant that exists (keys and sources are only ever bound to existing tenants). */
export async function loadTenant(env: Env, id: string): Promise<Tenant> {
  const cached = known.get(id);
  if (cached) return cached;
  const row = await env.CATALOG.prepare('SELECT shard_count FROM tenants WHERE id = ?').bind(id).first<{ shard_count: number }>();
  if (!row) throw new ProblemError(404, 'not-found', `tenant "${id}" does not exist`);
  const tenant = { id, shardCount: row.shard_count };
  known.set(id, tenant);
  return tenant;
}

/**
 * Creates a tenant with its shard count, pinned for good (the stream → shard routing depends on it,
 * docs/decisions/0003-shard-routing.md). Answers whether it was created (false: it existed).
 */
export async function createTenant(env: Env, id: string, shardCount: number): Promise<boolean> {
  const result = await env.CATALOG.prepare('INSERT INTO tenants (id, shard_count, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING')
    .bind(id, shardCount, Date.now())
    .run();
  return result.meta.changes > 0;
}

/** The caller's tenant: set by requireScope from the API key, so every route is confined to it. */
export function tenantOf(c: Context<App>): Tenant {
  const caller = c.get('caller');
  if (!caller) throw new Error(`route ${c.req.path} reads the tenant without requiring a scope`);
  return caller.tenant;
}
