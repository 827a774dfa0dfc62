// Differential property test of the query engine against DuckDB (DESIGN.md §3: "exact aggregates
// must equal DuckDB's answer on the same Parquet files").
//
// fast-check generates data sets (1–6 replica segments, each its own Parquet file, some with small
// row groups, some with nothing shredded) and SQL queries over the grammar. Each query runs the way
// the Worker runs it: parseSelect → analyse → planQuery (catalog-like segment rows with the encoder's
// statistics and per-row-group statistics) → scanParquet per planned task/segment → partials as JSON,
// merged in a random tree and order → finish. DuckDB runs `toSql(spec, { dialect: 'duckdb' })` over
// the same files. Exact aggregates and keys must be equal; double sums and averages within DuckDB's
// own rounding error (aggregates.ts: DuckDB sums doubles naively); approx_count_distinct against the
// exact count(DISTINCT) (exact up to 1,536 distinct values, else within 3σ); approx_quantile by rank
// (between DuckDB's quantile_disc at q ∓ 1.65 %).
//
// Beside DuckDB, per query: the plan with pruning, the same segments read whole (no pruning), every
// row group as its own partial merged in two random trees, and the hot-row adapter must all give the
// same exact answers (bit-identical: partial merges are associative and commutative).
//
// Where our documented semantics intentionally differ from what DuckDB can be told in its dialect,
// the generators avoid it (each place says why):
// - `data` values are type-tagged (1 and '1' differ); DuckDB sees a path as VARCHAR text outside a
//   typed context. Generated strings never look like numbers, booleans or JSON, so the text is a
//   faithful rendering and grouping agrees.
// - ORDER BY a `data` path orders by type then value (false < true < numbers < strings); DuckDB
//   orders the VARCHAR text. Such orders are only compared as multisets (no LIMIT).
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeParquet, EVENT_COLUMNS, initParquet, type EncodedParquet, type ReplicaRow } from '../../src/engine/parquet.js';
import { HLL_SPARSE_MAX, HLL_STD_ERROR, KLL_RANK_ERROR } from '../../src/engine/query/aggregates.js';
import { analyse } from '../../src/engine/query/analyse.js';
import type { QuerySpec, Scalar } from '../../src/engine/query/ast.js';
import {
  countedPartial,
  emptyPartial,
  finish,
  mergePartials,
  PartialBuilder,
  scanParquet,
  scanRows,
  type Partial,
  type QueryResult,
} from '../../src/engine/query/execute.js';
import { planQuery, type PlanSegment, type RowGroupStats } from '../../src/engine/query/plan.js';
import { toSql } from '../../src/engine/query/print.js';
import { formatSqlError, parseSelect } from '../../src/engine/query/sql.js';
import { SqlError } from '../../src/engine/query/ast.js';
import { generate, planSegmentOf, rng } from './query-fixtures.js';

initParquet(readFileSync(new URL('../../node_modules/parquet-wasm/esm/parquet_wasm_bg.wasm', import.meta.url)));

// ---------------------------------------------------------------------------------------------
// Data sets

// Code unit order and code point order disagree on 'Ａ' (U+FF21) and '😀'; 'S-1' sorts before 's-1'.
const STREAMS = ['s-1', 's-2', 's-Ａ', 's-😀', 'g-чат', 'S-1'];
const TYPES = ['a.created', 'a.liked', 'B.x', 'ünï.✓', 'a_b%'];
const SOURCES = ['https://github.com', 'https://slack.com/ä', 'x'];
const SUBJECTS = ['sub-1', 'sub-2', 'Sub-😀'];
// Never numeric-, boolean- or JSON-looking (see the header); non-BMP, LIKE metacharacters, a quote.
const STRINGS = ['alpha', 'Beta', 'gamma 😀', 'δέλτα', 'a%b', 'a_b', '', 'zz', '𝔘nicode', "x'q"];

const DAY = 86_400_000;
/** Boundaries: a leap day, the last ms of a year, a new year, a Monday, a month end, before 1970. */
const ANCHORS = [
  Date.UTC(2024, 1, 29),
  Date.UTC(2025, 11, 31, 23, 59, 59, 999),
  Date.UTC(2026, 0, 1),
  Date.UTC(2026, 10, 2),
  Date.UTC(2026, 2, 31, 12),
  Date.UTC(1969, 11, 31, 23, 59, 59, 999),
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const absent = fc.constant(undefined);
const jsonData = fc.record(
  {
    n: fc.oneof({ arbitrary: fc.integer({ min: -1000, max: 1000 }), weight: 6 }, { arbitrary: absent, weight: 2 }, fc.constant(null)),
    // Fractions: eighths are exact in binary (sums exact), hundredths are not.
    f: fc.oneof(
      fc.integer({ min: -8000, max: 8000 }).map((k) => k / 8),
      fc.integer({ min: -100_000, max: 100_000 }).map((k) => k / 100),
      absent,
    ),
    s: fc.oneof({ arbitrary: fc.constantFrom(...STRINGS), weight: 3 }, absent),
    b: fc.oneof(fc.boolean(), absent, fc.constant(null)),
    u: fc.oneof(
      absent,
      fc.record(
        { name: fc.oneof(fc.constantFrom(...STRINGS), absent), age: fc.oneof(fc.integer({ min: 0, max: 120 }), absent) },
        { requiredKeys: [] },
      ),
    ),
    m: fc.oneof(
      fc.integer({ min: -5, max: 5 }),
      fc.constantFrom(...STRINGS),
      fc.boolean(),
      fc.constant(null),
      absent,
      fc.constant({ x: 1 }),
    ),
  },
  { requiredKeys: [] },
);

const rowSeed = fc.record({
  stream: fc.constantFrom(...STREAMS),
  type: fc.constantFrom(...TYPES),
  source: fc.oneof(fc.constant(null), fc.constantFrom(...SOURCES)),
  subject: fc.oneof({ arbitrary: fc.constant(null), weight: 2 }, fc.constantFrom(...SUBJECTS)),
  anchor: fc.constantFrom(...ANCHORS),
  offset: fc.oneof(fc.constantFrom(0, 1, -1, 999, 1000, -1000, 3_600_000), fc.integer({ min: -3 * DAY, max: 3 * DAY })),
  lag: fc.integer({ min: 0, max: 5000 }),
  data: jsonData,
});

const dataSetArb = fc.array(
  fc.record({
    rows: fc.array(rowSeed, { minLength: 1, maxLength: 80, size: 'max' }),
    rowGroupSize: fc.constantFrom(3, 8, 25, 10_000),
    noShred: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, fc.constant(true)),
  }),
  { minLength: 1, maxLength: 6, size: 'max' },
);
type DataSetSeeds = typeof dataSetArb extends fc.Arbitrary<infer T> ? T : never;

