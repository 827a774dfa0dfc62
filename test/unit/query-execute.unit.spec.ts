// The executor on real replica Parquet files, against DuckDB reading the same files: filters,
// group-bys on dictionary columns, time buckets, many groups, distinct counts, shredded and
// unshredded data paths, hot rows through the row adapter, and partials merged in any order.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeParquet, initParquet, type EncodedParquet, type ReplicaRow } from '../../src/engine/parquet.js';
import type { QuerySpec, Scalar } from '../../src/engine/query/ast.js';
import {
  countedPartial,
  finish,
  mergePartials,
  PartialBuilder,
  QueryLimitError,
  scanBatch,
  scanParquet,
  scanRows,
  topPartial,
  type Partial,
  type QueryResult,
} from '../../src/engine/query/execute.js';
import { batchFromRows, Evaluator } from '../../src/engine/query/expr.js';
import { planQuery, type PlanSegment } from '../../src/engine/query/plan.js';
import { analyse } from '../../src/engine/query/analyse.js';
import { toSql } from '../../src/engine/query/print.js';
import { parseSelect } from '../../src/engine/query/sql.js';
import {
  a,
  agg,
  and,
  asc,
  between,
  bin,
  cast,
  col,
  fn,
  g,
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
  trunc,
  ts,
} from './query-fixtures.js';

initParquet(readFileSync(new URL('../../node_modules/parquet-wasm/esm/parquet_wasm_bg.wasm', import.meta.url)));

interface Segment {
  key: string;
  rows: ReplicaRow[];
  encoded: EncodedParquet;
  file: string;
}

/** DuckDB reads of a data path with our semantics: the value only when the JSON has that kind there. */
const dnum = (p: string) =>
  `(CASE WHEN json_type(data, '$.${p}') IN ('DOUBLE', 'BIGINT', 'UBIGINT') THEN CAST(data->>'$.${p}' AS DOUBLE) END)`;
const dstr = (p: string) => `(CASE WHEN json_type(data, '$.${p}') = 'VARCHAR' THEN data->>'$.${p}' END)`;
const dbool = (p: string) => `(CASE WHEN json_type(data, '$.${p}') = 'BOOLEAN' THEN CAST(data->>'$.${p}' AS BOOLEAN) END)`;
const iso = (x: string) => `strftime(${x}, '%Y-%m-%dT%H:%M:%S.%gZ')`;

interface Case {
  name: string;
  spec: QuerySpec;
  /** The same query for DuckDB over `events`. */
  duck: string;
  /** Whether the ORDER BY is total (compare in order); else compare as multisets. */
  ordered?: boolean;
}

const T1 = '2026-11-02T00:00:00.000Z';
const T2 = '2026-11-03T12:30:00.000Z';

