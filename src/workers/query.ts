// The query coordinator: SQL in, planned over the catalog, scans fanned out, partials merged.
//
// POST /v1/query answers at once; POST /v1/queries answers `yellow` with an id and runs the query
// from the maintain queue, and GET /v1/queries/{id} gives the result once `orange`. A query reads
// the live replica segments the catalog lists (eventual: what is green), pruned by the planner;
// with `consistency: "strong"` it adds the events not yet green from the shard objects, cut at the
// seq the catalog snapshot covers per shard, so an event that turns green meanwhile is counted once.

import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { QuerySpec } from '../engine/query/ast.js';
import { SqlError } from '../engine/query/ast.js';
import { analyse } from '../engine/query/analyse.js';
import { fingerprint, fingerprintTop, PartialCache } from '../engine/query/cache.js';
import { countedPartial, finish, PartialBuilder, QueryLimitError, scanRows, type Partial } from '../engine/query/execute.js';
import { planQuery, type QueryPlan } from '../engine/query/plan.js';
import { layoutRanges } from '../engine/parquet.js';
import { formatSqlError, parseSelect } from '../engine/query/sql.js';
import type { MasterRow } from '../engine/segment.js';
import { ProblemError } from '../engine/problem.js';
import { config, type QueryConfig } from '../config.js';
import { requireScope, type App } from './auth.js';
import { liveSegments, type CatalogSegment } from './catalog.js';
import { readCold } from './events.js';
import { refuseInvalid } from './http.js';
import { scanSegments, type ScanLimits, type ScanReply, type SegmentScan } from './scan.js';
import { json, problemResponses } from './schemas.js';
import { shardStub } from './shards.js';
import { tenantOf, type Tenant } from './tenant.js';

export type Consistency = 'eventual' | 'strong';

export interface QueryStats {
  segmentsTotal: number;
  segmentsPruned: number;
  segmentsScanned: number;
  /** Segments answered from the catalog's row counts without reading (a count whose WHERE holds for all their rows). */
  segmentsCounted: number;
  rowGroupsPruned: number;
  rowsScanned: number;
  rowsMatched: number;
  bytesRead: number;
  subrequests: number;
  cache: { hits: number; misses: number };
  /** Events not yet green read from the shards (strong consistency only). */
  hotRows: number;
  elapsedMs: number;
}

export interface QueryAnswer {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  consistency: Consistency;
  stats: QueryStats;
  plan?: QueryPlan;
}

/** Parses and analyses, or answers a 400 that points at the position and says what is supported. */
export function compile(sql: string): QuerySpec {
  try {
    return analyse(parseSelect(sql), sql);
  } catch (error) {
    if (error instanceof SqlError) {
      throw new ProblemError(400, 'invalid-query', formatSqlError(sql, error), {
        position: error.span.start,
        ...(error.hint ? { hint: error.hint } : {}),
      });
    }
    throw error;
  }
}

const tooLarge = (limit: string, detail: string, extensions: Record<string, unknown> = {}) =>
  new ProblemError(422, 'query-limit', detail, { limit, ...extensions });

function limitProblem(limit: QueryLimitError['limit'] | 'memory', max: number): ProblemError {
  if (limit === 'groups')
    return tooLarge(
      'groups',
      `the query makes more than ${max} groups (QUERY_MAX_GROUPS); group by fewer or coarser keys, or filter with WHERE`,
      {
        max,
      },
    );
  if (limit === 'memory')
    return tooLarge(
      'memory',
      `the query's aggregate state passed ${max} bytes (QUERY_MAX_STATE_BYTES): fewer groups, approx_count_distinct instead of count(DISTINCT …), or a narrower WHERE`,
      { max },
    );
  return tooLarge('rows', `the query returns more than ${max} rows; add a LIMIT or aggregate`, { max });
}

/** Partials of immutable segments, per isolate (the coordinator's, which in `wrangler dev` is every one). */
let cache: PartialCache | null = null;
function partialCache(cfg: QueryConfig): PartialCache {
  cache ??= new PartialCache(cfg.cacheBytes);
  return cache;
}

/** Forgets cached partials (tests measure cold scans). */
export function forgetPartials(): void {
  cache = null;
}

/**
 * How much each scan may answer: a quarter of the state budget (at most that many bytes of partials
 * are alive at once per answer, since each is merged and dropped as it arrives), and never more
 * than the budget shared out when there are fewer than four scans.
 */