interface Segment {
  key: string;
  rows: ReplicaRow[];
  encoded: EncodedParquet;
  file: string;
  rowGroupStats: RowGroupStats[];
}

interface DataSet {
  segments: Segment[];
  all: ReplicaRow[];
  /** Σ|data.f| and how many numeric data.f: bounds DuckDB's naive double sum for any group. */
  fAbs: number;
  fCount: number;
}

let dir: string;
/** Data sets (each with 1–6 queries): ~0.2 s each; QUERY_DIFF_RUNS=1000 for a longer hunt. */
const RUNS = Number(process.env.QUERY_DIFF_RUNS ?? 120);
let fileCounter = 0;

function buildDataSet(seeds: DataSetSeeds): DataSet {
  const segments: Segment[] = [];
  const all: ReplicaRow[] = [];
  const versions = new Map<string, number>();
  let seq = 1;
  seeds.forEach((s, k) => {
    const shard = k + 1;
    const rows: ReplicaRow[] = s.rows.map((r, i) => {
      const version = (versions.get(r.stream) ?? 0) + 1;
      versions.set(r.stream, version);
      const time = r.anchor + r.offset;
      return {
        seq: seq++,
        id: `evt-${shard}-${String(i).padStart(3, '0')}`,
        stream: r.stream,
        version,
        type: r.type,
        source: r.source,
        subject: r.subject,
        time,
        receivedAt: time + r.lag,
        data: JSON.stringify(r.data),
        shard,
      };
    });
    const encoded = encodeParquet(rows, { rowGroupSize: s.rowGroupSize, ...(s.noShred ? { shredded: [] } : {}) });
    const rowGroupStats: RowGroupStats[] = [];
    if (encoded.rowGroups > 1) {
      for (let at = 0; at < rows.length; at += s.rowGroupSize) {
        const slice = rows.slice(at, at + s.rowGroupSize);
        rowGroupStats.push({ rows: slice.length, stats: encodeParquet(slice, { shredded: encoded.shredded }).stats });
      }
    }
    const file = `${dir}/seg-${fileCounter++}.parquet`;
    writeFileSync(file, encoded.bytes);
    segments.push({ key: `replica/shard=${shard}/${file}`, rows, encoded, file, rowGroupStats });
    all.push(...rows);
  });
  let fAbs = 0;
  let fCount = 0;
  for (const r of all) {
    const f = (JSON.parse(r.data) as { f?: Json }).f;
    if (typeof f === 'number') {
      fAbs += Math.abs(f);
      fCount++;
    }
  }
  return { segments, all, fAbs, fCount };
}

function planSegments(ds: DataSet, withRowGroupStats: boolean): PlanSegment[] {
  return ds.segments.map((s) => planSegmentOf(s.key, s.rows, s.encoded, withRowGroupStats ? s.rowGroupStats : undefined));
}

// ---------------------------------------------------------------------------------------------
// Queries

/** How an output column is compared with DuckDB's. */
type Check =
  | 'exact'
  /** A sum of doubles that are not all exact in binary: within DuckDB's naive-sum rounding error. */
  | 'dsum'
  | 'avg'
  | 'acd'
  | 'quantile';

interface Query {
  sql: string;
  aggregated: boolean;
  /** Outputs [0, keys) are the group keys (aggregated queries). */
  keys: number;
  checks: Check[];
  /** Compare in order (the ORDER BY is total); else as multisets. */
  ordered: boolean;
}

const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
const iso = (ms: number) => new Date(ms).toISOString();
const tsText = (ms: number) => iso(ms).replace('T', ' ').replace('Z', '');

interface Item {
  sql: string;
  /** A `data` path value (typed per row; DuckDB sees VARCHAR). */
  json: boolean;
}
const item = (sql: string, json = false): Item => ({ sql, json });

const KEYS: Item[] = [
  item('stream'),
  item('type'),
  item('source'),
  item('subject'),
  item('shard'),
  item('version'),
  item("date_trunc('day', time)"),
  item("date_trunc('hour', time)"),
  item("date_trunc('week', time)"),
  item("date_trunc('month', time)"),
  item("date_trunc('quarter', time)"),
  item("date_trunc('year', received_at)"),
  item("date_trunc('minute', received_at)"),
  item('lower(stream)'),
  item('upper(type)'),
  item("coalesce(source, 'none')"),
  item('coalesce(subject, stream)'),
  item('data.s', true),
  item('data.u.name', true),
  item('data.b', true),
  item('data.n', true),
  item('data.m', true),
  item('data.u', true),
  item('data.f', true),
  item('seq % 3'),
  item('version / 2'),
  item('CAST(version / 2 AS integer)'),
  item('round(data.f)'),
  item('round(CAST(data.f AS double), 1)'),
  item('abs(data.n)'),
  item('length(data.s)'),
  item("CASE WHEN data.n > 0 THEN 'pos' WHEN data.n < 0 THEN 'neg' END"),
  item("data.s || '!'"),
  item('CAST(version AS varchar)'),
  item('CAST(time AS varchar)'),
  item("json_extract(data, '$.u.name')", true),
  item('version / (seq % 3)'),
  item('data.b = true'),
];