const CASES: Case[] = [
  {
    name: 'count(*) over everything',
    spec: spec({ outputs: [{ name: 'n', expr: a(0), type: 'integer' }], aggregates: [agg('count', null)] }),
    duck: 'SELECT count(*) FROM events',
  },
  {
    name: 'count(*) with a time filter',
    spec: spec({
      outputs: [{ name: 'n', expr: a(0), type: 'integer' }],
      where: and(bin('>=', col('time'), ts(T1)), bin('<', col('time'), ts(T2))),
      aggregates: [agg('count', null)],
    }),
    duck: `SELECT count(*) FROM events WHERE time >= TIMESTAMPTZ '${T1}' AND time < TIMESTAMPTZ '${T2}'`,
  },
  {
    name: 'count(*) over no rows is one row: 0 and a NULL sum',
    spec: spec({
      outputs: [
        { name: 'n', expr: a(0), type: 'integer' },
        { name: 's', expr: a(1), type: 'integer' },
      ],
      where: bin('=', col('type'), lit('no.such.type')),
      aggregates: [agg('count', null), agg('sum', col('version'))],
    }),
    duck: `SELECT count(*), sum(version) FROM events WHERE type = 'no.such.type'`,
  },
  {
    name: 'group by type',
    spec: spec({
      outputs: [
        { name: 'type', expr: g(0), type: 'string' },
        { name: 'n', expr: a(0), type: 'integer' },
      ],
      groupBy: [col('type')],
      aggregates: [agg('count', null)],
      orderBy: [asc(g(0))],
    }),
    duck: 'SELECT type, count(*) FROM events GROUP BY type ORDER BY type',
    ordered: true,
  },
  {
    name: 'group by stream and type with sums, min/max time, filters on dictionary columns',
    spec: spec({
      outputs: [
        { name: 'stream', expr: g(0), type: 'string' },
        { name: 'type', expr: g(1), type: 'string' },
        { name: 'n', expr: a(0), type: 'integer' },
        { name: 'likes', expr: a(1), type: 'double' },
        { name: 'first', expr: a(2), type: 'timestamp' },
        { name: 'last', expr: a(3), type: 'timestamp' },
        { name: 'v', expr: a(4), type: 'integer' },
      ],
      where: or(inList(col('type'), ['post.liked', 'ünïcødé.✓']), like(col('stream'), 'group-%')),
      groupBy: [col('stream'), col('type')],
      aggregates: [
        agg('count', null),
        agg('sum', path('likes')),
        agg('min', col('time')),
        agg('max', col('time')),
        agg('sum', col('version')),
      ],
    }),
    duck: `SELECT stream, type, count(*), sum(${dnum('likes')}), ${iso('min(time)')}, ${iso('max(time)')}, sum(version) FROM events
           WHERE type IN ('post.liked', 'ünïcødé.✓') OR stream LIKE 'group-%' GROUP BY stream, type`,
  },
  {
    name: 'date_trunc hour buckets, ordered',
    spec: spec({
      outputs: [
        { name: 'h', expr: g(0), type: 'timestamp' },
        { name: 'n', expr: a(0), type: 'integer' },
      ],
      groupBy: [trunc('hour', col('time'))],
      aggregates: [agg('count', null)],
      orderBy: [asc(g(0))],
    }),
    duck: `SELECT ${iso("date_trunc('hour', time)")} AS h, count(*) FROM events GROUP BY date_trunc('hour', time) ORDER BY date_trunc('hour', time)`,
    ordered: true,
  },
  {
    name: 'date_trunc week and month buckets by type',
    spec: spec({
      outputs: [
        { name: 'w', expr: g(0), type: 'timestamp' },
        { name: 'm', expr: g(1), type: 'timestamp' },
        { name: 'type', expr: g(2), type: 'string' },
        { name: 'n', expr: a(0), type: 'integer' },
      ],
      groupBy: [trunc('week', col('time')), trunc('month', col('received_at')), col('type')],
      aggregates: [agg('count', null)],
    }),
    duck: `SELECT ${iso("date_trunc('week', time)")}, ${iso("date_trunc('month', received_at)")}, type, count(*) FROM events GROUP BY ALL`,
  },
  {
    name: 'many groups: seq % 3000 with HAVING, ORDER BY and LIMIT',
    spec: spec({
      outputs: [
        { name: 'k', expr: g(0), type: 'integer' },
        { name: 'n', expr: a(0), type: 'integer' },
        { name: 'v', expr: a(1), type: 'integer' },
      ],
      groupBy: [bin('%', col('seq'), lit(3000))],
      aggregates: [agg('count', null), agg('sum', col('version'))],
      having: bin('>', a(0), lit(2)),
      orderBy: [asc(a(1), true), asc(g(0))],
      limit: 50,
      offset: 5,
    }),
    duck: 'SELECT seq % 3000 AS k, count(*), sum(version) AS v FROM events GROUP BY k HAVING count(*) > 2 ORDER BY v DESC, k LIMIT 50 OFFSET 5',
    ordered: true,
  },
  {
    name: 'high-cardinality group by a string path (data.user.handle, never shredded)',
    spec: spec({
      outputs: [
        { name: 'h', expr: g(0), type: 'json' },
        { name: 'n', expr: a(0), type: 'integer' },
      ],
      groupBy: [path('user.handle')],
      aggregates: [agg('count', null)],
    }),
    duck: `SELECT ${dstr('user.handle')}, count(*) FROM events GROUP BY 1`,
  },
  {
    name: 'count distinct of columns and paths',
    spec: spec({
      outputs: [
        { name: 'streams', expr: a(0), type: 'integer' },
        { name: 'names', expr: a(1), type: 'integer' },
        { name: 'ids', expr: a(2), type: 'integer' },
        { name: 'likes', expr: a(3), type: 'integer' },
        { name: 'subjects', expr: a(4), type: 'integer' },
      ],
      aggregates: [
        agg('count', col('stream'), true),
        agg('count', path('user.name'), true),
        agg('count', col('id'), true),
        agg('count', path('likes'), true),
        agg('count', col('subject'), true),
      ],
    }),
    duck: `SELECT count(DISTINCT stream), count(DISTINCT ${dstr('user.name')}), count(DISTINCT id), count(DISTINCT ${dnum('likes')}), count(DISTINCT subject) FROM events`,
  },
  {
    name: 'avg and count of nullable paths by verified, with BETWEEN and IS NULL',
    spec: spec({
      outputs: [
        { name: 'verified', expr: g(0), type: 'json' },
        { name: 'avg', expr: a(0), type: 'double' },
        { name: 'scores', expr: a(1), type: 'integer' },
        { name: 'nosource', expr: a(2), type: 'integer' },
        { name: 'max', expr: a(3), type: 'json' },
      ],
      where: and(between(col('time'), ts(T1), ts(T2)), not(isNull(path('score')))),
      groupBy: [path('user.verified')],
      aggregates: [agg('avg', path('score')), agg('count', path('score')), agg('count', col('source')), agg('max', path('user.name'))],
    }),
    duck: `SELECT ${dbool('user.verified')}, avg(${dnum('score')}), count(${dnum('score')}), count(source), max(${dstr('user.name')}) FROM events
           WHERE time BETWEEN TIMESTAMPTZ '${T1}' AND TIMESTAMPTZ '${T2}' AND NOT (${dnum('score')} IS NULL) GROUP BY 1`,
  },
  {
    name: 'string functions and coalesce as keys; LIKE with _ and ILIKE; a path compared with a number',
    spec: spec({
      outputs: [
        { name: 'src', expr: g(0), type: 'string' },
        { name: 'l', expr: g(1), type: 'integer' },
        { name: 'n', expr: a(0), type: 'integer' },
      ],
      where: and(
        or(like(path('user.name'), 'D_r%'), like(col('type'), 'POST.%', { ci: true })),
        bin('>', path('likes'), lit(100)),
        bin('=', path('mixed'), lit(7)),
      ),
      groupBy: [fn('coalesce', col('source'), lit('none')), fn('length', fn('upper', col('stream')))],
      aggregates: [agg('count', null)],
    }),
    duck: `SELECT coalesce(source, 'none'), length(upper(stream)), count(*) FROM events
           WHERE (${dstr('user.name')} LIKE 'D_r%' OR type ILIKE 'POST.%') AND ${dnum('likes')} > 100 AND ${dnum('mixed')} = 7 GROUP BY ALL`,
  },
  {
    name: 'arithmetic, CAST and CASE in aggregates',
    spec: spec({
      outputs: [
        { name: 'type', expr: g(0), type: 'string' },
        { name: 'x', expr: a(0), type: 'double' },
        { name: 'y', expr: a(1), type: 'integer' },
        { name: 'z', expr: bin('/', a(2), a(3)), type: 'double' },
      ],
      groupBy: [col('type')],
      aggregates: [
        agg('sum', bin('/', col('version'), lit(2))),
        agg('sum', {
          kind: 'case',
          whens: [{ when: bin('>', path('likes'), lit(500)), then: lit(1) }],
          otherwise: lit(0),
          span: { start: 0, end: 0 },
        }),
        agg('sum', cast(path('likes'), 'integer')),
        agg('count', null),
      ],
    }),
    duck: `SELECT type, sum(version / 2), sum(CASE WHEN ${dnum('likes')} > 500 THEN 1 ELSE 0 END), sum(CAST(${dnum('likes')} AS INTEGER)) / count(*) FROM events GROUP BY type`,
  },
  {
    name: 'rows without aggregates: top 7 by time desc, id (a total order)',
    spec: spec({
      outputs: [
        { name: 'id', expr: col('id'), type: 'string' },
        { name: 'type', expr: col('type'), type: 'string' },
        { name: 'time', expr: col('time'), type: 'timestamp' },
        { name: 'likes', expr: path('likes'), type: 'json' },
      ],
      where: inList(col('stream'), ['post-😀', 'post-Ａ']),
      orderBy: [asc(col('time'), true), asc(col('id'))],
      limit: 7,
    }),
    duck: `SELECT id, type, ${iso('time')}, ${dnum('likes')} FROM events WHERE stream IN ('post-😀', 'post-Ａ') ORDER BY time DESC, id LIMIT 7`,
    ordered: true,
  },
  {
    name: 'rows ordered by a nullable column: NULLS LAST, code point order',
    spec: spec({
      outputs: [
        { name: 'subject', expr: col('subject'), type: 'string' },
        { name: 'stream', expr: col('stream'), type: 'string' },
        { name: 'id', expr: col('id'), type: 'string' },
      ],
      where: bin('>', col('seq'), lit(2_002_400)),
      orderBy: [asc(col('subject'), true), asc(col('stream')), asc(col('id'))],
      limit: 40,
    }),
    duck: `SELECT subject, stream, id FROM events WHERE seq > 2002400 ORDER BY subject DESC NULLS LAST, stream, id LIMIT 40`,
    ordered: true,
  },
];

