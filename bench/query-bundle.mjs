// Bundles bench/query-engine.ts (the engine's TypeScript the query benchmark uses on Node) with
// esbuild, next to node_modules so that its externals resolve, and imports it. parquet-wasm is
// initialised from its .wasm file, so callers get a ready engine.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const bundlePath = join(root, 'node_modules', '.cache', 'query-engine.bundle.mjs');

let built = null;

/** Builds the bundle (once per process unless `rebuild`); worker threads pass `rebuild: false` to use the main thread's. */
export async function loadEngine({ rebuild = true } = {}) {
  if (rebuild && !built) {
    built = build({
      entryPoints: [join(root, 'bench', 'query-engine.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      outfile: bundlePath,
      external: ['@duckdb/node-api', 'parquet-wasm', 'apache-arrow'],
      logLevel: 'warning',
    });
  }
  await built;
  const engine = await import(pathToFileURL(bundlePath).href);
  engine.initParquet(readFileSync(join(root, 'node_modules', 'parquet-wasm', 'esm', 'parquet_wasm_bg.wasm')));
  return engine;
}
