// The read side: routes that only read. The status of the colour pipeline, and the segment catalog (export).

import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { COLOURS, type Colour } from '../engine/colour.js';
import { ProblemError } from '../engine/problem.js';
import { liveSegments } from './catalog.js';
import { readEvent } from './events.js';
import { readHistory, readState } from './streams.js';
import { assertStreamName } from '../engine/envelope.js';
import { refuseInvalid } from './http.js';
import { colourSchema, eventSchema, json, problemResponses } from './schemas.js';
import { shardStatuses } from './shards.js';
import { requireScope, type App } from './auth.js';
import { tenantOf, type Tenant } from './tenant.js';

const countsSchema = z.record(colourSchema, z.number().int());
const lagSchema = z
  .object({
    greyMs: z.number().nullable().describe('Age of the oldest event not yet in the master store (publish lag); null when none is grey'),
    blueMs: z.number().nullable().describe('Age of the oldest event in the master store but not yet queryable (replicate lag)'),
  })
  .meta({ id: 'Lag' });
const statusSchema = z
  .object({
    tenant: z.string(),
    at: z.string().describe('When the status was taken'),
    totals: countsSchema,
    lag: lagSchema,
    shards: z.array(
      z.object({
        shard: z.number().int(),
        headSeq: z.number().int().describe('Last sequence number the shard assigned'),
        streams: z.number().int(),
        counts: countsSchema,
        marks: z.object({
          blueThrough: z.number().int(),
          greenThrough: z.number().int(),
          evictedThrough: z.number().int(),
        }),
        hotEvents: z.number().int().describe('Events held in the shard object (not yet evicted)'),
        lag: lagSchema,
      }),
    ),
    deadLetters: z.object({
      count: z.number().int().describe('Pipeline messages that kept failing (the shards re-drive the work regardless)'),
      latest: z.array(
        z.object({ id: z.string(), step: z.string(), shard: z.number().int().nullable(), attempts: z.number().int(), at: z.string() }),
      ),
    }),
  })
  .meta({ id: 'Status' });

export type TenantStatus = z.infer<typeof statusSchema>;

/** The colours per shard and in total, the lag of each step, and the dead letters: GET /v1/status and /metrics. */
export async function tenantStatus(env: Env, tenant: Tenant): Promise<TenantStatus> {
  const now = Date.now();
  const age = (at: number | null) => (at === null ? null : Math.max(0, now - at));
  const [statuses, dead] = await Promise.all([
    shardStatuses(env, tenant),
    env.CATALOG.batch<{ n?: number; id?: string; step?: string; shard?: number | null; attempts?: number; received_at?: number }>([
      env.CATALOG.prepare('SELECT count(*) AS n FROM dead_letters WHERE tenant = ?').bind(tenant.id),
      env.CATALOG.prepare(
        'SELECT id, step, shard, attempts, received_at FROM dead_letters WHERE tenant = ? ORDER BY received_at DESC LIMIT 10',
      ).bind(tenant.id),
    ]),
  ]);
  const shards = statuses.map((s) => ({
    shard: s.shard,
    headSeq: s.headSeq,
    streams: s.streams,
    counts: s.counts,
    marks: { blueThrough: s.marks.blueThrough, greenThrough: s.marks.greenThrough, evictedThrough: s.marks.evictedThrough },
    hotEvents: s.hotEvents,
    lag: { greyMs: age(s.oldestGreyAt), blueMs: age(s.oldestBlueAt) },
  }));
  const totals = Object.fromEntries(COLOURS.map((colour) => [colour, 0])) as Record<Colour, number>;
  for (const s of shards) for (const colour of COLOURS) totals[colour] += s.counts[colour];
  const worst = (pick: (l: { greyMs: number | null; blueMs: number | null }) => number | null) => {
    const ages = shards.map((s) => pick(s.lag)).filter((a): a is number => a !== null);
    return ages.length ? Math.max(...ages) : null;
  };
  return {
    tenant: tenant.id,
    at: new Date(now).toISOString(),
    totals,
    lag: { greyMs: worst((l) => l.greyMs), blueMs: worst((l) => l.blueMs) },
    shards,
    deadLetters: {
      count: dead[0]?.results[0]?.n ?? 0,
      latest: (dead[1]?.results ?? []).map((d) => ({
        id: d.id!,
        step: d.step!,
        shard: d.shard ?? null,
        attempts: d.attempts!,
        at: new Date(d.received_at!).toISOString(),
      })),
    },
  };
}