const COUNTABLE = [
  'stream',
  'source',
  'subject',
  'time',
  'version',
  'data.n',
  'data.s',
  'data.b',
  'data.m',
  'data.u',
  'data.u.name',
  'data.f',
];
/** Numbers whose sums are exact (integers). */
const INT_NUMS = ['version', 'seq', 'data.n', 'data.u.age', 'shard'];
// min/max of a data path order across types (false < true < numbers < strings), which the DuckDB
// dialect prints per kind.
const ORDERABLE = [
  'stream',
  'type',
  'source',
  'subject',
  'time',
  'received_at',
  'version',
  'seq',
  'id',
  'data.s',
  'data.u.name',
  'data.n',
  'data.f',
  'data.b',
  'data.m',
  'data.u',
];
const NUMERIC_MINMAX = ['data.n', 'data.f', 'data.u.age'];

const aggArb: fc.Arbitrary<{ sql: string; check: Check }> = fc.oneof(
  fc.constant({ sql: 'count(*)', check: 'exact' as Check }),
  fc.constantFrom(...COUNTABLE).map((x) => ({ sql: `count(${x})`, check: 'exact' as Check })),
  fc.constantFrom(...COUNTABLE, 'type', 'id').map((x) => ({ sql: `count(DISTINCT ${x})`, check: 'exact' as Check })),
  fc.constantFrom(...INT_NUMS).map((x) => ({ sql: `sum(${x})`, check: 'exact' as Check })),
  fc.constant({ sql: 'sum(data.f)', check: 'dsum' as Check }),
  fc.constantFrom(...INT_NUMS, 'data.f').map((x) => ({ sql: `avg(${x})`, check: 'avg' as Check })),
  fc.tuple(fc.constantFrom('min', 'max'), fc.constantFrom(...ORDERABLE)).map(([f, x]) => ({ sql: `${f}(${x})`, check: 'exact' as Check })),
  fc
    .tuple(fc.constantFrom('min', 'max'), fc.constantFrom(...NUMERIC_MINMAX))
    .map(([f, x]) => ({ sql: `${f}(CAST(${x} AS double))`, check: 'exact' as Check })),
  fc.constantFrom(...COUNTABLE, 'id').map((x) => ({ sql: `approx_count_distinct(${x})`, check: 'acd' as Check })),
  fc
    .tuple(fc.constantFrom('version', 'seq', 'time', 'received_at', 'data.n', 'data.f'), fc.constantFrom(0, 0.1, 0.25, 0.5, 0.9, 0.99, 1))
    .map(([x, p]) => ({ sql: `approx_quantile(${x}, ${p})`, check: 'quantile' as Check })),
  // Expressions inside aggregates (only count takes DISTINCT: sql.ts refuses the other forms).
  fc
    .constantFrom(
      'sum(version * 2 - seq)',
      'sum(CAST(version / 2 AS integer))',
      'sum(CASE WHEN data.b THEN 1 ELSE 0 END)',
      'count(DISTINCT lower(stream))',
      'max(version % 3)',
      'sum(abs(data.n))',
      'max(version / (seq % 3))',
      'min(version / (seq % 3))',
      'count(version / (seq % 3))',
      'max(data.s || type)',
      'min(CAST(time AS varchar))',
      "max(date_trunc('month', time))",
      'sum(length(stream))',
      "count(DISTINCT date_trunc('day', time))",
      'count(CASE WHEN data.n > 0 THEN 1 END)',
    )
    .map((x) => ({ sql: x, check: 'exact' as Check })),
  fc.constantFrom('sum(round(data.f, 1))', 'avg(version / 4)', 'sum(data.f * 8)').map((x) => ({ sql: x, check: 'avg' as Check })),
  // Post-aggregation arithmetic.
  fc
    .constantFrom('count(*) * 2', 'max(version) - min(version)', 'count(*) + count(data.n)', 'sum(version) % 5')
    .map((x) => ({ sql: x, check: 'exact' as Check })),
  fc.constantFrom('sum(version) / count(*)').map((x) => ({ sql: x, check: 'avg' as Check })),
);

const tsLiteral = fc
  .tuple(fc.constantFrom(...ANCHORS), fc.constantFrom(0, 1, -1, 1000, -DAY, DAY, 2 * DAY, 3_600_000))
  .map(([a, o]) => a + o);

const atomArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...STREAMS).map((s) => `stream = ${q(s)}`),
  fc.constantFrom(...TYPES).map((s) => `type <> ${q(s)}`),
  fc.subarray(STREAMS, { minLength: 1 }).map((xs) => `stream IN (${xs.map(q).join(', ')})`),
  fc.subarray(TYPES, { minLength: 1 }).map((xs) => `type NOT IN (${xs.map(q).join(', ')})`),
  fc.constantFrom("type LIKE 'a.%'", "type ILIKE 'b%'", "stream LIKE '_-%'", "type LIKE 'a\\_b\\%' ESCAPE '\\'", "stream NOT LIKE '%😀'"),
  fc.constantFrom('source IS NULL', 'subject IS NOT NULL', "coalesce(source, 'none') = 'none'", "lower(stream) = 's-ａ'"),
  tsLiteral.map((t) => `time >= ${q(tsText(t))}`),
  tsLiteral.map((t) => `time < TIMESTAMP ${q(tsText(t))}`),
  tsLiteral.map((t) => `received_at > ${q(iso(t))}`),
  fc.tuple(tsLiteral, tsLiteral).map(([a, b]) => `time BETWEEN ${q(tsText(Math.min(a, b)))} AND ${q(tsText(Math.max(a, b)))}`),
  tsLiteral.map((t) => `date_trunc('day', time) = ${q(tsText(Math.floor(t / DAY) * DAY))}`),
  fc.integer({ min: 0, max: 20 }).map((k) => `version > ${k}`),
  fc.tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 100 })).map(([a, d]) => `seq BETWEEN ${a} AND ${a + d}`),
  fc.subarray([1, 2, 3, 4, 5, 6], { minLength: 1 }).map((xs) => `shard IN (${xs.join(', ')})`),
  fc.constant('version % 2 = 0'),
  fc.integer({ min: -1000, max: 1000 }).map((k) => `data.n > ${k}`),
  fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 800 })).map(([a, d]) => `data.n BETWEEN ${a} AND ${a + d}`),
  fc.integer({ min: -1000, max: 1000 }).map((k) => `data.f <= ${(k / 4).toFixed(2)}`),
  fc.constantFrom(...STRINGS).map((s) => `data.s = ${q(s)}`),
  fc.constantFrom("data.s LIKE '%a%'", "data.u.name LIKE '_e%'", 'data.b', 'NOT data.b', 'data.b = false', 'data.m IS NULL'),
  fc.constantFrom('data.n IS NOT NULL', 'data.m = 3', "data.m = 'alpha'", 'data.u IS NULL', 'data.f = data.n'),
  fc.integer({ min: 0, max: 120 }).map((k) => `data.u.age >= ${k}`),
  // Two data paths compared with each other print as VARCHAR text in the DuckDB dialect ('11' < '100')
  // where the engine compares per-row kinds: `<` between two paths goes through a CAST; `=` agrees
  // (JSON.stringify writes each number one way).
  fc.constantFrom(
    'time < received_at',
    'data.n < version',
    "CAST(version AS varchar) = '3'",
    'version / 2 > 1.5',
    'CASE WHEN data.b THEN 1 ELSE 0 END = 1',
    'abs(data.n) BETWEEN 10 AND 100',
    'length(stream) = 3',
    "data.s || type LIKE '%.%'",
    'round(data.f) = 2',
    'coalesce(data.n, 0) = 0',
    'data.n IN (1, 2, 3, NULL)',
    "NOT (stream IN ('s-1', NULL))",
    "lower(data.s) = 'beta'",
    "upper(data.u.name) LIKE 'Δ%'",
    'seq % 0 IS NULL',
    'data.n % 2 = 0',
    '-data.n > 5',
    'data.f * 8 = CAST(data.n AS double)',
    "json_extract(data, '$.u.age') > 50",
    'data.u.age IS NOT NULL AND data.u.name IS NULL',
    'version / (seq % 3) > 1',
    "CAST(time AS varchar) LIKE '2026%'",
    'data.b <> true',
    'CAST(data.f AS double) > data.n',
  ),
  fc.subarray(STRINGS, { minLength: 1, maxLength: 3 }).map((xs) => `data.u.name IN (${xs.map(q).join(', ')})`),
);

const whereArb: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atomArb,
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a} AND ${b})`),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a} OR ${b})`),
    tie('e').map((a) => `NOT (${a})`),
  ),
})).e;

const havingArb = fc.oneof(
  fc.integer({ min: 0, max: 5 }).map((k) => `count(*) > ${k}`),
  fc.integer({ min: 0, max: 40 }).map((k) => `sum(version) >= ${k}`),
  fc.constant('count(DISTINCT type) >= 2'),
  fc.constantFrom(...STREAMS).map((s) => `min(stream) < ${q(s)}`),
  tsLiteral.map((t) => `max(time) >= ${q(tsText(t))}`),
  fc.constant('avg(data.n) > 0'),
  fc.constant('(count(*) > 2 OR max(version) < 3)'),
  fc.constant('sum(data.f) IS NOT NULL'),
  fc.constantFrom('max(data.m) > 0', "min(data.s) < 'b'", 'min(data.b) = false'),
);

interface AggQuerySeed {
  keys: Item[];
  aggs: { sql: string; check: Check }[];
  where: string | null;
  having: string | null;
  order: { mode: 'total' | 'loose' | 'none'; countFirst: boolean; dirs: [boolean, boolean][]; ref: ('pos' | 'alias' | 'expr')[] };
  limit: number | null;
  offset: number;
}

const aggQueryArb: fc.Arbitrary<Query> = fc
  .record({
    keys: fc.uniqueArray(fc.constantFrom(...KEYS), { maxLength: 3, selector: (k) => k.sql }),
    aggs: fc.array(aggArb, { minLength: 1, maxLength: 5 }),
    where: fc.option(whereArb, { freq: 3 }),
    having: fc.option(havingArb, { freq: 3 }),
    order: fc.record({
      mode: fc.constantFrom('total', 'loose', 'none'),
      countFirst: fc.boolean(),
      dirs: fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: 4, maxLength: 4 }),
      ref: fc.array(fc.constantFrom('pos', 'alias', 'expr'), { minLength: 4, maxLength: 4 }),
    }),
    limit: fc.option(fc.integer({ min: 0, max: 12 }), { freq: 2 }),
    offset: fc.constantFrom(0, 0, 1, 3),
  })
  .map((s: AggQuerySeed) => aggQuerySql(s));

