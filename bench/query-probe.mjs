// A perf probe of the query executor alone on Node (not a test, not part of `npm run bench`): the
// query benchmark's reference set (bench/query.mjs) over its generated Parquet files
// (bench/query-data.mjs, reused when present), ours (engine on one thread) beside DuckDB over the
// same files, each the median of RUNS (after one warm-up run each).
// Usage: npx node bench/query-probe.mjs [rows] [query ids, comma-separated]   (env RUNS, default 5;
// PROBE_OURS_ONLY=1 runs the engine alone, for a CPU profile)
import { build } from 'esbuild';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { generate } from './query-data.mjs';
import { columnChooser, referenceSet } from './query.mjs';

const n = Number(process.argv[2] ?? 1_000_000);
const only = (process.argv[3] ?? '').split(',').filter(Boolean);
const manifest = await generate(n, (m) => console.error(m));
const filesDir = join(fileURLToPath(new URL('.', import.meta.url)), '.out', `query-data-${n}`, 'files');
const { col } = columnChooser(manifest);
const queries = referenceSet()
  .filter((q) => only.length === 0 || only.includes(q.id))
  .map((q) => ({ id: q.id, sql: q.sql, duck: q.duck(col) }));

const out = fileURLToPath(new URL('../node_modules/.cache/query-probe.bundle.mjs', import.meta.url));
await build({
  entryPoints: [fileURLToPath(new URL('./query-probe.ts', import.meta.url))],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  outfile: out,
  external: ['@duckdb/node-api', 'parquet-wasm', 'apache-arrow', 'arrow-js-ffi'],
  logLevel: 'warning',
});
const probe = await import(pathToFileURL(out).href);
await probe.run({ n, manifest, filesDir, queries, runs: Number(process.env.RUNS ?? 5) });
