// A perf probe of the query executor (not a test, not part of `npm run bench`): ~1 M replica rows in
// 10 Parquet files, two queries, ours (parquet-wasm → Arrow → executor, single thread) beside DuckDB
// (@duckdb/node-api) over the same files. Run with `node bench/query-probe.mjs [rows]`.
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { encodeParquet, initParquet } from '../src/engine/parquet.js';
import { finish, mergePartials, PartialBuilder, scanParquet, type Partial } from '../src/engine/query/execute.js';
import { planQuery, type PlanSegment } from '../src/engine/query/plan.js';
import { a, agg, and, bin, col, g, generate, spec, ts } from '../test/unit/query-fixtures.js';

// Run from the repository root (the bundle lives elsewhere, so paths go by the working directory).
initParquet(readFileSync('node_modules/parquet-wasm/esm/parquet_wasm_bg.wasm'));

const total = Number(process.argv[2] ?? 1_000_000);
const files = 10;
const dir = mkdtempSync(`${tmpdir()}/query-probe-`);
const segments: { seg: PlanSegment; bytes: Uint8Array; file: string }[] = [];
let t0 = performance.now();
for (let k = 0; k < files; k++) {
  const rows = generate(total / files, 500 + k, k, 1 + k * 10_000_000);
  const enc = encodeParquet(rows);
  const file = `${dir}/f${k}.parquet`;
  writeFileSync(file, enc.bytes);
  segments.push({
    file,
    bytes: enc.bytes,
    seg: {
      key: file,
      kind: 'replica',
      shard: k,
      date: null,
      firstSeq: rows[0]!.seq,
      lastSeq: rows.at(-1)!.seq,
      minTime: enc.stats.time!.min as number,
      maxTime: enc.stats.time!.max as number,
      rows: rows.length,
      bytes: enc.bytes.length,
      stats: { columns: enc.stats, shredded: enc.shredded, rowGroups: enc.rowGroups },
    },
  });
}
console.log(`encoded ${total} rows in ${files} files in ${Math.round(performance.now() - t0)} ms`);

const byType = spec({
  outputs: [
    { name: 'type', expr: g(0), type: 'string' },
    { name: 'n', expr: a(0), type: 'integer' },
  ],
  groupBy: [col('type')],
  aggregates: [agg('count', null)],
});
const T1 = '2026-11-02T00:00:00.000Z';
const T2 = '2026-11-03T00:00:00.000Z';
const inWindow = spec({
  outputs: [{ name: 'n', expr: a(0), type: 'integer' }],
  where: and(bin('>=', col('time'), ts(T1)), bin('<', col('time'), ts(T2))),
  aggregates: [agg('count', null)],
});

const inst = await DuckDBInstance.create(':memory:');
const db = await inst.connect();
await db.run(`SET TimeZone='UTC'`);
const list = `[${segments.map((s) => `'${s.file}'`).join(', ')}]`;

async function ours(q: typeof byType) {
  const plan = planQuery(
    q,
    segments.map((s) => s.seg),
    { maxSegmentsPerScan: 100 },
  );
  let merged: Partial | null = null;
  for (const task of plan.tasks)
    for (const p of task.segments) {
      const b = new PartialBuilder(q);
      await scanParquet(q, segments.find((s) => s.seg.key === p.key)!.bytes, b, { columns: p.columns, rowGroups: p.rowGroups });
      merged = merged ? mergePartials(q, merged, b.toPartial()) : b.toPartial();
    }
  return finish(q, merged!);
}

for (const [name, q, sql] of [
  ['group by type', byType, `SELECT type, count(*) FROM read_parquet(${list}) GROUP BY type`],
  [
    'count with a time filter',
    inWindow,
    `SELECT count(*) FROM read_parquet(${list}) WHERE time >= TIMESTAMPTZ '${T1}' AND time < TIMESTAMPTZ '${T2}'`,
  ],
] as const) {
  const timesOurs: number[] = [];
  const timesDuck: number[] = [];
  let r1: unknown;
  let r2: unknown;
  for (let i = 0; i < 3; i++) {
    t0 = performance.now();
    r1 = (await ours(q)).rows;
    timesOurs.push(performance.now() - t0);
    t0 = performance.now();
    r2 = (await db.runAndReadAll(sql)).getRowsJson();
    timesDuck.push(performance.now() - t0);
  }
  const best = (xs: number[]) => Math.round(Math.min(...xs));
  console.log(
    `${name}: ours ${best(timesOurs)} ms, DuckDB ${best(timesDuck)} ms (best of 3); ours ${JSON.stringify(r1).slice(0, 120)} duck ${JSON.stringify(r2).slice(0, 120)}`,
  );
}
db.closeSync();
inst.closeSync();
rmSync(dir, { recursive: true, force: true });
