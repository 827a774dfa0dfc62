// The planner: plans as data (what prunes what, which columns and row groups, how the scan splits),
// and the property that matters most: pruning never drops a segment or row group that holds a row
// matching the WHERE clause.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeParquet, initParquet, type ColumnStats, type ReplicaRow, type ShreddedColumn } from '../../src/engine/parquet.js';
import type { Expr, QuerySpec } from '../../src/engine/query/ast.js';
import { batchFromRows, Evaluator } from '../../src/engine/query/expr.js';
import {
  constraintsOf,
  planQuery,
  splitTasks,
  type PlannedSegment,
  type PlanSegment,
  type RowGroupStats,
} from '../../src/engine/query/plan.js';
import {
  a,
  agg,
  and,
  between,
  bin,
  col,
  generate,
  inList,
  isNull,
  like,
  lit,
  not,
  or,
  path,
  planSegmentOf,
  spec,
  STREAMS,
  trunc,
  ts,
  TYPES,
} from './query-fixtures.js';

initParquet(readFileSync(new URL('../../node_modules/parquet-wasm/esm/parquet_wasm_bg.wasm', import.meta.url)));

const count = (where: Expr | null, paths: Expr[] = []) =>
  spec({
    outputs: [{ name: 'n', expr: a(0), type: 'integer' }],
    where,
    aggregates: [agg('count', null), ...paths.map((p) => agg('sum', p))],
  });

const stats = (min: ColumnStats['min'], max: ColumnStats['max'], nulls = 0): ColumnStats => ({ min, max, nulls });

function segment(
  key: string,
  over: Partial<PlanSegment> & { columns?: Record<string, ColumnStats>; shredded?: ShreddedColumn[]; rowGroupStats?: RowGroupStats[] },
): PlanSegment {
  return {
    key,
    kind: 'replica',
    shard: over.shard ?? 0,
    date: '2026-11-01',
    firstSeq: over.firstSeq ?? 1,
    lastSeq: over.lastSeq ?? 100,
    minTime: over.minTime ?? Date.parse('2026-11-01T00:00:00Z'),
    maxTime: over.maxTime ?? Date.parse('2026-11-01T23:59:59Z'),
    rows: over.rows ?? 100,
    bytes: over.bytes ?? 10_000,
    stats: {
      columns: over.columns ?? {},
      ...(over.shredded ? { shredded: over.shredded } : {}),
      ...(over.rowGroupStats ? { rowGroupStats: over.rowGroupStats } : {}),
    },
  };
}