const scanLimits = (cfg: QueryConfig, scans: number, top: boolean): ScanLimits =>
  top
    ? // Each scan holds its shards' groups in its own memory and answers only the top few.
      { maxGroups: cfg.maxGroups, maxStateBytes: cfg.maxStateBytes, top }
    : { maxGroups: cfg.maxGroups, maxStateBytes: Math.floor(cfg.maxStateBytes / Math.min(4, Math.max(1, scans))) };

/**
 * Runs `scans` in Scanner objects, one per sub-request, or here in the coordinator, and hands each
 * answer to `take` as soon as it arrives (so answers are merged and dropped one by one rather than
 * all held at once).
 */
async function fanOut(
  env: Env,
  tenant: Tenant,
  spec: QuerySpec,
  scans: SegmentScan[][],
  cfg: QueryConfig,
  top: boolean,
  take: (reply: ScanReply) => void,
): Promise<void> {
  const limits = scanLimits(cfg, scans.length, top);
  if (cfg.fanOut === 'inline') {
    for (const s of scans) take(await scanSegments(env, tenant.id, spec, s, limits));
    return;
  }
  await Promise.all(
    scans.map((s, slot) =>
      env.SCANNER.get(env.SCANNER.idFromName(`${tenant.id}#${slot}`))
        .scan(tenant.id, spec, s, limits)
        .then(take),
    ),
  );
}

/**
 * Events of each shard past what the catalog snapshot holds for it, read from the shard objects:
 * the hot tail a `strong` query adds. The cut is the snapshot's last seq per shard, not the shard's
 * green mark, so an event registered after the snapshot is read here and nowhere else.
 */
async function hotTail(env: Env, tenant: Tenant, snapshot: readonly CatalogSegment[], spec: QuerySpec, cfg: QueryConfig) {
  const covered = Array.from({ length: tenant.shardCount }, () => 0);
  for (const s of snapshot) covered[s.shard] = Math.max(covered[s.shard] ?? 0, s.lastSeq);
  const builder = new PartialBuilder(spec, { maxGroups: cfg.maxGroups });
  let rows = 0;
  await Promise.all(
    covered.map(async (after, shard) => {
      const stub = shardStub(env, tenant.id, shard);
      for (;;) {
        const slice = await stub.globalSlice(after, 5000);
        const found: MasterRow[] = [];
        if (slice.cold) {
          // Evicted past the snapshot: only when the catalog snapshot is older than the hot window.
          const seqs = Array.from({ length: slice.cold.lastSeq - slice.cold.firstSeq + 1 }, (_, i) => slice.cold!.firstSeq + i);
          const cold = await readCold(env, tenant.id, shard, seqs);
          for (const seq of seqs) found.push(cold.get(seq)!);
        }
        found.push(...slice.rows);
        if (found.length === 0) break;
        rows += found.length;
        if (rows > cfg.maxHotRows) {
          throw tooLarge(
            'hotRows',
            `more than ${cfg.maxHotRows} events are not yet green (QUERY_MAX_HOT_ROWS); ask with consistency "eventual", or again once the pipeline caught up`,
            { max: cfg.maxHotRows },
          );
        }
        scanRows(
          spec,
          found.map((r) => ({ ...r, shard })),
          builder,
        );
        after = found[found.length - 1]!.seq;
        if (after >= slice.headSeq) break;
      }
    }),
  );
  return { partial: builder.toPartial(), rows };
}

/** Races `work` with the query's time limit. */
async function withTimeLimit<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          tooLarge(
            'time',
            `the query took longer than ${ms} ms; narrow it (a time range in WHERE prunes segments) or run it with POST /v1/queries`,
            {
              max: ms,
            },
          ),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

export interface QueryInput {
  sql: string;
  consistency?: Consistency;
  explain?: boolean;
}

