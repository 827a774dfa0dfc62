// The replica's Parquet codec on Node: what DuckDB reads from our files, the shredding rule, exact
// round trips, and the statistics the catalog will prune with.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readSchema } from 'parquet-wasm/esm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chooseShredded,
  compareCodePoints,
  decodeParquet,
  encodeParquet,
  initParquet,
  type ColumnStats,
  type EncodedParquet,
  type ReplicaRow,
} from '../../src/engine/parquet.js';
import { rng } from './query-fixtures.js';

// The same `parquet-wasm/esm` module instance the codec imports, initialised from the bytes.
initParquet(readFileSync(new URL('../../node_modules/parquet-wasm/esm/parquet_wasm_bg.wasm', import.meta.url)));

const TYPES = ['post.created', 'post.liked', 'post.liked', 'post.commented', 'member.joined', 'ünïcødé.✓'];
// Code unit order and code point order disagree on these two: U+FF21 > U+1F600 in UTF-16, < in UTF-8.
const STREAMS = ['post-1', 'post-2', 'post-Ａ', 'post-😀', 'group-7', 'group-чат', 'post-3', 'post-4'];

/** Webhook-like rows of one shard, with every kind of value the codec must carry. */
function generate(n: number, seed = 1): ReplicaRow[] {
  const r = rng(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(r() * list.length)]!;
  const versions = new Map<string, number>();
  const base = Date.UTC(2026, 10, 1, 8);
  return Array.from({ length: n }, (_, i) => {
    const stream = pick(STREAMS);
    const version = (versions.get(stream) ?? 0) + 1;
    versions.set(stream, version);
    const data: Record<string, unknown> = {
      likes: Math.floor(r() * 1000), // number, always: shredded
      score: i % 10 === 0 ? null : Math.round(r() * 1e4) / 100, // number or null: shredded, nullable
      mixed: i % 3 === 0 ? 'many' : 7, // two types: not shredded
      tags: ['a', pick(['b', 'c'])], // array: not shredded
      'not-an-identifier': 1, // segment is not an identifier: not shredded
      user: {
        name: pick(['Ada', 'Bea', 'Chen', 'Dara ✓', '😀 Eli']), // few distinct strings: shredded
        handle: `h${i}`, // unique strings: not shredded (a dictionary of unique values does not pay)
        verified: r() < 0.2, // boolean: shredded
        deep: { level3: i % 4, level4: { x: 1 } }, // level3 shredded; level4 is an object at depth 3
      },
      text: `Héllo wörld ${i} 😀 "quoted" \\ \n line`, // unique strings: not shredded
      ...(r() < 0.3 ? { rare: true } : {}), // present in < 50 %: not shredded
    };
    return {
      seq: 1_000_000 + i,
      id: `evt-${seed}-${i}`,
      stream,
      version,
      type: pick(TYPES),
      source: r() < 0.2 ? null : pick(['https://github.com', 'https://slack.com/ä']),
      subject: r() < 0.7 ? null : `subject-${i % 13}`,
      time: base + i * 997 - Math.floor(r() * 5000),
      receivedAt: base + i * 1000,
      data: JSON.stringify(data),
      shard: 6,
    };
  });
}

