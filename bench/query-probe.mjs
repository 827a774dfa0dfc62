// Bundles bench/query-probe.ts with esbuild (next to node_modules, so its externals resolve) and runs it.
// Usage: node bench/query-probe.mjs [rows]   (Node ≥ 22: run through npm's node, e.g. `npx node bench/query-probe.mjs`)
import { build } from 'esbuild';
import { fileURLToPath, pathToFileURL } from 'node:url';

const out = fileURLToPath(new URL('../node_modules/.cache/query-probe.bundle.mjs', import.meta.url));
await build({
  entryPoints: [fileURLToPath(new URL('./query-probe.ts', import.meta.url))],
  bundle: true,
  platform: 'node',
  format: 'esm',
  outfile: out,
  external: ['@duckdb/node-api', 'parquet-wasm', 'apache-arrow'],
  logLevel: 'warning',
});
await import(pathToFileURL(out).href);