// ---------------------------------------------------------------------------------------------

let dir: string;
let instance: DuckDBInstance;
let db: DuckDBConnection;
const segments: Segment[] = [];
const all: ReplicaRow[] = [];

function normalise(result: QueryResult): Scalar[][] {
  return result.rows.map((r) => r.map((v, k) => (typeof v === 'number' && result.columns[k]!.type !== 'timestamp' ? v + 0 : v)));
}

async function duck(sql: string, like: QueryResult): Promise<Scalar[][]> {
  const reader = await db.runAndReadAll(sql);
  return (reader.getRowsJson() as unknown[][]).map((r) =>
    r.map((v, k) => {
      const t = like.columns[k]?.type;
      if (typeof v === 'string' && (t === 'integer' || t === 'double' || (t === 'json' && /^-?\d+(\.\d+)?$/.test(v)))) return Number(v);
      if (typeof v === 'number') return v + 0;
      return v as Scalar;
    }),
  );
}

const sortRows = (rows: Scalar[][]) => rows.map((r) => JSON.stringify(r)).sort();

/** Compares with a relative tolerance on doubles (avg of doubles may round differently). */
function expectSame(ours: Scalar[][], theirs: Scalar[][], ordered: boolean, name: string) {
  const round = (rows: Scalar[][]) =>
    rows.map((r) => r.map((v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(12)) : v)));
  const x = round(ours);
  const y = round(theirs);
  if (ordered) expect(x, name).toEqual(y);
  else expect(sortRows(x), name).toEqual(sortRows(y));
}