describe('chooseShredded', () => {
  const row = (data: unknown, i = 0): ReplicaRow => ({
    seq: i + 1,
    id: `e${i}`,
    stream: 's',
    version: i + 1,
    type: 't',
    source: null,
    subject: null,
    time: 0,
    receivedAt: 0,
    data: JSON.stringify(data),
    shard: 0,
  });
  const rows = (values: unknown[]) => values.map(row);

  it('shreds leaf paths of one scalar type that are present in at least half the rows', () => {
    const chosen = chooseShredded(
      rows([
        { a: 1, b: 'x', c: true, d: { e: 2 }, mixed: 1, arr: [1], obj: { k: {} }, rare: 1 },
        { a: 2, b: 'x', c: false, d: { e: 3 }, mixed: 'one' },
        { a: null, b: 'y', c: true, d: { e: 4 }, mixed: 2, arr: [2] },
        { a: 3, b: 'x', c: true, d: null },
      ]),
      { maxDistinctShare: 1 },
    );
    expect(chosen).toEqual([
      { name: 'data.a', path: ['a'], type: 'double' },
      { name: 'data.b', path: ['b'], type: 'string' },
      { name: 'data.c', path: ['c'], type: 'boolean' },
      { name: 'data.d.e', path: ['d', 'e'], type: 'double' },
    ]);
  });

  it('leaves out paths that are sometimes an object, deeper than maxDepth, or not identifiers', () => {
    const data = { p: { q: 1 }, 'a-b': 1, $x: 2, '': 3, '1a': 4, deep: { l2: { l3: { l4: 1 }, v: 1 } } };
    const other = { p: 5, 'a-b': 1, $x: 2, '': 3, '1a': 4, deep: { l2: { l3: { l4: 2 }, v: 2 } } };
    expect(chooseShredded(rows([data, other, data])).map((c) => c.name)).toEqual(['data.deep.l2.v', 'data.p.q']);
    expect(chooseShredded(rows([data, other, data]), { maxDepth: 4 }).map((c) => c.name)).toEqual([
      'data.deep.l2.l3.l4',
      'data.deep.l2.v',
      'data.p.q',
    ]);
  });

  it('shreds strings only when their values repeat', () => {
    const values = Array.from({ length: 100 }, (_, i) => ({ unique: `u${i}`, few: `f${i % 20}`, fewer: `g${i % 5}` }));
    expect(chooseShredded(rows(values)).map((c) => c.name)).toEqual(['data.few', 'data.fewer']);
    expect(chooseShredded(rows(values), { maxDistinctShare: 0.1 }).map((c) => c.name)).toEqual(['data.fewer']);
    expect(chooseShredded(rows(values), { maxDistinctShare: 1 }).map((c) => c.name)).toEqual(['data.few', 'data.fewer', 'data.unique']);
  });

  it('keeps the most often present paths when there are more than maxColumns, and is deterministic', () => {
    const values = Array.from({ length: 10 }, (_, i) => {
      const o: Record<string, number> = {};
      for (let k = 0; k < 40; k++) if (i < 5 + (k % 6)) o[`k${String(k).padStart(2, '0')}`] = k;
      return o;
    });
    // kNN is present in 5 + NN % 6 rows (at most 10): the seven present in 5 rows and, of those in
    // 6, the last by name (k37) do not make the 32.
    const chosen = chooseShredded(rows(values)).map((c) => c.name);
    const dropped = ['k00', 'k06', 'k12', 'k18', 'k24', 'k30', 'k36', 'k37'].map((k) => `data.${k}`);
    const all = Array.from({ length: 40 }, (_, k) => `data.k${String(k).padStart(2, '0')}`);
    expect(chosen).toEqual(all.filter((n) => !dropped.includes(n)));
    expect(chooseShredded(rows(values), { maxColumns: 40 })).toHaveLength(40);
    expect(chooseShredded(rows(values), { minShare: 0.9 }).map((c) => c.name)).toEqual(
      ['04', '05', '10', '11', '16', '17', '22', '23', '28', '29', '34', '35'].map((k) => `data.k${k}`),
    );
  });

  it('shreds nothing from data that is not an object or not JSON', () => {
    const odd = [row([1, 2]), row('text'), row(42), { ...row({}), data: '{not json' }];
    expect(chooseShredded(odd)).toEqual([]);
    expect(chooseShredded([])).toEqual([]);
  });
});

describe('compareCodePoints', () => {
  it('orders strings as UTF-8 bytes do', () => {
    const enc = new TextEncoder();
    const bytewise = (a: string, b: string) => {
      const x = enc.encode(a);
      const y = enc.encode(b);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    };
    expect(compareCodePoints('Ａ', '😀')).toBeLessThan(0);
    expect('Ａ' < '😀').toBe(false); // the reason this function exists
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(Math.sign(compareCodePoints(a, b))).toBe(Math.sign(bytewise(a, b)));
      }),
    );
  });
});