/** Plans, scans, merges and finishes one query of `tenant`. */
export async function runQuery(env: Env, tenant: Tenant, input: QueryInput, timeoutMs?: number): Promise<QueryAnswer> {
  const started = Date.now();
  const cfg = config(env).query;
  const spec = compile(input.sql);
  const consistency = input.consistency ?? 'eventual';
  return withTimeLimit(
    (async () => {
      const snapshot = await liveSegments(env, tenant.id, { kind: 'replica' });
      const plan = planQuery(spec, snapshot, {
        maxSegmentsPerScan: cfg.segmentsPerScan,
        maxSubrequests: cfg.maxSubrequests,
        groupsByShard: consistency === 'eventual',
      });
      const planned = plan.tasks.reduce((n, t) => n + t.estimatedBytes, 0);
      if (planned > cfg.maxBytes) {
        throw tooLarge(
          'bytes',
          `the query would read ${planned} bytes of segments, over QUERY_MAX_BYTES (${cfg.maxBytes}); narrow it with a time range (WHERE time >= …) or a filter on type or stream, which prune segments`,
          { max: cfg.maxBytes, planned },
        );
      }
      const shape = fingerprint(spec);
      // Scans that answer only their top groups (plan.topInScans) make partials of whole shards
      // for this ORDER BY and LIMIT: cached only whole, under a shape that says so.
      const top = plan.topInScans;
      const wholeShape = top ? `${shape}|top ${fingerprintTop(spec)}` : shape;
      const layouts = new Map(snapshot.flatMap((s) => (s.stats.layout ? [[s.key, s.stats.layout] as const] : [])));
      const cached = partialCache(cfg);
      const merging = new PartialBuilder(spec, { maxGroups: cfg.maxGroups });
      let absorbed = 0;
      const absorb = (p: Partial) => {
        try {
          merging.absorb(p);
        } catch (error) {
          if (error instanceof QueryLimitError) throw limitProblem(error.limit, error.max);
          throw error;
        }
        if (++absorbed % 8 === 0 && merging.stateSize() > cfg.maxStateBytes) throw limitProblem('memory', cfg.maxStateBytes);
      };
      // The merged partial of the whole plan is cached too, under the exact set of segments it read:
      // a query repeated over an unchanged catalog merges one partial instead of one per segment.
      const keys = [...plan.counted.map((c) => c.key), ...plan.tasks.flatMap((t) => t.segments.map((seg) => seg.key))];
      const wholeKey = `${tenant.id}|${wholeShape}|${keys.sort().join(' ')}`;
      const whole = cached.get(wholeKey);
      let hits = 0;
      let bytesRead = 0;
      const scans: SegmentScan[][] = [];
      if (whole) {
        absorb(whole);
        hits = plan.segmentsScanned;
      } else {
        for (const c of plan.counted) absorb(countedPartial(spec, c.rows));
        for (const task of plan.tasks) {
          const todo: SegmentScan[] = [];
          for (const seg of task.segments) {
            const hit = top ? undefined : cached.get(`${tenant.id}|${seg.key}|${shape}`);
            if (hit) {
              hits += 1;
              absorb(hit);
            } else {
              const layout = layouts.get(seg.key);
              const parts = layout ? layoutRanges(layout, seg.columns, seg.rowGroups, cfg.rangeGapBytes) : null;
              todo.push({
                key: seg.key,
                columns: seg.columns,
                rowGroups: seg.rowGroups,
                ranges: layout && parts ? { size: layout.size, parts } : null,
              });
            }
          }
          if (todo.length > 0) scans.push(todo);
        }
        await fanOut(env, tenant, spec, scans, cfg, top, (reply) => {
          if (!reply.ok) throw limitProblem(reply.limit, reply.max);
          bytesRead += reply.bytesRead;
          for (const p of reply.partials) {
            if (!top) cached.set(`${tenant.id}|${p.key}|${shape}`, p.partial, p.bytes);
            absorb(p.partial);
          }
        });
        // toPartial() copies every state, so the builder may go on to absorb the hot tail and finish.
        const size = merging.stateSize() + wholeKey.length;
        if (keys.length > 1 && size <= cfg.cacheBytes / 4) cached.set(wholeKey, merging.toPartial(), size);
      }
      let hotRows = 0;
      if (consistency === 'strong') {
        const hot = await hotTail(env, tenant, snapshot, spec, cfg);
        absorb(hot.partial);
        hotRows = hot.rows;
      }
      const merged = merging.counters;
      const result = finish(spec, merging);
      const answer: QueryAnswer = {
        ...result,
        consistency,
        stats: {
          segmentsTotal: plan.segmentsTotal,
          segmentsPruned: plan.segmentsTotal - plan.segmentsScanned - plan.counted.length,
          segmentsScanned: plan.segmentsScanned,
          segmentsCounted: plan.counted.length,
          rowGroupsPruned: plan.rowGroupsPruned,
          rowsScanned: merged.rowsScanned,
          rowsMatched: merged.rowsMatched,
          bytesRead,
          subrequests: cfg.fanOut === 'inline' ? 0 : scans.length,
          cache: { hits, misses: scans.reduce((n, s) => n + s.length, 0) },
          hotRows,
          elapsedMs: Date.now() - started,
        },
      };
      if (input.explain) answer.plan = plan;
      return answer;
    })(),
    timeoutMs ?? cfg.timeoutMs,
  );
}