function planSegments(): PlanSegment[] {
  return segments.map((s) => planSegmentOf(s.key, s.rows, s.encoded));
}

/** One partial per planned segment, read from its Parquet bytes with the plan's columns and row groups. */
async function partialsOf(q: QuerySpec): Promise<Partial[]> {
  const plan = planQuery(q, planSegments(), { maxSegmentsPerScan: 1 });
  const out: Partial[] = plan.counted.map((c) => countedPartial(q, c.rows));
  for (const task of plan.tasks) {
    const builder = new PartialBuilder(q);
    for (const p of task.segments) {
      const seg = segments.find((s) => s.key === p.key)!;
      await scanParquet(q, seg.encoded.bytes, builder, { columns: p.columns, rowGroups: p.rowGroups });
    }
    out.push(JSON.parse(JSON.stringify(builder.toPartial())) as Partial);
  }
  return out;
}

const mergeAll = (q: QuerySpec, ps: Partial[]) => ps.reduce((x, y) => mergePartials(q, x, y), new PartialBuilder(q).toPartial());

beforeAll(async () => {
  dir = mkdtempSync(`${tmpdir()}/query-exec-`);
  const layout = [
    { shard: 1, n: 4000, seed: 11, shred: undefined },
    { shard: 2, n: 3000, seed: 12, shred: [] }, // nothing shredded: paths come from `data`
    { shard: 3, n: 2600, seed: 13, shred: undefined },
  ];
  for (const { shard, n, seed, shred } of layout) {
    const rows = generate(n, seed, shard, shard * 1_000_000);
    const encoded = encodeParquet(rows, { rowGroupSize: 1000, ...(shred ? { shredded: shred } : {}) });
    const file = `${dir}/shard-${shard}.parquet`;
    writeFileSync(file, encoded.bytes);
    segments.push({ key: `replica/shard=${shard}`, rows, encoded, file });
    all.push(...rows);
  }
  instance = await DuckDBInstance.create(':memory:');
  db = await instance.connect();
  await db.run(`SET TimeZone='UTC'`);
  await db.run(
    `CREATE VIEW events AS SELECT * FROM read_parquet([${segments.map((s) => `'${s.file}'`).join(', ')}], union_by_name = true)`,
  );
});

