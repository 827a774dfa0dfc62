// Which tenant a request belongs to, and that tenant's pinned shard count.

import type { Context } from 'hono';
import { config } from '../config.js';

export interface Tenant {
  id: string;
  shardCount: number;
}

/** Tenants' shard counts never change once created, so an isolate may keep them. */
const known = new Map<string, Tenant>();

async function loadTenant(env: Env, id: string): Promise<Tenant> {
  const cached = known.get(id);
  if (cached) return cached;
  const select = env.CATALOG.prepare('SELECT shard_count FROM tenants WHERE id = ?').bind(id);
  let row = await select.first<{ shard_count: number }>();
  if (!row) {
    // Created on first use with the configured count; of two concurrent creators, the first wins.
    await env.CATALOG.prepare('INSERT INTO tenants (id, shard_count, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING')
      .bind(id, config(env).defaultShardCount, Date.now())
      .run();
    row = await select.first<{ shard_count: number }>();
  }
  if (!row) throw new Error(`tenant ${id} could not be created`);
  const tenant = { id, shardCount: row.shard_count };
  known.set(id, tenant);
  return tenant;
}

/**
 * The caller's tenant. Until API keys exist (issue 4) every request belongs to the configured
 * default tenant; this is the one place that will change.
 */
export function tenantOf(c: Context<{ Bindings: Env }>): Promise<Tenant> {
  return loadTenant(c.env, config(c.env).defaultTenant);
}