// ---------------------------------------------------------------------------------------------
// Async queries: yellow (accepted, running) → orange (answered), or failed

export interface StoredQuery {
  id: string;
  status: 'yellow' | 'orange' | 'failed';
  sql: string;
  consistency: Consistency;
  createdAt: string;
  finishedAt: string | null;
  expiresAt: string | null;
  result?: QueryAnswer;
  error?: Record<string, unknown>;
}

interface QueryRow {
  id: string;
  tenant: string;
  sql: string;
  consistency: Consistency;
  status: StoredQuery['status'];
  created_at: number;
  finished_at: number | null;
  expires_at: number | null;
  error: string | null;
}

const resultKey = (tenant: string, id: string) => `queries/tenant=${encodeURIComponent(tenant)}/${id}.json`;

/** The maintain queue's job: runs a stored query once (a redelivery of a finished one does nothing). */
export async function runStoredQuery(env: Env, tenant: Tenant, id: string): Promise<void> {
  const row = await env.CATALOG.prepare('SELECT * FROM queries WHERE id = ? AND tenant = ?').bind(id, tenant.id).first<QueryRow>();
  if (!row || row.status !== 'yellow') return;
  const cfg = config(env).query;
  let outcome: { status: 'orange'; answer: QueryAnswer } | { status: 'failed'; error: Record<string, unknown> };
  try {
    outcome = { status: 'orange', answer: await runQuery(env, tenant, { sql: row.sql, consistency: row.consistency }, cfg.asyncTimeoutMs) };
  } catch (error) {
    // A problem the caller can act on is the query's answer; anything else is retried by the queue.
    if (!(error instanceof ProblemError)) throw error;
    outcome = { status: 'failed', error: error.toDocument() as unknown as Record<string, unknown> };
  }
  const now = Date.now();
  if (outcome.status === 'orange') await env.SEGMENTS.put(resultKey(tenant.id, id), JSON.stringify(outcome.answer));
  await env.CATALOG.prepare(
    `UPDATE queries SET status = ?, finished_at = ?, expires_at = ?, error = ? WHERE id = ? AND tenant = ? AND status = 'yellow'`,
  )
    .bind(outcome.status, now, now + cfg.resultTtlMs, outcome.status === 'failed' ? JSON.stringify(outcome.error) : null, id, tenant.id)
    .run();
}

async function storedQuery(env: Env, tenant: Tenant, id: string): Promise<StoredQuery> {
  const row = await env.CATALOG.prepare('SELECT * FROM queries WHERE id = ? AND tenant = ?').bind(id, tenant.id).first<QueryRow>();
  const gone = () =>
    new ProblemError(
      404,
      'not-found',
      `no query "${id.slice(0, 64)}" in this tenant (results are kept for QUERY_RESULT_TTL_MS); run it again`,
    );
  if (!row || (row.expires_at !== null && row.expires_at < Date.now())) throw gone();
  const view: StoredQuery = {
    id: row.id,
    status: row.status,
    sql: row.sql,
    consistency: row.consistency,
    createdAt: new Date(row.created_at).toISOString(),
    finishedAt: row.finished_at === null ? null : new Date(row.finished_at).toISOString(),
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at).toISOString(),
  };
  if (row.status === 'orange') {
    const object = await env.SEGMENTS.get(resultKey(tenant.id, id));
    if (!object) throw gone();
    view.result = JSON.parse(await object.text()) as QueryAnswer;
  }
  if (row.status === 'failed' && row.error) view.error = JSON.parse(row.error) as Record<string, unknown>;
  return view;
}

// ---------------------------------------------------------------------------------------------
// Routes

const queryInput = z
  .object({
    sql: z.string().min(1).max(16_384).describe('SELECT … FROM events …; see the README for the supported SQL'),
    consistency: z
      .enum(['eventual', 'strong'])
      .default('eventual')
      .describe('eventual: green events only (the Parquet replica); strong: also the events not yet green, from the shards'),
    explain: z.boolean().optional().describe('Add the plan: segments kept and pruned (and why), columns, row groups, sub-requests'),
  })
  .strict()
  .meta({ id: 'Query' });