afterAll(() => {
  db?.closeSync();
  instance?.closeSync();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the executor against DuckDB on the same Parquet files', () => {
  it('has shredded and unshredded files', () => {
    expect(segments[0]!.encoded.shredded.map((s) => s.name)).toEqual(['data.likes', 'data.score', 'data.user.name', 'data.user.verified']);
    expect(segments[1]!.encoded.shredded).toEqual([]);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const ours = finish(c.spec, mergeAll(c.spec, await partialsOf(c.spec)));
      expect(ours.columns.map((x) => x.name)).toEqual(c.spec.outputs.map((o) => o.name));
      const theirs = await duck(c.duck, ours);
      expect(theirs.length, c.name).toBeGreaterThan(0);
      expectSame(normalise(ours), theirs, c.ordered ?? false, c.name);
    });
  }
});

describe('the same answers every way', () => {
  for (const c of CASES) {
    it(`${c.name}: hot rows, one unshredded file, and partials merged in any order`, async () => {
      const parts = await partialsOf(c.spec);
      const expected = finish(c.spec, mergeAll(c.spec, parts));
      const check = (r: QueryResult, how: string) =>
        c.ordered ? expect(r, how).toEqual(expected) : expect(sortRows(r.rows), how).toEqual(sortRows(expected.rows));

      // Hot rows through the row adapter (paths parsed from `data`).
      const hot = new PartialBuilder(c.spec);
      scanRows(c.spec, all, hot, 1777);
      check(finish(c.spec, hot.toPartial()), 'hot rows');

      // Merge orders and shapes.
      const reversed = [...parts].reverse();
      check(
        finish(
          c.spec,
          reversed.reduceRight((x, y) => mergePartials(c.spec, y, x)),
        ),
        'right fold, reversed',
      );
      const rotated = [...parts.slice(1), parts[0]!];
      check(finish(c.spec, mergeAll(c.spec, rotated)), 'rotated');

      // All rows in one file, with and without shredding.
      for (const shredded of [undefined, []]) {
        const enc = encodeParquet(all, { rowGroupSize: 2500, ...(shredded ? { shredded } : {}) });
        const b = new PartialBuilder(c.spec);
        const columns = [
          ...c.spec.columns,
          ...c.spec.paths.map((p) => (enc.shredded.some((s) => s.name === `data.${p}`) ? `data.${p}` : 'data')),
        ];
        await scanParquet(c.spec, enc.bytes, b, { columns: columns.length > 0 ? [...new Set(columns)] : ['shard'], rowGroups: null });
        check(finish(c.spec, b.toPartial()), shredded ? 'one unshredded file' : 'one shredded file');
      }
    });
  }
});

/** Queries through the parser and analyser; DuckDB runs the spec printed in its dialect. */
const SQL: { sql: string; ordered?: boolean }[] = [
  { sql: 'SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY n DESC, type', ordered: true },
  { sql: "SELECT date_trunc('day', time) AS d, count(*), count(DISTINCT stream) FROM events GROUP BY 1 ORDER BY 1", ordered: true },
  {
    sql: "SELECT stream, sum(data.likes) AS likes, max(data.user.name) FROM events WHERE time >= TIMESTAMP '2026-11-02 00:00:00' AND type <> 'post.liked' GROUP BY stream HAVING count(*) > 100",
  },
  { sql: "SELECT count(*) FROM events WHERE data.user.verified AND (source IS NULL OR source LIKE '%slack%')" },
  { sql: "SELECT lower(type) AS t, avg(data.score), min(received_at) FROM events WHERE data.user.name IN ('Ada', 'Chen') GROUP BY t" },
  {
    sql: "SELECT id, stream, version FROM events WHERE type = 'member.joined' AND shard = 2 ORDER BY version DESC, id LIMIT 10",
    ordered: true,
  },
];

describe('SQL through the parser and analyser, against DuckDB', () => {
  /** DuckDB's TIMESTAMPTZ text (`2026-11-02 00:00:00+00`) as our ISO rendering. */
  const isoOf = (v: unknown) => (typeof v === 'string' ? new Date(v.replace(' ', 'T').replace(/\+00$/, 'Z')).toISOString() : v);
  for (const { sql, ordered } of SQL) {
    it(sql, async () => {
      const q = analyse(parseSelect(sql), sql);
      const ours = finish(q, mergeAll(q, await partialsOf(q)));
      const theirs = (await duck(toSql(q, { dialect: 'duckdb' }), ours)).map((r) =>
        r.map((v, k) => (ours.columns[k]!.type === 'timestamp' ? (isoOf(v) as Scalar) : v)),
      );
      expect(theirs.length).toBeGreaterThan(0);
      expectSame(normalise(ours), theirs, ordered ?? false, sql);
    });
  }
});

