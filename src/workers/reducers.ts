// The tenant's reducers (how stream state folds each event type): kept in the catalog, read by the
// state route through a short isolate cache, replaced whole by an admin.

import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { reducerSchema, type Reducer, type Reducers } from '../engine/fold.js';
import { requireScope, type App } from './auth.js';
import { refuseInvalid } from './http.js';
import { json, problemResponses } from './schemas.js';
import { tenantOf } from './tenant.js';

/** How long an isolate trusts the reducers it read; a change made through another isolate shows within this. */
const REDUCERS_CACHE_MS = 10_000;
const cache = new Map<string, { reducers: Reducers; until: number }>();

export async function loadReducers(env: Env, tenant: string): Promise<Reducers> {
  const now = Date.now();
  const hit = cache.get(tenant);
  if (hit && hit.until > now) return hit.reducers;
  const row = await env.CATALOG.prepare('SELECT reducers FROM reducers WHERE tenant = ?').bind(tenant).first<{ reducers: string }>();
  const reducers: Reducers = new Map(Object.entries(row ? (JSON.parse(row.reducers) as Record<string, Reducer>) : {}));
  if (cache.size > 1000) cache.clear();
  cache.set(tenant, { reducers, until: now + REDUCERS_CACHE_MS });
  return reducers;
}

const reducersSchema = z
  .record(z.string().min(1).max(256), reducerSchema)
  .refine((r) => Object.keys(r).length <= 1000, 'at most 1,000 event types')
  .meta({ id: 'Reducers', description: 'Reducer by event type; types not listed are merged (JSON merge-patch)' });

export const reducerApp = new OpenAPIHono<App>({ defaultHook: refuseInvalid });
reducerApp.use('/v1/admin/reducers', requireScope('admin'));

reducerApp.openapi(
  createRoute({
    method: 'put',
    path: '/v1/admin/reducers',
    tags: ['admin'],
    summary: 'Replace how stream state folds each event type',
    description:
      'A JSON object from event type to reducer: `merge` (default), `replace`, `ignore`, `delete`, or `{ "op": "increment" | "append" | "set", "path": "a.b", "by"?, "field"? }`. Applies to every state read from then on (other isolates within 10 s); events are never changed.',
    request: { body: { content: { 'application/json': { schema: reducersSchema } }, required: true } },
    responses: {
      200: json(reducersSchema, 'The reducers now'),
      ...problemResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const tenant = tenantOf(c).id;
    const reducers = c.req.valid('json');
    await c.env.CATALOG.prepare(
      'INSERT INTO reducers (tenant, reducers, updated_at) VALUES (?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET reducers = excluded.reducers, updated_at = excluded.updated_at',
    )
      .bind(tenant, JSON.stringify(reducers), Date.now())
      .run();
    cache.delete(tenant);
    return c.json(reducers, 200);
  },
);

reducerApp.openapi(
  createRoute({
    method: 'get',
    path: '/v1/admin/reducers',
    tags: ['admin'],
    summary: 'How stream state folds each event type',
    responses: {
      200: json(reducersSchema, 'The reducers'),
      ...problemResponses(401, 403),
    },
  }),
  async (c) => {
    cache.delete(tenantOf(c).id);
    return c.json(Object.fromEntries(await loadReducers(c.env, tenantOf(c).id)), 200);
  },
);