describe('planQuery, as data', () => {
  const day = (d: number) => ({
    minTime: Date.parse(`2026-11-0${d}T00:00:00Z`),
    maxTime: Date.parse(`2026-11-0${d}T23:59:59Z`),
  });
  const segs: PlanSegment[] = [
    segment('s1', { ...day(1), shard: 1, columns: { type: stats('member.joined', 'post.liked'), source: stats(null, null, 100) } }),
    segment('s2', {
      ...day(2),
      shard: 2,
      columns: { type: stats('post.created', 'post.created'), source: stats('https://github.com', 'https://github.com') },
      shredded: [{ name: 'data.likes', path: ['likes'], type: 'double' }],
    }),
    segment('s3', {
      ...day(3),
      shard: 1,
      rows: 300,
      bytes: 30_000,
      columns: { type: stats('post.liked', 'post.liked'), 'data.likes': stats(10, 20, 0) },
      shredded: [{ name: 'data.likes', path: ['likes'], type: 'double' }],
      rowGroupStats: [
        {
          rows: 100,
          stats: { time: stats(Date.parse('2026-11-03T00:00:00Z'), Date.parse('2026-11-03T07:59:59Z')), 'data.likes': stats(10, 12) },
        },
        {
          rows: 100,
          stats: { time: stats(Date.parse('2026-11-03T08:00:00Z'), Date.parse('2026-11-03T15:59:59Z')), 'data.likes': stats(13, 15) },
        },
        {
          rows: 100,
          stats: { time: stats(Date.parse('2026-11-03T16:00:00Z'), Date.parse('2026-11-03T23:59:59Z')), 'data.likes': stats(16, 20) },
        },
      ],
    }),
    { ...segment('m1', {}), kind: 'master' },
    segment('e1', { rows: 0 }),
  ];

  it('prunes by time, keeps row groups by their stats, reads shredded columns where they exist', () => {
    const q = count(and(bin('>=', col('time'), ts('2026-11-02T12:00:00Z')), bin('<', col('time'), ts('2026-11-03T09:00:00Z'))), [
      path('likes'),
    ]);
    const plan = planQuery(q, segs, { maxSegmentsPerScan: 10 });
    expect(plan.pruned).toEqual([
      { key: 's1', reason: 'stats', column: 'time' },
      { key: 'm1', reason: 'kind' },
      { key: 'e1', reason: 'empty' },
    ]);
    expect(plan.segmentsTotal).toBe(5);
    expect(plan.segmentsScanned).toBe(2);
    expect(plan.rowGroupsPruned).toBe(1);
    expect(plan.tasks).toHaveLength(1);
    const [s2, s3] = plan.tasks[0]!.segments as [PlannedSegment, PlannedSegment];
    expect(s2).toMatchObject({ key: 's2', columns: ['time', 'data.likes'], pathsFromData: [], rowGroups: null });
    expect(s3).toMatchObject({ key: 's3', columns: ['time', 'data.likes'], rowGroups: [0, 1], estimatedRows: 200, estimatedBytes: 20_000 });
    expect(plan.merge).toEqual({ partials: 1, finish: [] });
    expect(plan.constraints).toEqual({
      time: {
        ranges: [{ lo: Date.parse('2026-11-02T12:00:00Z'), loInc: true, hi: Date.parse('2026-11-03T09:00:00Z'), hiInc: false }],
        nulls: false,
      },
    });
  });

  it('reads a path from data in segments without its shredded column', () => {
    const plan = planQuery(count(null, [path('likes'), path('user.name')]), segs, { maxSegmentsPerScan: 10 });
    const cols = Object.fromEntries(plan.tasks.flatMap((t) => t.segments).map((s) => [s.key, [s.columns, s.pathsFromData]]));
    expect(cols).toEqual({
      s1: [['data'], ['likes', 'user.name']],
      s2: [['data.likes', 'data'], ['user.name']],
      s3: [['data.likes', 'data'], ['user.name']],
    });
  });

  it('prunes by dictionary column ranges, IN lists, IS NULL against null counts, and shredded paths', () => {
    const keys = (where: Expr) => {
      const plan = planQuery(count(where), segs, { maxSegmentsPerScan: 10 });
      return [...plan.tasks.flatMap((t) => t.segments.map((s) => s.key)), ...plan.counted.map((c) => c.key)].sort();
    };
    expect(keys(bin('=', col('type'), lit('post.created')))).toEqual(['s1', 's2']); // within s1's range
    expect(keys(bin('=', col('type'), lit('post.liked')))).toEqual(['s1', 's3']);
    expect(keys(inList(col('type'), ['member.joined', 'post.liked']))).toEqual(['s1', 's3']);
    expect(keys(like(col('type'), 'post.c%'))).toEqual(['s1', 's2']);
    expect(keys(isNull(col('source')))).toEqual(['s1', 's3']); // s3 has no source stats: kept
    expect(keys(isNull(col('source'), true))).toEqual(['s2', 's3']);
    expect(keys(bin('>', path('likes'), lit(18)))).toEqual(['s1', 's2', 's3']); // s1 does not shred likes; s2's has no stats
    expect(keys(bin('>', path('likes'), lit(20)))).toEqual(['s1', 's2']);
    expect(keys(between(path('likes'), lit(100), lit(200)))).toEqual(['s1', 's2']);
    expect(keys(bin('=', col('shard'), lit(2)))).toEqual(['s2']);
    expect(keys(or(bin('=', col('shard'), lit(2)), bin('<', col('time'), ts('2026-11-01T12:00:00Z'))))).toEqual(['s1', 's2', 's3']);
    expect(keys(or(bin('=', col('type'), lit('post.created')), bin('=', col('type'), lit('member.joined'))))).toEqual(['s1', 's2']);
    expect(keys(not(bin('=', col('type'), lit('post.created'))))).toEqual(['s1', 's2', 's3']); // NOT prunes nothing
    expect(keys(bin('=', trunc('day', col('time')), ts('2026-11-01T00:00:00Z')))).toEqual(['s1', 's2', 's3']); // functions neither
    expect(keys(and(bin('=', col('type'), lit('post.created')), bin('=', col('type'), lit('post.liked'))))).toEqual([]);
    expect(keys(lit(false))).toEqual([]);
  });

  it('counts segments from the catalog when the query only counts and every row of them matches', () => {
    const plan = (where: Expr | null, q = count(where)) => {
      const p = planQuery(q, segs, { maxSegmentsPerScan: 10 });
      return { counted: p.counted, read: p.tasks.flatMap((t) => t.segments.map((s) => s.key)), partials: p.merge.partials };
    };
    expect(plan(null)).toEqual({
      counted: [
        { key: 's1', rows: 100 },
        { key: 's2', rows: 100 },
        { key: 's3', rows: 300 },
      ],
      read: [],
      partials: 3,
    });
    expect(plan(bin('=', col('shard'), lit(2))).counted).toEqual([{ key: 's2', rows: 100 }]);
    expect(plan(inList(col('type'), ['post.created', 'post.liked']))).toEqual({
      counted: [
        { key: 's2', rows: 100 },
        { key: 's3', rows: 300 },
      ],
      read: ['s1'], // its types range over others too
      partials: 3,
    });
    // A time range that covers day 2 and cuts day 3 between its row groups: day 3's first two
    // groups are counted (the third is pruned), day 2 whole.
    expect(plan(and(bin('>=', col('time'), ts('2026-11-02T00:00:00Z')), bin('<', col('time'), ts('2026-11-03T16:00:00Z'))))).toEqual({
      counted: [
        { key: 's2', rows: 100 },
        { key: 's3', rows: 200 },
      ],
      read: [],
      partials: 2,
    });
    // Cutting through a row group, or a day without row-group stats, reads it.
    expect(plan(bin('<', col('time'), ts('2026-11-03T12:00:00Z')))).toMatchObject({
      counted: [{ key: 's1' }, { key: 's2' }],
      read: ['s3'],
    });
    expect(plan(bin('<', col('time'), ts('2026-11-02T12:00:00Z')))).toMatchObject({ counted: [{ key: 's1' }], read: ['s2'] });
    // Not decided from statistics: NOT, functions, NULL comparisons, columns with NULLs, paths.
    expect(plan(not(bin('=', col('shard'), lit(5)))).counted).toEqual([]);
    expect(plan(bin('=', trunc('day', col('time')), ts('2026-11-02T00:00:00Z'))).counted).toEqual([]);
    expect(plan(bin('<>', col('shard'), lit(null))).counted).toEqual([]);
    expect(plan(isNull(col('source'), true)).counted).toEqual([{ key: 's2', rows: 100 }]); // s1's are all NULL, s3 has no stats
    expect(plan(isNull(col('source'))).counted).toEqual([{ key: 's1', rows: 100 }]);
    expect(plan(bin('>=', path('likes'), lit(0))).counted).toEqual([]);
    // A query that also sums, or groups, reads every segment it keeps.
    expect(plan(null, count(null, [path('likes')])).counted).toEqual([]);
  });

  it('gives each scan whole shards when it can answer only its top groups (GROUP BY stream or shard, ORDER BY, LIMIT)', () => {
    const many = [0, 1, 2, 3, 4, 5, 6].map((i) => segment(`k${i}`, { shard: i % 3, rows: 100 + i, bytes: 1000 * (i + 1) }));
    const q = (groupBy: Expr[], limit: number | null, orderBy = true) =>
      spec({
        outputs: [{ name: 'n', expr: a(0), type: 'integer' }],
        groupBy,
        aggregates: [agg('count', null)],
        orderBy: orderBy ? [{ expr: a(0), desc: true, nullsFirst: false }] : [],
        limit,
      });
    const plan = planQuery(q([col('stream')], 10), many, { maxSegmentsPerScan: 1, groupsByShard: true });
    expect(plan.topInScans).toBe(true);
    const shardsOf = (t: { segments: PlannedSegment[] }) => [...new Set(t.segments.map((s) => s.shard))];
    expect(plan.tasks.map(shardsOf).sort()).toEqual([[0], [1], [2]]);
    expect(plan.tasks.flatMap((t) => t.segments.map((s) => s.key)).sort()).toEqual(many.map((s) => s.key));
    // Past the sub-request budget, several whole shards per scan.
    const two = planQuery(q([col('shard'), col('type')], 10), many, { maxSegmentsPerScan: 1, maxSubrequests: 2, groupsByShard: true });
    expect(two.tasks).toHaveLength(2);
    expect(two.tasks.map(shardsOf).flat().sort()).toEqual([0, 1, 2]);
    // Not when a group can span shards, nothing is cut, or the caller adds rows after the scans.
    expect(planQuery(q([col('type')], 10), many, { maxSegmentsPerScan: 1, groupsByShard: true }).topInScans).toBe(false);
    expect(planQuery(q([col('stream')], null), many, { maxSegmentsPerScan: 1, groupsByShard: true }).topInScans).toBe(false);
    expect(planQuery(q([col('stream')], 10, false), many, { maxSegmentsPerScan: 1, groupsByShard: true }).topInScans).toBe(false);
    expect(planQuery(q([col('stream')], 10), many, { maxSegmentsPerScan: 1 }).topInScans).toBe(false);
  });

  it('domains: AND intersects, OR unites the columns both sides constrain', () => {
    const c = constraintsOf(or(and(bin('>', col('seq'), lit(5)), bin('=', col('type'), lit('x'))), bin('<', col('seq'), lit(2))));
    expect(c && Object.fromEntries(c)).toEqual({
      seq: {
        ranges: [
          { lo: 5, loInc: false },
          { hi: 2, hiInc: false },
        ],
        nulls: false,
      },
    });
    expect(constraintsOf(bin('=', col('seq'), lit(null)))).toBe(false);
    expect(constraintsOf(inList(col('seq'), [null]))).toBe(false);
  });

  it('splits segments into sub-requests balanced by bytes', () => {
    const mk = (key: string, bytes: number): PlannedSegment => ({
      key,
      shard: 0,
      date: null,
      columns: [],
      pathsFromData: [],
      rowGroups: null,
      rows: bytes,
      bytes,
      estimatedRows: bytes,
      estimatedBytes: bytes,
    });
    const segsIn = [mk('a', 100), mk('b', 90), mk('c', 50), mk('d', 40), mk('e', 10), mk('f', 10)];
    const tasks = splitTasks(segsIn, { maxSegmentsPerScan: 3 });
    expect(tasks.map((t) => [t.segments.map((s) => s.key), t.estimatedBytes])).toEqual([
      [['a', 'd', 'e'], 150],
      [['b', 'c', 'f'], 150],
    ]);
    expect(splitTasks(segsIn, { maxSegmentsPerScan: 100, maxBytesPerScan: 100 })).toHaveLength(3);
    expect(splitTasks(segsIn, { maxSegmentsPerScan: 1, maxSubrequests: 2 })).toHaveLength(2);
    expect(splitTasks([], { maxSegmentsPerScan: 1 })).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The property: pruning keeps every segment and row group that holds a matching row

const RG = 25;

interface Built {
  seg: PlanSegment;
  rows: ReplicaRow[];
}

/** A segment of rows with file stats and per-row-group stats, both from the codec. */
function build(key: string, rows: ReplicaRow[], shred: boolean): Built {
  const enc = encodeParquet(rows, { rowGroupSize: RG, ...(shred ? {} : { shredded: [] }) });
  const rowGroupStats: RowGroupStats[] = [];
  for (let at = 0; at < rows.length; at += RG) {
    const chunk = rows.slice(at, at + RG);
    rowGroupStats.push({ rows: chunk.length, stats: encodeParquet(chunk, { shredded: enc.shredded }).stats });
  }
  return { rows, seg: planSegmentOf(key, rows, enc, rowGroupStats) };
}

/** Rows edited so that some columns are all-null or narrow in some segments. */
function variant(rows: ReplicaRow[], k: number): ReplicaRow[] {
  return rows.map((r, i) => ({
    ...r,
    source: k % 3 === 0 ? null : r.source,
    subject: k % 2 === 0 ? r.subject : `subject-${i % 3}`,
    type: k === 4 ? 'post.liked' : r.type,
  }));
}

const POOL: Built[] = Array.from({ length: 6 }, (_, k) => {
  const rows = variant(generate(60 + 17 * k, 100 + k, k % 3, 1 + k * 1000), k);
  // Shift the days so segments cover different time ranges.
  const shifted = rows.map((r) => ({ ...r, time: r.time + k * 86_400_000 * 0.7, receivedAt: r.receivedAt + k * 86_400_000 * 0.7 }));
  return build(`seg-${k}`, shifted, k !== 2);
});

const allRows = POOL.flatMap((b) => b.rows);
const sample = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const times = allRows.map((r) => r.time);

/** Literal values near those in the data, so that boundaries are hit. */
const literalFor: Record<string, fc.Arbitrary<Expr>> = {
  time: fc
    .oneof(sample(times), fc.integer({ min: Math.min(...times) - 1e7, max: Math.max(...times) + 1e7 }))
    .map((t) => lit(t, 'timestamp')),
  received_at: fc.tuple(sample(allRows.map((r) => r.receivedAt)), fc.integer({ min: -1, max: 1 })).map(([t, d]) => lit(t + d, 'timestamp')),
  seq: fc.oneof(sample(allRows.map((r) => r.seq)), fc.integer({ min: 0, max: 7000 })).map((v) => lit(v)),
  version: fc.integer({ min: 0, max: 40 }).map((v) => lit(v)),
  shard: fc.integer({ min: -1, max: 3 }).map((v) => lit(v)),
  type: sample([...TYPES, 'post', 'post.m', 'a', 'zzz', '']).map((v) => lit(v)),
  stream: sample([...STREAMS, 'post-', 'group', 'post-😀x', 'post-\uffff']).map((v) => lit(v)),
  source: sample(['https://github.com', 'https://slack.com/ä', 'https://a', 'x']).map((v) => lit(v)),
  subject: sample(['subject-0', 'subject-1', 'subject-12', 'subject-2', 'subject-9', 's']).map((v) => lit(v)),
  id: sample(allRows.map((r) => r.id)).map((v) => lit(v)),
  likes: fc.oneof(fc.integer({ min: -5, max: 1005 }), fc.double({ min: -5, max: 1005, noNaN: true })).map((v) => lit(v)),
  score: fc.integer({ min: -1, max: 101 }).map((v) => lit(v)),
  'user.name': sample(['Ada', 'Bea', 'Chen', 'Dara ✓', '😀 Eli', 'B', 'Z']).map((v) => lit(v)),
  'user.verified': fc.boolean().map((v) => lit(v)),
  mixed: fc.oneof(fc.constant(lit(7)), fc.constant(lit('many'))),
};

const target = (name: string): Expr =>
  ['time', 'received_at', 'seq', 'version', 'shard', 'type', 'stream', 'source', 'subject', 'id'].includes(name)
    ? col(name as 'time')
    : path(name);

const atom: fc.Arbitrary<Expr> = fc.constantFrom(...Object.keys(literalFor)).chain((name) => {
  const lv = literalFor[name]!;
  const t = target(name);
  return fc.oneof(
    fc
      .tuple(fc.constantFrom('=', '<>', '<', '<=', '>', '>=' as const), lv, fc.boolean())
      .map(([op, v, flip]) => (flip ? bin(op, v, t) : bin(op, t, v))),
    fc.tuple(lv, lv, fc.boolean()).map(([lo, hi, neg]) => between(t, lo, hi, neg)),
    fc.tuple(fc.array(lv, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean()).map(([vs, withNull, neg]) => ({
      kind: 'in' as const,
      arg: t,
      list: withNull ? [...vs, lit(null)] : vs,
      negated: neg,
      span: { start: 0, end: 0 },
    })),
    fc.boolean().map((neg) => isNull(t, neg)),
    fc
      .tuple(lv, fc.constantFrom('%', '_%', '', '%x'), fc.boolean())
      .map(([v, suffix, ci]) =>
        like(
          t,
          `${typeof (v as { value: unknown }).value === 'string' ? String((v as { value: unknown }).value).slice(0, 3) : 'p'}${suffix}`,
          { ci },
        ),
      ),
  );
});

const where: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atom,
    fc.tuple(tie('e'), tie('e')).map(([x, y]) => and(x, y)),
    fc.tuple(tie('e'), tie('e')).map(([x, y]) => or(x, y)),
    tie('e').map((x) => not(x)),
  ),
})).e;

describe('pruning never drops a matching row, and counting without reading counts only segments where every row matches', () => {
  it('holds for random WHERE clauses over segments with file and row-group statistics', () => {
    const segs = POOL.map((b) => b.seg);
    const seen = { pruned: 0, rowGroupsPruned: 0, matched: 0, counted: 0 };
    fc.assert(
      fc.property(where, (w) => {
        const q: QuerySpec = count(w);
        const plan = planQuery(q, segs, { maxSegmentsPerScan: 2 });
        if (plan.pruned.length > 0) seen.pruned++;
        if (plan.rowGroupsPruned > 0) seen.rowGroupsPruned++;
        const kept = new Map(plan.tasks.flatMap((t) => t.segments).map((s) => [s.key, s]));
        const counted = new Map(plan.counted.map((c) => [c.key, c.rows]));
        if (counted.size > 0) seen.counted++;
        for (const b of POOL) {
          const matching = new Evaluator(batchFromRows(b.rows)).filter(w);
          // A segment counted without reading counts exactly its matching rows (those of the row groups kept).
          if (counted.has(b.seg.key)) {
            expect(counted.get(b.seg.key), `segment ${b.seg.key} counted`).toBe(matching.length);
            continue;
          }
          if (matching.length === 0) continue;
          seen.matched++;
          const p = kept.get(b.seg.key);
          expect(p, `segment ${b.seg.key} holds ${matching.length} matching rows`).toBeDefined();
          if (p!.rowGroups !== null) for (const i of matching) expect(p!.rowGroups).toContain(Math.floor(i / RG));
        }
      }),
      { numRuns: 600 },
    );
    // The property is not vacuous: queries match rows, and pruning happens.
    expect(seen.matched).toBeGreaterThan(600);
    // Not vacuous: about 1 run in 10 prunes a segment or a row group (seen 50–70 of 600; a bound
    // near that made the test fail on an unlucky seed).
    expect(seen.pruned).toBeGreaterThan(20);
    expect(seen.rowGroupsPruned).toBeGreaterThan(20);
    expect(seen.counted).toBeGreaterThan(20);
  });

  it('holds for random rows too', () => {
    const rowArb = fc.record({
      type: sample(TYPES),
      stream: sample(STREAMS),
      source: fc.option(sample(['https://github.com', 'https://slack.com/ä']), { nil: null }),
      likes: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null }),
      name: fc.option(sample(['Ada', 'Bea', 'Chen', 'Dara ✓', '😀 Eli']), { nil: null }),
      dt: fc.integer({ min: 0, max: 5 * 86_400_000 }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(rowArb, { minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 3 }), where, (files, w) => {
        const built = files.map((f, k) =>
          build(
            `f${k}`,
            f.map((r, i) => ({
              seq: k * 100 + i + 1,
              id: `e${k}-${i}`,
              stream: r.stream,
              version: i + 1,
              type: r.type,
              source: r.source,
              subject: null,
              time: Date.UTC(2026, 10, 1) + r.dt,
              receivedAt: Date.UTC(2026, 10, 1) + r.dt,
              data: JSON.stringify({ likes: r.likes, user: { name: r.name } }),
              shard: k,
            })),
            true,
          ),
        );
        const plan = planQuery(
          count(w),
          built.map((b) => b.seg),
          { maxSegmentsPerScan: 1 },
        );
        const kept = new Map(plan.tasks.flatMap((t) => t.segments).map((s) => [s.key, s]));
        const counted = new Map(plan.counted.map((c) => [c.key, c.rows]));
        for (const b of built) {
          const matching = new Evaluator(batchFromRows(b.rows)).filter(w);
          if (counted.has(b.seg.key)) {
            expect(counted.get(b.seg.key)).toBe(matching.length);
            continue;
          }
          if (matching.length === 0) continue;
          const p = kept.get(b.seg.key);
          expect(p).toBeDefined();
          if (p!.rowGroups !== null) for (const i of matching) expect(p!.rowGroups).toContain(Math.floor(i / RG));
        }
      }),
      { numRuns: 40 },
    );
  });
});