describe('Parquet files, read by DuckDB', () => {
  const N = 3_000;
  const rows = generate(N);
  let encoded: EncodedParquet;
  let dir: string;
  let file: string;
  let instance: DuckDBInstance;
  let db: DuckDBConnection;
  const query = async (sql: string) => (await db.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  const one = async (sql: string) => (await query(sql))[0]!;

  beforeAll(async () => {
    encoded = encodeParquet(rows, { rowGroupSize: 1_000 });
    dir = mkdtempSync(`${tmpdir()}/parquet-unit-`);
    file = `${dir}/segment.parquet`;
    writeFileSync(file, encoded.bytes);
    instance = await DuckDBInstance.create(':memory:');
    db = await instance.connect();
  });
  afterAll(() => {
    db?.closeSync();
    instance?.closeSync();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has the table columns with their types, then the shredded ones', async () => {
    expect(encoded.shredded).toEqual([
      { name: 'data.likes', path: ['likes'], type: 'double' },
      { name: 'data.score', path: ['score'], type: 'double' },
      { name: 'data.user.deep.level3', path: ['user', 'deep', 'level3'], type: 'double' },
      { name: 'data.user.name', path: ['user', 'name'], type: 'string' },
      { name: 'data.user.verified', path: ['user', 'verified'], type: 'boolean' },
    ]);
    const columns = await query(`DESCRIBE SELECT * FROM '${file}'`);
    expect(Object.fromEntries(columns.map((c) => [c.column_name, c.column_type]))).toEqual({
      id: 'VARCHAR',
      stream: 'VARCHAR',
      type: 'VARCHAR',
      source: 'VARCHAR',
      subject: 'VARCHAR',
      time: 'TIMESTAMP WITH TIME ZONE',
      received_at: 'TIMESTAMP WITH TIME ZONE',
      shard: 'INTEGER',
      seq: 'BIGINT',
      version: 'BIGINT',
      data: 'VARCHAR',
      'data.likes': 'DOUBLE',
      'data.score': 'DOUBLE',
      'data.user.deep.level3': 'DOUBLE',
      'data.user.name': 'VARCHAR',
      'data.user.verified': 'BOOLEAN',
    });
    // The Arrow types come back as written (the file carries its Arrow schema).
    const arrow = tableFromIPC(readSchema(encoded.bytes).intoIPCStream()).schema;
    expect(Object.fromEntries(arrow.fields.map((f) => [f.name, `${String(f.type)}${f.nullable ? '?' : ''}`]))).toEqual({
      id: 'Utf8',
      stream: 'Dictionary<Int32, Utf8>',
      type: 'Dictionary<Int32, Utf8>',
      source: 'Dictionary<Int32, Utf8>?',
      subject: 'Dictionary<Int32, Utf8>?',
      time: 'Timestamp<MILLISECOND, UTC>',
      received_at: 'Timestamp<MILLISECOND, UTC>',
      shard: 'Int32',
      seq: 'Int64',
      version: 'Int64',
      data: 'Utf8',
      'data.likes': 'Float64?',
      'data.score': 'Float64?',
      'data.user.deep.level3': 'Float64?',
      'data.user.name': 'Dictionary<Int32, Utf8>?',
      'data.user.verified': 'Bool?',
    });
    const kv = await query(
      `SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata('${file}') WHERE decode(key) LIKE 'eventstore.%'`,
    );
    expect(Object.fromEntries(kv.map((r) => [r.key, r.value]))).toEqual({
      'eventstore.format': 'esp1',
      'eventstore.shredded': JSON.stringify(encoded.shredded.map(({ path, type }) => ({ path, type }))),
    });
  });

  it('holds every row, in seq order, with its values', async () => {
    const got = await query(
      `SELECT id, stream, type, source, subject, epoch_ms(time) AS time, epoch_ms(received_at) AS received_at, shard, seq, version, data FROM '${file}'`,
    );
    expect(got).toHaveLength(N);
    expect(got.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    got.forEach((g, i) => {
      const r = rows[i]!;
      expect({ ...g, time: Number(g.time), received_at: Number(g.received_at), seq: Number(g.seq), version: Number(g.version) }).toEqual({
        id: r.id,
        stream: r.stream,
        type: r.type,
        source: r.source,
        subject: r.subject,
        time: r.time,
        received_at: r.receivedAt,
        shard: r.shard,
        seq: r.seq,
        version: r.version,
        data: r.data,
      });
      expect(JSON.parse(g.data as string)).toEqual(JSON.parse(r.data));
    });
  });

  it('answers aggregates as JavaScript computes them', async () => {
    const byType = await query(`SELECT type, count(*)::INTEGER AS n FROM '${file}' GROUP BY type`);
    const expected = new Map<string, number>();
    for (const r of rows) expected.set(r.type, (expected.get(r.type) ?? 0) + 1);
    expect(new Map(byType.map((r) => [r.type as string, r.n as number]))).toEqual(expected);

    const parsed = rows.map(
      (r) => JSON.parse(r.data) as { likes: number; score: number | null; user: { name: string; verified: boolean } },
    );
    const sums = await one(
      `SELECT sum("data.likes") AS likes, count("data.score")::INTEGER AS scored, sum("data.score" * 100)::BIGINT AS score100,
              count(*) FILTER (WHERE "data.user.verified")::INTEGER AS verified,
              count(*) FILTER (WHERE "data.user.name" = json_extract_string(data, '$.user.name'))::INTEGER AS names
       FROM '${file}'`,
    );
    expect(sums.likes).toBe(parsed.reduce((s, d) => s + d.likes, 0));
    expect(sums.scored).toBe(parsed.filter((d) => d.score !== null).length);
    expect(Number(sums.score100)).toBe(parsed.reduce((s, d) => s + Math.round((d.score ?? 0) * 100), 0));
    expect(sums.verified).toBe(parsed.filter((d) => d.user.verified).length);
    expect(sums.names).toBe(N);
  });

  it('carries min/max statistics per row group, and answers the same statistics itself', async () => {
    const meta = await query(
      `SELECT row_group_id::INTEGER AS rg, path_in_schema AS col, coalesce(stats_min_value, stats_min) AS min,
              coalesce(stats_max_value, stats_max) AS max, stats_null_count::INTEGER AS nulls, compression
       FROM parquet_metadata('${file}')`,
    );
    expect(new Set(meta.map((m) => m.rg))).toEqual(new Set([0, 1, 2]));
    expect(encoded.rowGroups).toBe(3);
    for (const m of meta) {
      expect(m.compression).toBe('ZSTD');
      if (m.col === 'data') continue; // no statistics for JSON documents
      if (m.col === 'subject' && m.nulls === 1_000) continue; // no value, no min/max
      expect(m, `${m.col} in row group ${m.rg}`).toMatchObject({ min: expect.any(String), max: expect.any(String) });
    }
    const seq = meta.filter((m) => m.col === 'seq').map((m) => [Number(m.min), Number(m.max)]);
    expect(seq).toEqual([
      [1_000_000, 1_000_999],
      [1_001_000, 1_001_999],
      [1_002_000, 1_002_999],
    ]);

    // Our own file-level statistics agree with DuckDB's min/max/count over the file.
    for (const [name, s] of Object.entries(encoded.stats)) {
      if (name === 'data') {
        expect(s).toEqual({ min: null, max: null, nulls: 0 });
        continue;
      }
      const ts = name === 'time' || name === 'received_at';
      const col = `"${name}"`;
      const d = await one(
        `SELECT ${ts ? `epoch_ms(min(${col}))` : `min(${col})`} AS min, ${ts ? `epoch_ms(max(${col}))` : `max(${col})`} AS max,
                (count(*) - count(${col}))::INTEGER AS nulls FROM '${file}'`,
      );
      // DuckDB answers BIGINTs as strings, and min(0.0) as -0 (Parquet statistics write a zero minimum as -0.0).
      const norm = (v: unknown) => (typeof v === 'string' && typeof s.min === 'number' ? Number(v) : typeof v === 'number' ? v + 0 : v);
      expect({ min: norm(d.min), max: norm(d.max), nulls: d.nulls } as ColumnStats, name).toEqual(s);
    }
    expect(encoded.stats.stream!.max).toBe('post-😀');
  });

  it('decodes back to exactly the rows it was given', () => {
    expect(decodeParquet(encoded.bytes)).toEqual(rows);
  });

  it('refuses files that are not replica segments, and keeps working after', async () => {
    await db.run(`COPY (SELECT 1 AS id, 'x' AS stream) TO '${dir}/other.parquet' (FORMAT parquet)`);
    expect(() => decodeParquet(readFileSync(`${dir}/other.parquet`))).toThrow(/not a replica segment: column "id" is Int32/);
    expect(() => decodeParquet(encoded.bytes.slice(0, -100))).toThrow(/Parquet/);
    expect(() => decodeParquet(new Uint8Array(0))).toThrow();
    expect(decodeParquet(encoded.bytes)).toHaveLength(N);
  });
});

describe('encodeParquet', () => {
  const rows = generate(50, 9);

  it('leaves out a requested column when some row holds another type there', () => {
    const encoded = encodeParquet(rows, {
      shredded: [
        { name: 'data.mixed', path: ['mixed'], type: 'double' },
        { name: 'data.likes', path: ['likes'], type: 'double' },
        { name: 'data.user.handle', path: ['user', 'handle'], type: 'string' },
        { name: 'data.absent', path: ['absent'], type: 'boolean' },
      ],
    });
    expect(encoded.shredded.map((c) => c.name)).toEqual(['data.likes', 'data.user.handle', 'data.absent']);
    expect(encoded.stats['data.absent']).toEqual({ min: null, max: null, nulls: 50 });
    expect(encoded.stats['data.mixed']).toBeUndefined();
    expect(decodeParquet(encoded.bytes)).toEqual(rows);
  });

  it('reads shredded values of own properties only', () => {
    const odd = rows.slice(0, 2).map((r, i) => ({ ...r, data: i ? '{}' : '{"constructor":"x","__proto__":"z"}' }));
    const encoded = encodeParquet(odd, {
      shredded: [
        { name: 'data.constructor', path: ['constructor'], type: 'string' },
        { name: 'data.__proto__', path: ['__proto__'], type: 'string' },
        { name: 'data.toString', path: ['toString'], type: 'string' },
      ],
    });
    expect(encoded.stats['data.constructor']).toEqual({ min: 'x', max: 'x', nulls: 1 });
    expect(encoded.stats['data.__proto__']).toEqual({ min: 'z', max: 'z', nulls: 1 });
    expect(encoded.stats['data.toString']).toEqual({ min: null, max: null, nulls: 2 });
    expect(chooseShredded(odd, { maxDistinctShare: 1 }).map((c) => c.name)).toEqual(['data.__proto__', 'data.constructor']);
  });

  it('decodes files of more rows than one read into parquet-wasm takes', () => {
    for (const n of [10_000, 10_001]) {
      const big = generate(n, 3);
      expect(decodeParquet(encodeParquet(big).bytes)).toEqual(big);
    }
  });

  it('writes an empty file and refuses a bad row group size', () => {
    const empty = encodeParquet([]);
    expect(empty).toMatchObject({ rows: 0, rowGroups: 0, shredded: [] });
    expect(decodeParquet(empty.bytes)).toEqual([]);
    expect(() => encodeParquet(rows, { rowGroupSize: 0 })).toThrow(RangeError);
  });

  it('round-trips any rows exactly', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 12 });
    const arbRow = fc.record({
      id: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
      stream: text,
      version: fc.integer({ min: 1, max: 2 ** 40 }),
      type: text,
      source: fc.option(text),
      subject: fc.option(text),
      time: fc.integer({ min: -(2 ** 46), max: 2 ** 46 }),
      receivedAt: fc.integer({ min: 0, max: 2 ** 46 }),
      data: fc.oneof(
        fc.jsonValue(),
        fc.record({ n: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer()), s: fc.constantFrom('a', 'b', 'ü') }),
      ),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 50 }),
        fc.integer({ min: 0, max: 1023 }),
        fc.array(arbRow, { maxLength: 25 }),
        fc.integer({ min: 1, max: 8 }),
        (first, shard, parts, rowGroupSize) => {
          const rows = parts.map((p, i): ReplicaRow => ({ ...p, seq: first + i, shard, data: JSON.stringify(p.data) }));
          const encoded = encodeParquet(rows, { rowGroupSize });
          expect(encoded.rowGroups).toBe(Math.ceil(rows.length / rowGroupSize));
          expect(decodeParquet(encoded.bytes)).toEqual(rows);
        },
      ),
      { numRuns: 150 },
    );
  });
});