const statsSchema = z
  .object({
    segmentsTotal: z.number().int(),
    segmentsPruned: z.number().int(),
    segmentsScanned: z.number().int(),
    segmentsCounted: z
      .number()
      .int()
      .describe('Segments counted from the catalog without reading: every row matches a query that only counts'),
    rowGroupsPruned: z.number().int(),
    rowsScanned: z.number().int(),
    rowsMatched: z.number().int(),
    bytesRead: z.number().int(),
    subrequests: z.number().int(),
    cache: z.object({ hits: z.number().int(), misses: z.number().int() }).describe('Per-segment partial results reused / computed'),
    hotRows: z.number().int(),
    elapsedMs: z.number(),
  })
  .meta({ id: 'QueryStats' });

const answerSchema = z
  .object({
    columns: z.array(z.object({ name: z.string(), type: z.string() })),
    rows: z.array(z.array(z.unknown())),
    consistency: z.enum(['eventual', 'strong']),
    stats: statsSchema,
    plan: z.unknown().optional(),
  })
  .meta({ id: 'QueryAnswer' });

const storedSchema = z
  .object({
    id: z.string(),
    status: z.enum(['yellow', 'orange', 'failed']).describe('yellow: accepted or running; orange: answered; failed: see error'),
    sql: z.string(),
    consistency: z.enum(['eventual', 'strong']),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
    expiresAt: z.string().nullable(),
    result: answerSchema.optional(),
    error: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'StoredQuery' });

export const queryApp = new OpenAPIHono<App>({ defaultHook: refuseInvalid });
queryApp.use('/v1/query', requireScope('query'));
queryApp.use('/v1/queries', requireScope('query'));
queryApp.use('/v1/queries/*', requireScope('query'));

queryApp.openapi(
  createRoute({
    method: 'post',
    path: '/v1/query',
    tags: ['query'],
    summary: 'Runs a SQL aggregation over the events and answers it',
    description:
      'The table is `events(id, stream, type, source, subject, time, received_at, shard, seq, version, data)`; `data.a.b` reaches into the data. Segments are pruned with the catalog, scans fan out to sub-requests, partial aggregates are merged. `stats` says what was read.',
    request: { body: { content: { 'application/json': { schema: queryInput } }, required: true } },
    responses: {
      200: json(answerSchema, 'The answer'),
      ...problemResponses(400, 401, 403, 422),
    },
  }),
  async (c) => {
    const answer = await runQuery(c.env, tenantOf(c), c.req.valid('json'));
    c.header('cache-control', 'private, no-store');
    return c.json(answer, 200);
  },
);

queryApp.openapi(
  createRoute({
    method: 'post',
    path: '/v1/queries',
    tags: ['query'],
    summary: 'Starts a query in the background (yellow); fetch it with GET /v1/queries/{id} (orange when answered)',
    request: { body: { content: { 'application/json': { schema: queryInput.omit({ explain: true }) } }, required: true } },
    responses: {
      202: json(storedSchema, 'Accepted'),
      ...problemResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const tenant = tenantOf(c);
    const { sql, consistency } = c.req.valid('json');
    compile(sql); // a query that cannot run is refused now, not later
    const id = crypto.randomUUID();
    const now = Date.now();
    await c.env.CATALOG.prepare(`INSERT INTO queries (id, tenant, sql, consistency, status, created_at) VALUES (?, ?, ?, ?, 'yellow', ?)`)
      .bind(id, tenant.id, sql, consistency, now)
      .run();
    await c.env.MAINTAIN_QUEUE.send({ op: 'query', tenant: tenant.id, id });
    c.header('location', `/v1/queries/${id}`);
    return c.json(
      { id, status: 'yellow' as const, sql, consistency, createdAt: new Date(now).toISOString(), finishedAt: null, expiresAt: null },
      202,
    );
  },
);

queryApp.openapi(
  createRoute({
    method: 'get',
    path: '/v1/queries/{id}',
    tags: ['query'],
    summary: 'A background query: yellow while running, orange with its result, or failed with the problem',
    request: { params: z.object({ id: z.string().min(1).max(64) }) },
    responses: {
      200: json(storedSchema, 'The query'),
      ...problemResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const view = await storedQuery(c.env, tenantOf(c), c.req.valid('param').id);
    c.header('cache-control', view.status === 'yellow' ? 'private, no-cache' : 'private, max-age=60');
    return c.json(view, 200);
  },
);
