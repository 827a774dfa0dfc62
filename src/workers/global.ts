// The global read: every event of the tenant in one stable order across shards, with an opaque
// resumable cursor (docs/decisions/0012-global-order.md). One call per shard per page, plus the
// master segments of evicted events. CQRS: nothing here writes events (the shards record their
// promise, which is theirs to keep).

import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { GlobalSlice } from '../durable/shard.js';
import { colourOf } from '../engine/colour.js';
import {
  decodeCursor,
  encodeCursor,
  mergePage,
  startCursor,
  type GlobalCursor,
  type GlobalFilter,
  type ShardSlice,
} from '../engine/global.js';
import type { ColourMarks } from '../engine/colour.js';
import { ProblemError } from '../engine/problem.js';
import { requireScope, type App } from './auth.js';
import { readCold, viewOf, type EventView } from './events.js';
import { refuseInvalid } from './http.js';
import { eventSchema, json, problemResponses } from './schemas.js';
import { shardStub } from './shards.js';
import { tenantOf, type Tenant } from './tenant.js';

export interface GlobalRead {
  events: EventView[];
  /** The cursor after this page: pass it as `after` for the next one. */
  next: string;
  caughtUp: boolean;
  /** Receipt time up to which the order is settled (ISO 8601). */
  watermark: string;
}

export const MAX_GLOBAL_LIMIT = 1000;

/**
 * How many events each shard is asked for: enough that a page is usually full when events are
 * spread over the shards, without reading `limit` from every shard to serve `limit` in all.
 */
function perShard(limit: number, shardCount: number): number {
  return Math.min(limit, Math.max(16, Math.ceil((2 * limit) / shardCount)));
}

/** One page of the global order after `cursor`, filtered. */
export async function readGlobal(env: Env, tenant: Tenant, cursor: GlobalCursor, limit: number, filter: GlobalFilter): Promise<GlobalRead> {
  const ask = perShard(limit, tenant.shardCount);
  const marks: ColourMarks[] = [];
  const slices: ShardSlice[] = await Promise.all(
    cursor.positions.map(async (after, shard): Promise<ShardSlice> => {
      const page: GlobalSlice = await shardStub(env, tenant.id, shard).globalSlice(after, ask);
      marks[shard] = page.marks;
      const rows = [];
      if (page.cold) {
        const seqs = Array.from({ length: page.cold.lastSeq - page.cold.firstSeq + 1 }, (_, i) => page.cold!.firstSeq + i);
        const cold = await readCold(env, tenant.id, shard, seqs);
        for (const seq of seqs) rows.push(cold.get(seq)!);
      }
      rows.push(...page.rows);
      const last = rows[rows.length - 1];
      return { shard, rows, full: last !== undefined && last.seq < page.headSeq, promise: page.promise };
    }),
  );
  const page = mergePage(cursor, slices, limit, filter);
  return {
    events: page.events.map(({ shard, row }) => viewOf(row, shard, colourOf(row.seq, marks[shard]!))),
    next: encodeCursor(page.cursor),
    caughtUp: page.caughtUp,
    watermark: new Date(page.watermark).toISOString(),
  };
}

/**
 * The cursor at the current end of the log: reading after it yields only events committed later.
 * Two rounds: the shards' promises, then every shard promises the largest and says its head.
 */
export async function endCursor(env: Env, tenant: Tenant): Promise<GlobalCursor> {
  const shards = Array.from({ length: tenant.shardCount }, (_, shard) => shardStub(env, tenant.id, shard));
  const first = await Promise.all(shards.map((stub) => stub.globalSlice(0, 0)));
  const floor = Math.max(...first.map((p) => p.promise));
  const second = await Promise.all(shards.map((stub) => stub.globalSlice(0, 0, floor)));
  const at = Math.max(...second.map((p) => p.promise));
  return { at: [at, tenant.shardCount, 0], positions: second.map((p) => p.headSeq) };
}

export const globalQuery = z.object({
  after: z.string().max(4096).optional().describe('The `next` cursor of the previous page; leave out to read from the start'),
  limit: z.coerce.number().int().min(1).max(MAX_GLOBAL_LIMIT).default(100),
  types: z.string().max(4096).optional().describe('Only events of these types, comma-separated (the cursor still moves past the others)'),
  streamPrefix: z.string().min(1).max(512).optional().describe('Only events of streams whose name starts with this'),
});

/** The filter of `types=` / `streamPrefix=`, checked. */
export function filterOf(q: { types?: string | undefined; streamPrefix?: string | undefined }): GlobalFilter {
  const types = q.types
    ?.split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  if (types && types.length > 100)
    throw new ProblemError(400, 'invalid-request', `types lists ${types.length} types; filter on at most 100`);
  return { ...(types && types.length > 0 ? { types } : {}), ...(q.streamPrefix ? { streamPrefix: q.streamPrefix } : {}) };
}

export const globalPageSchema = z
  .object({
    events: z.array(eventSchema),
    next: z.string().describe('Opaque cursor: the `after` of the next page (also when this page is empty)'),
    caughtUp: z.boolean().describe('true when the reader has every event the order has settled; poll again later'),
    watermark: z.string().describe('Receipt time up to which the order is settled: no event can appear at or before it any more'),
  })
  .meta({ id: 'GlobalPage' });

export const globalApp = new OpenAPIHono<App>({ defaultHook: refuseInvalid });
globalApp.use('/v1/all', requireScope('read'));
globalApp.openapi(
  createRoute({
    method: 'get',
    path: '/v1/all',
    tags: ['read'],
    summary: 'Every event of the tenant in one stable global order, paged with an opaque cursor',
    description:
      'Ordered by (receivedAt, shard, seq). A page serves only events no shard can still commit anything before, so every reader sees the same sequence and a reader following `next` from the start sees each event exactly once, hot or cold (docs/decisions/0012-global-order.md). An empty page with `caughtUp: true` means: nothing new yet; poll again with the same `next`.',
    request: { query: globalQuery },
    responses: {
      200: json(globalPageSchema, 'A page of the global order'),
      ...problemResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const q = c.req.valid('query');
    const tenant = tenantOf(c);
    const cursor = q.after === undefined ? startCursor(tenant.shardCount) : decodeCursor(q.after, tenant.shardCount);
    const page = await readGlobal(c.env, tenant, cursor, q.limit, filterOf(q));
    // The events of a page never change, but a later read of the same cursor may serve more.
    c.header('cache-control', 'private, no-cache');
    return c.json(page, 200);
  },
);