export const readApp = new OpenAPIHono<App>({ defaultHook: refuseInvalid });
readApp.use('/v1/status', requireScope('read'));
readApp.use('/v1/segments', requireScope('read'));
readApp.use('/v1/segments/*', requireScope('read'));

readApp.openapi(
  createRoute({
    method: 'get',
    path: '/v1/status',
    tags: ['status'],
    summary: 'The colours of the status memory, per shard, and the lag',
    responses: {
      200: {
        description: 'Counts per colour and the age of the oldest grey event',
        content: { 'application/json': { schema: statusSchema } },
      },
    },
  }),
  async (c) => {
    c.header('cache-control', 'no-store');
    return c.json(await tenantStatus(c.env, tenantOf(c)), 200);
  },
);

const segmentSchema = z
  .object({
    key: z.string().describe('R2 key; the replica keys are Hive-style paths (replica/tenant=…/date=…/…)'),
    kind: z.enum(['master', 'replica']),
    shard: z.number().int(),
    date: z.string().nullable(),
    level: z.number().int().describe('0: written by its step; higher: compacted'),
    firstSeq: z.number().int(),
    lastSeq: z.number().int(),
    minTime: z.string(),
    maxTime: z.string(),
    rows: z.number().int(),
    bytes: z.number().int(),
    checksum: z.string().nullable(),
  })
  .meta({ id: 'Segment' });

readApp.openapi(
  createRoute({
    method: 'get',
    path: '/v1/segments',
    tags: ['segments'],
    summary: 'The live segments of the catalog (what `npm run export` copies)',
    request: { query: z.object({ kind: z.enum(['master', 'replica']).optional() }) },
    responses: {
      200: {
        description: 'Live segments in (kind, date, shard, seq) order',
        content: { 'application/json': { schema: z.object({ segments: z.array(segmentSchema) }) } },
      },
      ...problemResponses(400),
    },
  }),
  async (c) => {
    const tenant = tenantOf(c);
    const kind = c.req.valid('query').kind;
    const segments = await liveSegments(c.env, tenant.id, kind ? { kind } : {});
    c.header('cache-control', 'no-store');
    return c.json(
      {
        segments: segments.map((s) => ({
          key: s.key,
          kind: s.kind,
          shard: s.shard,
          date: s.date,
          level: s.level,
          firstSeq: s.firstSeq,
          lastSeq: s.lastSeq,
          minTime: new Date(s.minTime).toISOString(),
          maxTime: new Date(s.maxTime).toISOString(),
          rows: s.rows,
          bytes: s.bytes,
          checksum: s.checksum,
        })),
      },
      200,
    );
  },
);

readApp.openAPIRegistry.registerPath(
  createRoute({
    method: 'get',
    path: '/v1/segments/{key}',
    tags: ['segments'],
    summary: 'The bytes of one segment of the catalog (immutable, cacheable for ever)',
    request: { params: z.object({ key: z.string() }) },
    responses: { 200: { description: 'The object as stored: gzip row segment or Parquet' }, ...problemResponses(404) },
  }),
);
readApp.get('/v1/segments/:key{.+}', async (c) => {
  const tenant = tenantOf(c);
  const key = c.req.param('key');
  const known = await c.env.CATALOG.prepare(`SELECT kind FROM segments WHERE key = ? AND tenant = ? AND state != 'deleted'`)
    .bind(key, tenant.id)
    .first<{ kind: string }>();
  const object = known ? await c.env.SEGMENTS.get(key) : null;
  if (!object)
    throw new ProblemError(404, 'not-found', `no segment "${key.slice(0, 200)}" in this tenant's catalog; list them with GET /v1/segments`);
  return new Response(object.body, {
    headers: {
      'content-type': known!.kind === 'replica' ? 'application/vnd.apache.parquet' : 'application/gzip',
      'content-length': String(object.size),
      'cache-control': 'public, max-age=31536000, immutable',
      etag: object.httpEtag,
    },
  });
});