function aggQuerySql(s: AggQuerySeed): Query {
  const items = [...s.keys.map((k, i) => `${k.sql} AS k${i}`), ...s.aggs.map((a, i) => `${a.sql} AS a${i}`)];
  let sql = `SELECT ${items.join(', ')} FROM events`;
  if (s.where) sql += ` WHERE ${s.where}`;
  if (s.keys.length > 0) sql += ` GROUP BY ${s.keys.map((k, i) => (i % 2 === 0 ? k.sql : String(i + 1))).join(', ')}`;
  if (s.having) sql += ` HAVING ${s.having}`;
  const jsonKey = s.keys.some((k) => k.json);
  // Total: every group key (a group's keys are unique), none a data path (see the header).
  const total = s.keys.length === 0 || (s.order.mode === 'total' && !jsonKey);
  const ordered = s.keys.length === 0 || total;
  if (s.keys.length > 0 && s.order.mode !== 'none') {
    const parts: string[] = [];
    if (s.order.countFirst) parts.push(s.order.dirs[3]![0] ? 'count(*) DESC' : 'count(*)');
    s.keys.forEach((k, i) => {
      const [desc, nullsFirst] = s.order.dirs[i]!;
      const ref = s.order.ref[i] === 'pos' ? String(i + 1) : s.order.ref[i] === 'alias' ? `k${i}` : k.sql;
      parts.push(`${ref}${desc ? ' DESC' : ''}${nullsFirst ? ' NULLS FIRST' : desc ? '' : ' NULLS LAST'}`);
    });
    sql += ` ORDER BY ${parts.join(', ')}`;
  }
  if (ordered && s.limit !== null) sql += ` LIMIT ${s.limit}${s.offset ? ` OFFSET ${s.offset}` : ''}`;
  return {
    sql,
    aggregated: true,
    keys: s.keys.length,
    checks: [...s.keys.map(() => 'exact' as Check), ...s.aggs.map((a) => a.check)],
    ordered,
  };
}

const ROW_OUTPUTS = [
  ...EVENT_COLUMNS.filter((c) => c !== 'id'),
  'data.n',
  'data.s',
  'data.f',
  'data.b',
  'data.u',
  'data.m',
  'lower(stream)',
  "coalesce(subject, 'none')",
  'version * 2 - seq',
  'seq % 7',
  "date_trunc('week', time)",
  'length(stream)',
  "stream || '/' || type",
  'CAST(data.n AS double) / 4',
];
const ROW_ORDER = ['time', 'received_at', 'stream', 'type', 'source', 'subject', 'version', 'seq', 'shard', 'lower(stream)'];

const rowQueryArb: fc.Arbitrary<Query> = fc
  .record({
    outputs: fc.uniqueArray(fc.constantFrom(...ROW_OUTPUTS), { minLength: 1, maxLength: 5 }),
    where: fc.option(whereArb, { freq: 2 }),
    order: fc.uniqueArray(fc.tuple(fc.constantFrom(...ROW_ORDER), fc.boolean(), fc.boolean()), { maxLength: 2, selector: (x) => x[0] }),
    idDesc: fc.boolean(),
    limit: fc.integer({ min: 0, max: 30 }),
    offset: fc.constantFrom(0, 0, 2, 7),
  })
  .map((s) => {
    const outputs = ['id', ...s.outputs];
    let sql = `SELECT ${outputs.join(', ')} FROM events`;
    if (s.where) sql += ` WHERE ${s.where}`;
    const order = [
      ...s.order.map(([e, desc, nf]) => `${e}${desc ? ' DESC' : ''}${nf ? ' NULLS FIRST' : ''}`),
      `id${s.idDesc ? ' DESC' : ''}`,
    ];
    sql += ` ORDER BY ${order.join(', ')} LIMIT ${s.limit}${s.offset ? ` OFFSET ${s.offset}` : ''}`;
    return { sql, aggregated: false, keys: 0, checks: outputs.map(() => 'exact' as Check), ordered: true };
  });

const queryArb = fc.oneof({ arbitrary: aggQueryArb, weight: 4 }, { arbitrary: rowQueryArb, weight: 1 });

// ---------------------------------------------------------------------------------------------
// Running ours

function compile(sql: string): QuerySpec {
  try {
    return analyse(parseSelect(sql), sql);
  } catch (e) {
    if (e instanceof SqlError) throw new Error(`generated SQL refused: ${formatSqlError(sql, e)}`);
    throw e;
  }
}

const viaJson = (p: Partial): Partial => JSON.parse(JSON.stringify(p)) as Partial;

/** Merges partials in a random tree: repeatedly two random ones, in a random argument order, with empties mixed in. */
function mergeRandomly(spec: QuerySpec, parts: Partial[], seed: number): Partial {
  const r = rng(seed);
  const pool = parts.map(viaJson);
  if (r() < 0.3) pool.push(emptyPartial(spec));
  if (pool.length === 0) return emptyPartial(spec);
  while (pool.length > 1) {
    const i = Math.floor(r() * pool.length);
    const a = pool.splice(i, 1)[0]!;
    const j = Math.floor(r() * pool.length);
    const b = pool.splice(j, 1)[0]!;
    pool.push(viaJson(r() < 0.5 ? mergePartials(spec, a, b) : mergePartials(spec, b, a)));
  }
  return pool[0]!;
}

async function runPlanned(
  spec: QuerySpec,
  ds: DataSet,
  segs: PlanSegment[],
  maxSegmentsPerScan: number,
  seed: number,
): Promise<QueryResult> {
  const plan = planQuery(spec, segs, { maxSegmentsPerScan });
  const parts: Partial[] = plan.counted.map((c) => countedPartial(spec, c.rows));
  for (const task of plan.tasks) {
    const builder = new PartialBuilder(spec);
    for (const p of task.segments) {
      const seg = ds.segments.find((s) => s.key === p.key)!;
      await scanParquet(spec, seg.encoded.bytes, builder, { columns: p.columns, rowGroups: p.rowGroups });
    }
    parts.push(builder.toPartial());
  }
  return finish(spec, mergeRandomly(spec, parts, seed));
}

