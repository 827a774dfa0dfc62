// Subscriptions: independent consumers of the global order with server-kept checkpoints.
//
// A subscription is a name, a filter and a checkpoint (a global-read cursor) in the D1 catalog.
// `GET …/events` serves the page after the checkpoint and leaves it where it is; `POST …/ack` moves
// it to the cursor the consumer processed. A consumer that crashes before acking is served the same
// events again: at-least-once. Acks never move a checkpoint back, so a late or repeated ack is harmless.

import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { cursorAtOrPast, decodeCursor, encodeCursor, startCursor, type GlobalCursor, type GlobalFilter } from '../engine/global.js';
import { ProblemError } from '../engine/problem.js';
import { requireScope, type App } from './auth.js';
import { endCursor, globalPageSchema, MAX_GLOBAL_LIMIT, readGlobal } from './global.js';
import { refuseInvalid } from './http.js';
import { json, problemResponses } from './schemas.js';
import { tenantOf, type Tenant } from './tenant.js';

interface SubscriptionRow {
  name: string;
  types: string | null;
  stream_prefix: string | null;
  checkpoint: string;
  created_at: number;
  updated_at: number;
  acked_at: number | null;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const nameParam = z.object({
  name: z.string().regex(NAME).describe('1–128 characters: letters, digits, `.`, `_`, `-`; starting with a letter or digit'),
});

const subscriptionInput = z
  .object({
    types: z.array(z.string().min(1).max(256)).max(100).optional().describe('Only events of these types (default: all)'),
    streamPrefix: z.string().min(1).max(512).optional().describe('Only events of streams whose name starts with this'),
    start: z
      .union([z.enum(['beginning', 'end']), z.object({ after: z.string().max(4096) })])
      .optional()
      .describe(
        'Where a new subscription starts: `beginning` (default), `end` (only events committed from now on) or `{ "after": <cursor> }`. Given for an existing subscription, it moves the checkpoint there.',
      ),
  })
  .strict();

const subscriptionSchema = z
  .object({
    name: z.string(),
    types: z.array(z.string()).nullable(),
    streamPrefix: z.string().nullable(),
    checkpoint: z.string().describe('The cursor the next `GET …/events` reads after'),
    createdAt: z.string(),
    updatedAt: z.string(),
    ackedAt: z.string().nullable(),
  })
  .meta({ id: 'Subscription' });

function viewOf(row: SubscriptionRow) {
  return {
    name: row.name,
    types: row.types === null ? null : (JSON.parse(row.types) as string[]),
    streamPrefix: row.stream_prefix,
    checkpoint: row.checkpoint,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    ackedAt: row.acked_at === null ? null : new Date(row.acked_at).toISOString(),
  };
}

async function load(env: Env, tenant: Tenant, name: string): Promise<SubscriptionRow> {
  const row = await env.CATALOG.prepare(
    'SELECT name, types, stream_prefix, checkpoint, created_at, updated_at, acked_at FROM subscriptions WHERE tenant = ? AND name = ?',
  )
    .bind(tenant.id, name)
    .first<SubscriptionRow>();
  if (!row)
    throw new ProblemError(404, 'not-found', `no subscription "${name}" in this tenant; create it with PUT /v1/subscriptions/${name}`);
  return row;
}

function filterOf(row: SubscriptionRow): GlobalFilter {
  return {
    ...(row.types === null ? {} : { types: JSON.parse(row.types) as string[] }),
    ...(row.stream_prefix === null ? {} : { streamPrefix: row.stream_prefix }),
  };
}

export const subscriptionApp = new OpenAPIHono<App>({ defaultHook: refuseInvalid });
subscriptionApp.use('/v1/subscriptions', requireScope('read'));
subscriptionApp.use('/v1/subscriptions/*', requireScope('read'));

subscriptionApp.openapi(
  createRoute({
    method: 'put',
    path: '/v1/subscriptions/{name}',
    tags: ['subscriptions'],
    summary: 'Creates a subscription, or changes its filter (and, with `start`, its checkpoint)',
    request: { params: nameParam, body: { content: { 'application/json': { schema: subscriptionInput } }, required: true } },
    responses: {
      200: json(subscriptionSchema, 'The subscription was changed'),
      201: json(subscriptionSchema, 'The subscription was created'),
      ...problemResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const { name } = c.req.valid('param');
    const input = c.req.valid('json');
    const tenant = tenantOf(c);
    let checkpoint: GlobalCursor | null = null;
    if (input.start === 'end') checkpoint = await endCursor(c.env, tenant);
    else if (input.start === 'beginning') checkpoint = startCursor(tenant.shardCount);
    else if (input.start) checkpoint = decodeCursor(input.start.after, tenant.shardCount);
    const now = Date.now();
    const types = input.types ? JSON.stringify(input.types) : null;
    const prefix = input.streamPrefix ?? null;
    const initial = encodeCursor(checkpoint ?? startCursor(tenant.shardCount));
    // One statement: create, or update the filter and (only when `start` was given) the checkpoint.
    const row = await c.env.CATALOG.prepare(
      `INSERT INTO subscriptions (tenant, name, types, stream_prefix, checkpoint, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
       ON CONFLICT (tenant, name) DO UPDATE SET types = ?3, stream_prefix = ?4, updated_at = ?6,
         checkpoint = CASE WHEN ?7 THEN ?5 ELSE checkpoint END
       RETURNING name, types, stream_prefix, checkpoint, created_at, updated_at, acked_at`,
    )
      .bind(tenant.id, name, types, prefix, initial, now, checkpoint === null ? 0 : 1)
      .first<SubscriptionRow>();
    return c.json(viewOf(row!), row!.created_at === now ? 201 : 200);
  },
);

subscriptionApp.openapi(
  createRoute({
    method: 'get',
    path: '/v1/subscriptions/{name}',
    tags: ['subscriptions'],
    summary: 'A subscription: its filter and checkpoint',
    request: { params: nameParam },
    responses: { 200: json(subscriptionSchema, 'The subscription'), ...problemResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    c.header('cache-control', 'private, no-cache');
    return c.json(viewOf(await load(c.env, tenantOf(c), c.req.valid('param').name)), 200);
  },
);

subscriptionApp.openapi(
  createRoute({
    method: 'get',
    path: '/v1/subscriptions',
    tags: ['subscriptions'],
    summary: "The tenant's subscriptions",
    responses: {
      200: json(z.object({ subscriptions: z.array(subscriptionSchema) }), 'All of them, by name'),
      ...problemResponses(401, 403),
    },
  }),
  async (c) => {
    const { results } = await c.env.CATALOG.prepare(
      'SELECT name, types, stream_prefix, checkpoint, created_at, updated_at, acked_at FROM subscriptions WHERE tenant = ? ORDER BY name',
    )
      .bind(tenantOf(c).id)
      .all<SubscriptionRow>();
    c.header('cache-control', 'private, no-cache');
    return c.json({ subscriptions: results.map(viewOf) }, 200);
  },
);

subscriptionApp.openapi(
  createRoute({
    method: 'delete',
    path: '/v1/subscriptions/{name}',
    tags: ['subscriptions'],
    summary: 'Deletes a subscription and its checkpoint',
    request: { params: nameParam },
    responses: { 204: { description: 'Deleted' }, ...problemResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const { name } = c.req.valid('param');
    const tenant = tenantOf(c);
    const result = await c.env.CATALOG.prepare('DELETE FROM subscriptions WHERE tenant = ? AND name = ?').bind(tenant.id, name).run();
    if (result.meta.changes === 0) await load(c.env, tenant, name); // answers the 404
    return c.body(null, 204);
  },
);

subscriptionApp.openapi(
  createRoute({
    method: 'get',
    path: '/v1/subscriptions/{name}/events',
    tags: ['subscriptions'],
    summary: 'The next events after the checkpoint (the checkpoint does not move until acked)',
    description:
      'Answers the same page again until the consumer acks its `next` cursor with `POST …/ack`: at-least-once delivery. Several consumers can follow the log independently, each with its own subscription.',
    request: {
      params: nameParam,
      query: z.object({ limit: z.coerce.number().int().min(1).max(MAX_GLOBAL_LIMIT).default(100) }),
    },
    responses: { 200: json(globalPageSchema, 'A page of the global order'), ...problemResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const tenant = tenantOf(c);
    const row = await load(c.env, tenant, c.req.valid('param').name);
    const page = await readGlobal(
      c.env,
      tenant,
      decodeCursor(row.checkpoint, tenant.shardCount),
      c.req.valid('query').limit,
      filterOf(row),
    );
    c.header('cache-control', 'private, no-store');
    return c.json(page, 200);
  },
);

subscriptionApp.openapi(
  createRoute({
    method: 'post',
    path: '/v1/subscriptions/{name}/ack',
    tags: ['subscriptions'],
    summary: 'Moves the checkpoint to a cursor the consumer has processed',
    description: 'An ack behind the checkpoint (late, or repeated) leaves it where it is and says so with `moved: false`.',
    request: {
      params: nameParam,
      body: {
        content: {
          'application/json': { schema: z.object({ cursor: z.string().min(1).max(4096).describe('A `next` of a page') }).strict() },
        },
        required: true,
      },
    },
    responses: {
      200: json(z.object({ moved: z.boolean(), subscription: subscriptionSchema }), 'The checkpoint now'),
      ...problemResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const tenant = tenantOf(c);
    const { name } = c.req.valid('param');
    const acked = decodeCursor(c.req.valid('json').cursor, tenant.shardCount);
    const token = encodeCursor(acked);
    // Guarded on the checkpoint read: when a concurrent ack moved it in between, this one is judged again.
    for (;;) {
      const row = await load(c.env, tenant, name);
      if (row.checkpoint === token || !cursorAtOrPast(acked, decodeCursor(row.checkpoint, tenant.shardCount)))
        return c.json({ moved: false, subscription: viewOf(row) }, 200);
      const now = Date.now();
      const updated = await c.env.CATALOG.prepare(
        `UPDATE subscriptions SET checkpoint = ?, acked_at = ?, updated_at = ? WHERE tenant = ? AND name = ? AND checkpoint = ?
         RETURNING name, types, stream_prefix, checkpoint, created_at, updated_at, acked_at`,
      )
        .bind(token, now, now, tenant.id, name, row.checkpoint)
        .first<SubscriptionRow>();
      if (updated) return c.json({ moved: true, subscription: viewOf(updated) }, 200);
    }
  },
);