readApp.get('/v1/events/*', requireScope('read'));
readApp.openapi(
  createRoute({
    method: 'get',
    path: '/v1/events/{id}',
    tags: ['read'],
    summary: 'One event by id, with its colour',
    description:
      'From the shard’s status memory while the event is hot, else from the master row segment the catalog names (one R2 read). A CloudEvent is identified by its source and id: add `?source=`. Events are immutable: once green or red the answer is cacheable for good; before, its colour may still change.',
    request: { params: z.object({ id: z.string().min(1).max(256) }), query: z.object({ source: z.string().min(1).max(1024).optional() }) },
    responses: {
      200: json(eventSchema, 'The event'),
      ...problemResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const { id } = c.req.valid('param');
    const { source } = c.req.valid('query');
    const event = await readEvent(c.env, tenantOf(c), id, source);
    const settled = event.status === 'green' || event.status === 'red';
    c.header('cache-control', settled ? 'private, max-age=31536000, immutable' : 'private, no-cache');
    return c.json(event, 200);
  },
);

const historyQuery = z.object({
  from: z.coerce.number().int().min(1).optional().describe('First version of the page (forward: from 1; backward: from the head)'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  direction: z.enum(['forward', 'backward']).default('forward'),
  asOf: z.iso.datetime({ offset: true }).optional().describe('Only events whose time is at or before this RFC 3339 time'),
});

const streamParam = z.object({ stream: z.string().describe('The stream name; slashes raw or as %2F') });

function streamOf(c: { req: { param: (name: string) => string | undefined } }): string {
  const stream = c.req.param('stream') ?? '';
  assertStreamName(stream);
  return stream;
}

readApp.get('/v1/streams/*', requireScope('read'));

readApp.openAPIRegistry.registerPath(
  createRoute({
    method: 'get',
    path: '/v1/streams/{stream}/events',
    tags: ['read'],
    summary: 'The history of one stream, paged in version order',
    description:
      'Hot events come from the shard, evicted ones from the master segments the catalog names. `next` is the `from` of the following page (versions never change, so it is a stable cursor). With `asOf`, events whose time is later are left out of the page.',
    request: { params: streamParam, query: historyQuery },
    responses: {
      200: {
        description: 'A page of events',
        content: {
          'application/json': {
            schema: z.object({
              stream: z.string(),
              headVersion: z.number().int(),
              events: z.array(eventSchema),
              next: z.number().int().nullable(),
            }),
          },
        },
      },
      ...problemResponses(400, 401, 403, 404),
    },
  }),
);
readApp.get('/v1/streams/:stream{.+}/events', async (c) => {
  const stream = streamOf(c);
  const parsed = historyQuery.safeParse(c.req.query());
  refuseInvalid({ success: parsed.success, error: parsed.error, target: 'query' });
  const q = parsed.data!;
  const history = await readHistory(c.env, tenantOf(c), stream, {
    limit: q.limit,
    direction: q.direction,
    ...(q.from === undefined ? {} : { from: q.from }),
    ...(q.asOf === undefined ? {} : { asOf: Date.parse(q.asOf) }),
  });
  // A page is final once it is full, behind the head and all of it settled (green or red).
  const settled = history.next !== null && history.events.every((e) => e.status === 'green' || e.status === 'red');
  c.header('cache-control', settled ? 'private, max-age=31536000, immutable' : 'private, no-cache');
  return c.json(history, 200);
});

const stateQuery = z.object({
  version: z.coerce.number().int().min(0).optional().describe('Fold versions 1..version only'),
  asOf: z.iso.datetime({ offset: true }).optional().describe('Fold only events whose time is at or before this RFC 3339 time'),
});

readApp.openAPIRegistry.registerPath(
  createRoute({
    method: 'get',
    path: '/v1/streams/{stream}/state',
    tags: ['read'],
    summary: "The stream's folded state: JSON merge-patch (RFC 7396) of its events' data in version order",
    request: { params: streamParam, query: stateQuery },
    responses: {
      200: {
        description: 'The state and the version and time it reflects',
        content: {
          'application/json': {
            schema: z.object({
              stream: z.string(),
              version: z.number().int(),
              time: z.string().nullable(),
              headVersion: z.number().int(),
              state: z.unknown(),
            }),
          },
        },
      },
      ...problemResponses(400, 401, 403, 404, 413),
    },
  }),
);
readApp.get('/v1/streams/:stream{.+}/state', async (c) => {
  const stream = streamOf(c);
  const parsed = stateQuery.safeParse(c.req.query());
  refuseInvalid({ success: parsed.success, error: parsed.error, target: 'query' });
  const q = parsed.data!;
  const folded = await readState(c.env, tenantOf(c), stream, {
    ...(q.version === undefined ? {} : { version: q.version }),
    ...(q.asOf === undefined ? {} : { asOf: Date.parse(q.asOf) }),
  });
  // The head moves, so only a state pinned to a version (or a past time) never changes.
  c.header('cache-control', q.version !== undefined ? 'private, max-age=31536000, immutable' : 'private, no-cache');
  return c.json(folded, 200);
});