describe('limits and edges', () => {
  it('refuses more groups than the limit with a typed error', () => {
    const q = spec({ outputs: [{ name: 'n', expr: a(0), type: 'integer' }], groupBy: [col('id')], aggregates: [agg('count', null)] });
    const b = new PartialBuilder(q, { maxGroups: 100 });
    const err = (() => {
      try {
        scanRows(q, all.slice(0, 500), b);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(QueryLimitError);
    expect(err).toMatchObject({ limit: 'groups', max: 100 });
  });

  it('a LIMIT without ORDER BY stops collecting once it has enough rows', () => {
    const q = spec({ outputs: [{ name: 'id', expr: col('id'), type: 'string' }], limit: 3, offset: 2 });
    const b = new PartialBuilder(q);
    scanRows(q, all, b, 1000);
    expect(b.counters.batches).toBe(1);
    expect(finish(q, b.toPartial()).rows).toEqual([[all[2]!.id], [all[3]!.id], [all[4]!.id]]);
  });

  it('three-valued logic: NULL in IN lists, NOT of NULL, comparisons with NULL', () => {
    const rows = all.slice(0, 50);
    const ev = new Evaluator(batchFromRows(rows));
    const count = (e: Parameters<Evaluator['filter']>[0]) => ev.filter(e).length;
    const nulls = rows.filter((r) => r.source === null).length;
    expect(count(inList(col('source'), ['https://github.com', null]))).toBe(rows.filter((r) => r.source === 'https://github.com').length);
    expect(count(not(inList(col('source'), ['https://github.com', null])))).toBe(0);
    expect(count(not(inList(col('source'), ['https://github.com'])))).toBe(
      rows.length - nulls - rows.filter((r) => r.source === 'https://github.com').length,
    );
    expect(count(bin('=', col('source'), lit(null)))).toBe(0);
    expect(count(or(bin('=', col('source'), lit(null)), lit(true)))).toBe(rows.length);
    expect(count(not(and(isNull(col('source')), lit(null, 'boolean'))))).toBe(rows.length - nulls);
  });

  it('answers as one scan of everything when scans of whole shards keep only their top groups (groups by stream)', () => {
    const sqls = [
      (l: number, o: number) =>
        `SELECT stream, count(*) AS n, sum(version) AS v FROM events GROUP BY stream ORDER BY n DESC, stream LIMIT ${l} OFFSET ${o}`,
      (l: number, o: number) =>
        `SELECT stream, count(*) AS n FROM events GROUP BY stream HAVING count(*) > 2 ORDER BY max(seq) LIMIT ${l} OFFSET ${o}`,
      (l: number, o: number) =>
        `SELECT shard, stream, max(seq) AS m FROM events GROUP BY shard, stream ORDER BY m DESC LIMIT ${l} OFFSET ${o}`,
    ];
    const base = generate(400, 77, 0);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 400 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom(...sqls),
        (streams, shards, limit, offset, sql) => {
          // A stream's rows are all on one shard, as the routing puts them.
          const rows = streams.map((k, i) => ({ ...base[i]!, stream: `s${k}`, shard: k % shards }));
          const text = sql(limit, offset);
          const q = analyse(parseSelect(text), text);
          const one = new PartialBuilder(q);
          scanRows(q, rows, one, 37);
          const merged = new PartialBuilder(q);
          for (let shard = 0; shard < shards; shard++) {
            const b = new PartialBuilder(q);
            scanRows(
              q,
              rows.filter((r) => r.shard === shard),
              b,
              37,
            );
            const top = topPartial(q, b);
            expect((top as { groups: unknown[] }).groups.length).toBeLessThanOrEqual(limit + offset);
            merged.absorb(JSON.parse(JSON.stringify(top)) as Partial);
          }
          expect(finish(q, merged).rows).toEqual(finish(q, one).rows);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('scanBatch over an empty batch changes nothing but the counters', () => {
    const q = CASES[0]!.spec;
    const b = new PartialBuilder(q);
    scanBatch(q, batchFromRows([]), b);
    expect(finish(q, b.toPartial()).rows).toEqual([[0]]);
  });
});
