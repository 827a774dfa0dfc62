// The body of bench/query-probe.mjs (bundled by it): runs each query with the engine alone (read the
// file, scan its planned row groups, merge, finish) and with DuckDB over the same files, and prints
// medians, the ratio and whether the answers agree (approximate aggregates within 5 %).
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initParquet, layoutRanges, parquetLayout, fileOfRanges, type ParquetLayout } from '../src/engine/parquet.js';
import { parseSelect } from '../src/engine/query/sql.js';
import { analyse } from '../src/engine/query/analyse.js';
import { countedPartial, finish, PartialBuilder, scanParquet, type Partial } from '../src/engine/query/execute.js';
import { planQuery, type PlanSegment } from '../src/engine/query/plan.js';

// Run from the repository root (the bundle lives elsewhere, so paths go by the working directory).
initParquet(readFileSync('node_modules/parquet-wasm/esm/parquet_wasm_bg.wasm'));

interface Query {
  id: string;
  sql: string;
  duck: string;
}

/** Each file's layout (computed once, untimed: the catalog would hold it), so a read fetches only the planned chunks as the Worker does with R2 range reads. */
const layouts = new Map<string, ParquetLayout | null>();

async function fetchSegment(
  filesDir: string,
  seg: { key: string; columns: string[]; rowGroups: number[] | null },
): Promise<Uint8Array | Blob> {
  const path = join(filesDir, seg.key);
  if (!layouts.has(seg.key)) layouts.set(seg.key, await parquetLayout(await readFile(path)));
  const layout = layouts.get(seg.key);
  const parts = layout ? layoutRanges(layout, seg.columns, seg.rowGroups) : null;
  if (!layout || !parts) return readFile(path);
  const fh = await open(path);
  try {
    const read = await Promise.all(
      parts.map(async ([offset, length]) => {
        const bytes = new Uint8Array(length);
        await fh.read(bytes, 0, length, offset);
        return { offset, bytes };
      }),
    );
    return fileOfRanges(layout.size, read);
  } finally {
    await fh.close();
  }
}

async function ours(sql: string, segments: PlanSegment[], filesDir: string) {
  const spec = analyse(parseSelect(sql), sql);
  const plan = planQuery(spec, segments, { maxSegmentsPerScan: 16 });
  // As the Worker does: one partial per segment (src/workers/scan.ts), shipped as JSON, absorbed by one builder, finished.
  const merging = new PartialBuilder(spec);
  for (const c of plan.counted) merging.absorb(countedPartial(spec, c.rows));
  for (const task of plan.tasks) {
    for (const seg of task.segments) {
      const b = new PartialBuilder(spec);
      const bytes = await fetchSegment(filesDir, seg);
      await scanParquet(spec, bytes, b, { columns: seg.columns, rowGroups: seg.rowGroups });
      merging.absorb(JSON.parse(JSON.stringify(b.toPartial())) as Partial);
    }
  }
  return finish(spec, merging);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime();
  if (v && typeof v === 'object' && 'micros' in v) return Number((v as { micros: bigint }).micros / 1000n);
  return v;
}

function agree(a: unknown[][], b: unknown[][], approx: number): boolean {
  if (a.length !== b.length) return false;
  return a.every((r, i) =>
    r.every((x, k) => {
      const y = b[i]![k];
      if (x === y) return true;
      if (typeof x === 'number' && typeof y === 'number')
        return Math.abs(x - y) <= Math.max(approx, 1e-9) * Math.max(Math.abs(x), Math.abs(y));
      return false;
    }),
  );
}

export async function run(o: { n: number; manifest: { segments: PlanSegment[] }; filesDir: string; queries: Query[]; runs: number }) {
  const inst = await DuckDBInstance.create(':memory:');
  const db = await inst.connect();
  await db.run(`SET TimeZone='UTC'`);
  const from = `read_parquet('${o.filesDir}/**/*.parquet', union_by_name = true, hive_partitioning = false)`;
  console.log(`${o.n} rows, ${o.manifest.segments.length} files; median of ${o.runs} runs after a warm-up`);
  console.log('| query | ours ms (best) | DuckDB ms (best) | ratio of medians | answers |');
  console.log('|---|---:|---:|---:|---|');
  for (const q of o.queries) {
    const duckSql = q.duck.replaceAll('FROM EVENTS', `FROM ${from} AS events`);
    const tOurs: number[] = [];
    const tDuck: number[] = [];
    let r1: unknown[][] = [];
    let r2: unknown[][] = [];
    for (let i = 0; i <= o.runs; i++) {
      let t0 = performance.now();
      const res = await ours(q.sql, o.manifest.segments, o.filesDir);
      if (i > 0) tOurs.push(performance.now() - t0);
      const ts = res.columns.map((c) => c.type === 'timestamp');
      r1 = res.rows.map((r) => r.map((v, k) => (ts[k] && typeof v === 'string' ? Date.parse(v) : v)));
      if (process.env.PROBE_OURS_ONLY) continue; // for profiling the engine alone
      t0 = performance.now();
      r2 = (await db.runAndReadAll(duckSql)).getRowsJS().map((r) => r.map(plain));
      if (i > 0) tDuck.push(performance.now() - t0);
    }
    const a = median(tOurs);
    const d = median(tDuck);
    const ok = agree(r1, r2, q.id === 'distinct-users' || q.id === 'quantiles' ? 0.1 : 0);
    console.log(
      `| ${q.id} | ${a.toFixed(0)} (${Math.min(...tOurs).toFixed(0)}) | ${d.toFixed(0)} (${Math.min(...tDuck).toFixed(0)}) | ${(a / d).toFixed(1)}× | ${ok ? 'agree' : `DIFFER ours ${JSON.stringify(r1).slice(0, 200)} duck ${JSON.stringify(r2).slice(0, 200)}`} |`,
    );
  }
  db.closeSync();
  inst.closeSync();
}