/** Every row group of every segment as its own partial, all columns the query needs, no pruning. */
async function rowGroupPartials(spec: QuerySpec, ds: DataSet): Promise<Partial[]> {
  const parts: Partial[] = [];
  for (const seg of ds.segments) {
    const columns = [
      ...spec.columns,
      ...spec.paths.map((p) => (seg.encoded.shredded.some((s) => s.name === `data.${p}`) ? `data.${p}` : 'data')),
    ];
    for (let rg = 0; rg < seg.encoded.rowGroups; rg++) {
      const b = new PartialBuilder(spec);
      await scanParquet(spec, seg.encoded.bytes, b, { columns: columns.length > 0 ? [...new Set(columns)] : ['shard'], rowGroups: [rg] });
      parts.push(b.toPartial());
    }
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Running DuckDB and comparing

let instance: DuckDBInstance;
let db: DuckDBConnection;

/** DuckDB's TIMESTAMPTZ text under TimeZone UTC (`2026-11-02 00:00:00.5+00`) as our ISO rendering. */
function isoOf(v: string): string {
  return new Date(v.replace(' ', 'T').replace(/\+00$/, 'Z')).toISOString();
}

/** A DuckDB value in our representation, given our column type and (for data paths) our value. */
function normalise(v: unknown, type: string, ours: Scalar): Scalar {
  if (v === null || v === undefined) return null;
  if (type === 'timestamp' && typeof v === 'string') return isoOf(v);
  if ((type === 'integer' || type === 'double') && typeof v === 'string') return Number(v);
  if (type === 'json' && typeof v === 'string') {
    if (typeof ours === 'number') return /^-?(\d|inf|nan)/i.test(v) ? Number(v.replace(/^(-?)inf$/i, '$1Infinity')) : v;
    if (typeof ours === 'boolean') return v === 'true' ? true : v === 'false' ? false : v;
  }
  if (typeof v === 'number') return v + 0;
  return v as Scalar;
}

async function duck(sql: string): Promise<unknown[][]> {
  try {
    return (await db.runAndReadAll(sql)).getRowsJson() as unknown[][];
  } catch (e) {
    throw new Error(`DuckDB refused: ${String(e)}\n${sql}`);
  }
}

const files = (ds: DataSet) => `read_parquet([${ds.segments.map((s) => `'${s.file}'`).join(', ')}], union_by_name = true)`;

/** The spec printed for DuckDB with the approximate aggregates replaced by exact references. */
function referenceSql(spec: QuerySpec, ds: DataSet, quantileShift: number): string {
  const shifted: QuerySpec = {
    ...spec,
    aggregates: spec.aggregates.map((a) =>
      a.fn === 'approx_quantile' ? { ...a, q: Math.min(1, Math.max(0, (a.q ?? 0.5) + quantileShift)) } : a,
    ),
  };
  return toSql(shifted, { dialect: 'duckdb', from: files(ds) })
    .replaceAll('approx_count_distinct(', 'count(DISTINCT ')
    .replaceAll('approx_quantile(', 'quantile_disc(');
}

const ULP = 2 ** -52;

function compareRow(
  ctx: string,
  query: Query,
  result: QueryResult,
  ours: Scalar[],
  refs: { exact: unknown[]; lo: unknown[] | null; hi: unknown[] | null },
  ds: DataSet,
): void {
  query.checks.forEach((check, k) => {
    const type = result.columns[k]!.type;
    const mine = ours[k]!;
    const theirs = normalise(refs.exact[k], type, mine);
    const where = `${ctx}\ncolumn ${k} (${result.columns[k]!.name}, ${check}): ours ${JSON.stringify(mine)}, DuckDB ${JSON.stringify(theirs)}`;
    switch (check) {
      case 'exact':
        expect(typeof mine === 'number' ? mine + 0 : mine, where).toEqual(theirs);
        return;
      case 'dsum':
      case 'avg': {
        if (mine === null || theirs === null) {
          expect(mine, where).toEqual(theirs);
          return;
        }
        // DuckDB's naive double sum errs by at most (n−1)·2⁻⁵³·Σ|x| (bounded by the whole data set's);
        // ours is correctly rounded. An average divides both by n ≥ 1.
        const bound = ds.fCount * 2 ** -53 * ds.fAbs + 4 * ULP * Math.abs(theirs as number);
        expect(Math.abs((mine as number) - (theirs as number)), where).toBeLessThanOrEqual(bound);
        return;
      }
      case 'acd': {
        const exact = theirs as number;
        if (exact <= HLL_SPARSE_MAX) expect(mine, where).toBe(exact);
        else expect(Math.abs((mine as number) - exact), where).toBeLessThanOrEqual(3 * HLL_STD_ERROR * exact);
        return;
      }
      case 'quantile': {
        if (theirs === null) {
          expect(mine, where).toBeNull();
          return;
        }
        const lo = normalise(refs.lo![k], type, mine);
        const hi = normalise(refs.hi![k], type, mine);
        expect(mine, where).not.toBeNull();
        // Within ±1.65 %·n of the exact rank: between the values at q ∓ 1.65 % (timestamps compare as ISO text).
        const le = (a: Scalar, b: Scalar) => (typeof a === 'number' ? a <= (b as number) : String(a) <= String(b));
        expect(le(lo, mine) && le(mine, hi), `${where} not in [${String(lo)}, ${String(hi)}]`).toBe(true);
        return;
      }
    }
  });
}

/** Our result against DuckDB's on the same files. */
async function checkAgainstDuckDB(query: Query, spec: QuerySpec, result: QueryResult, ds: DataSet): Promise<void> {
  const sql = referenceSql(spec, ds, 0);
  const exact = await duck(sql);
  const hasQuantile = query.checks.includes('quantile');
  const lo = hasQuantile ? await duck(referenceSql(spec, ds, -KLL_RANK_ERROR)) : null;
  const hi = hasQuantile ? await duck(referenceSql(spec, ds, KLL_RANK_ERROR)) : null;
  const ctx = `${query.sql}\nDuckDB: ${sql}`;
  expect(result.rows.length, `${ctx}\nrow count; ours ${JSON.stringify(result.rows)}\nDuckDB ${JSON.stringify(exact)}`).toBe(exact.length);

  // Pair rows: in order, or by their (normalised) group keys.
  const keyOf = (row: Scalar[]) => JSON.stringify(row.slice(0, query.keys));
  const theirKey = (row: unknown[], like: Scalar[]) =>
    JSON.stringify(row.slice(0, query.keys).map((v, k) => normalise(v, result.columns[k]!.type, like[k]!)));
  const index = result.rows.map((_, i) => i);
  let pair: number[] = index; // ours i ↔ DuckDB pair[i]
  if (!query.ordered) {
    const theirs = exact.map((row, j) => ({ j, row }));
    pair = result.rows.map((row) => {
      const want = keyOf(row);
      const hit = theirs.find((t) => t.j >= 0 && theirKey(t.row, row) === want);
      expect(hit, `${ctx}\nno DuckDB row for keys ${want}\nDuckDB ${JSON.stringify(exact)}`).toBeDefined();
      const j = hit!.j;
      hit!.j = -1;
      return j;
    });
  }
  // The q ∓ 1.65 % queries answer the same groups, perhaps in another order: pair by DuckDB's own key text.
  const rawKey = (row: unknown[]) => JSON.stringify(row.slice(0, query.keys));
  const byRawKey = (rows: unknown[][] | null) => new Map((rows ?? []).map((r) => [rawKey(r), r]));
  const [loBy, hiBy] = [byRawKey(lo), byRawKey(hi)];
  result.rows.forEach((row, i) => {
    const theirs = exact[pair[i]!]!;
    const k = rawKey(theirs);
    compareRow(
      `${ctx}\nrow ${i}: ${JSON.stringify(row)}`,
      query,
      result,
      row,
      { exact: theirs, lo: loBy.get(k) ?? null, hi: hiBy.get(k) ?? null },
      ds,
    );
  });
}

/** The exact columns of a result (approx_quantile may pick another value when merged differently). */
function exactPart(query: Query, r: QueryResult): Scalar[][] {
  const cols = query.checks.map((c, k) => (c === 'quantile' ? -1 : k)).filter((k) => k >= 0);
  // −0 and 0 are one value to SQL and to JSON (the API's answer); a partial's JSON trip turns −0 into 0.
  const rows = r.rows.map((row) => cols.map((k) => (typeof row[k] === 'number' ? (row[k] as number) + 0 : row[k]!)));
  return query.ordered ? rows : (rows.map((x) => JSON.stringify(x)).sort() as unknown as Scalar[][]);
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  dir = mkdtempSync(`${tmpdir()}/query-diff-`);
  instance = await DuckDBInstance.create(':memory:');
  db = await instance.connect();
  await db.run(`SET TimeZone='UTC'`);
});

afterAll(() => {
  db?.closeSync();
  instance?.closeSync();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the query engine against DuckDB on random data and queries', () => {
  it('agrees with DuckDB; pruning, partial splits, merge orders and hot rows change no exact answer', async () => {
    await fc.assert(
      fc.asyncProperty(
        dataSetArb,
        fc.array(fc.tuple(queryArb, fc.integer({ min: 1, max: 3 }), fc.integer(), fc.integer()), { minLength: 1, maxLength: 6 }),
        async (seeds, queries) => {
          const ds = buildDataSet(seeds);
          try {
            const pruning = planSegments(ds, true);
            const plain = planSegments(ds, false);
            for (const [query, perScan, seed1, seed2] of queries) {
              const spec = compile(query.sql);
              const ours = await runPlanned(spec, ds, pruning, perScan, seed1);
              await checkAgainstDuckDB(query, spec, ours, ds);

              const expected = exactPart(query, ours);
              const ctx = query.sql;
              // Pruning changes nothing: no row-group statistics, every segment in one scan.
              expect(exactPart(query, await runPlanned(spec, ds, plain, 6, seed2)), `${ctx}: without row-group pruning`).toEqual(expected);
              // Associative and commutative merges: every row group its own partial, two random trees.
              const parts = await rowGroupPartials(spec, ds);
              const a = finish(spec, mergeRandomly(spec, parts, seed1));
              const b = finish(spec, mergeRandomly(spec, [...parts].reverse(), seed2));
              expect(exactPart(query, a), `${ctx}: row groups merged (1)`).toEqual(expected);
              expect(exactPart(query, b), `${ctx}: row groups merged (2)`).toEqual(expected);
              // Hot rows through the row adapter (paths parsed from data).
              const hot = new PartialBuilder(spec);
              scanRows(spec, ds.all, hot, 1 + (Math.abs(seed1) % 40));
              expect(exactPart(query, finish(spec, hot.toPartial())), `${ctx}: hot rows`).toEqual(expected);
            }
          } finally {
            for (const s of ds.segments) rmSync(s.file, { force: true });
          }
        },
      ),
      // A failure's shrinking re-encodes files per step: bound it so CI reports rather than times out.
      { numRuns: RUNS, ...(RUNS <= 100 ? { interruptAfterTimeLimit: 240_000, markInterruptAsFailure: true } : {}) },
    );
  }, 600_000);
});

describe('the approximate aggregates past their exact range, against DuckDB', () => {
  it('approx_count_distinct within 3σ of count(DISTINCT) and approx_quantile within its rank bound', async () => {
    // 3 × 4,000 rows: 12,000 distinct ids (HyperLogLog past its 1,536-value exact range), KLL compacting.
    const seeds = [11, 12, 13].map((seed, k) => generate(4000, seed, k + 1, k * 10_000 + 1));
    const segments = seeds.map((rows, k) => {
      const encoded = encodeParquet(rows, { rowGroupSize: 1500, ...(k === 1 ? { shredded: [] } : {}) });
      const file = `${dir}/approx-${k}.parquet`;
      writeFileSync(file, encoded.bytes);
      return { key: `replica/approx-${k}`, rows, encoded, file, rowGroupStats: [] };
    });
    const ds: DataSet = { segments, all: seeds.flat(), fAbs: 0, fCount: 0 };
    const queries: Query[] = [
      {
        sql: 'SELECT stream, approx_count_distinct(id), approx_count_distinct(data.user.handle), approx_quantile(seq, 0.3), approx_quantile(data.likes, 0.9), approx_quantile(time, 0.5) FROM events GROUP BY stream',
        aggregated: true,
        keys: 1,
        checks: ['exact', 'acd', 'acd', 'quantile', 'quantile', 'quantile'],
        ordered: false,
      },
      {
        sql: 'SELECT approx_count_distinct(id), approx_count_distinct(seq % 5000), approx_quantile(seq, 0.01), approx_quantile(received_at, 0.99) FROM events',
        aggregated: true,
        keys: 0,
        checks: ['acd', 'acd', 'quantile', 'quantile'],
        ordered: true,
      },
    ];
    try {
      for (const query of queries) {
        const spec = compile(query.sql);
        for (const seed of [1, 2])
          await checkAgainstDuckDB(query, spec, await runPlanned(spec, ds, planSegments(ds, false), seed, seed), ds);
      }
    } finally {
      for (const s of segments) rmSync(s.file, { force: true });
    }
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// Regressions the property found, pinned on small inputs

describe('regressions found by the differential test', () => {
  const rows = (n: number, data: (i: number) => Json): ReplicaRow[] =>
    Array.from({ length: n }, (_, i) => ({
      seq: i + 1,
      id: `evt-${i}`,
      stream: i % 2 === 0 ? 's-1' : 's-2',
      version: i + 1,
      type: 't',
      source: null,
      subject: null,
      time: ANCHORS[0]! + i,
      receivedAt: ANCHORS[0]! + i,
      data: JSON.stringify(data(i)),
      shard: 1,
    }));

  /** Ours (rows scanned, the partial through JSON, finished) and DuckDB's on the same rows as one file. */
  async function both(sql: string, input: ReplicaRow[]): Promise<{ ours: QueryResult; theirs: Scalar[][] }> {
    const spec = compile(sql);
    const b = new PartialBuilder(spec);
    scanRows(spec, input, b, 2);
    const ours = finish(spec, mergeRandomly(spec, [b.toPartial(), emptyPartial(spec)], 1));
    const file = `${dir}/regression-${fileCounter++}.parquet`;
    writeFileSync(file, encodeParquet(input).bytes);
    try {
      const raw = await duck(toSql(spec, { dialect: 'duckdb', from: `read_parquet(['${file}'])` }));
      return { ours, theirs: raw.map((r, i) => r.map((v, k) => normalise(v, ours.columns[k]!.type, ours.rows[i]?.[k] ?? null))) };
    } finally {
      rmSync(file, { force: true });
    }
  }

  it('CAST of a double to integer rounds half to even, of a string half away from zero (as DuckDB)', async () => {
    const { ours, theirs } = await both(
      'SELECT version, CAST(version / 2 AS integer), CAST(data.f AS integer), CAST(data.s AS integer), CAST(-version / 2 AS integer) FROM events ORDER BY id LIMIT 10',
      rows(6, (i) => ({ f: i + 0.5, s: `${i}.5` })),
    );
    expect(ours.rows).toEqual([
      [1, 0, 0, 1, 0],
      [2, 1, 2, 2, -1],
      [3, 2, 2, 3, -2],
      [4, 2, 4, 4, -2],
      [5, 2, 4, 5, -2],
      [6, 3, 6, 6, -3],
    ]);
    expect(ours.rows.map((r) => r.map((v) => (typeof v === 'number' ? v + 0 : v)))).toEqual(theirs);
  });

  it('NaN and ±Infinity group keys and row values survive the partial JSON and stay apart from NULL', async () => {
    const input = rows(8, () => ({}));
    const grouped = await both(
      'SELECT CASE WHEN seq % 3 = 0 THEN version / 0 WHEN seq % 3 = 1 THEN -version / 0 END AS k, stream, count(*) AS n FROM events GROUP BY 1, 2 ORDER BY 1, 2',
      input,
    );
    expect(grouped.ours.rows).toEqual([
      [-Infinity, 's-1', 2],
      [-Infinity, 's-2', 1],
      [Infinity, 's-1', 1],
      [Infinity, 's-2', 1],
      [null, 's-1', 1],
      [null, 's-2', 2],
    ]);
    expect(grouped.ours.rows).toEqual(grouped.theirs);
    const listed = await both('SELECT id, version / (seq % 2), (seq % 2) / (seq % 2) FROM events ORDER BY id LIMIT 3', input);
    expect(listed.ours.rows).toEqual([
      ['evt-0', 1, 1],
      ['evt-1', Infinity, NaN],
      ['evt-2', 3, 1],
    ]);
    expect(listed.ours.rows).toEqual(listed.theirs);
  });
});
