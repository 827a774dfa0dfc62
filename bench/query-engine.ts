// The engine's TypeScript, as the query benchmark (bench/query.mjs, bench/query-data.mjs) needs it on
// Node: encode replica files and their catalog rows, and run a query through the engine alone
// (parse → analyse → plan → scan → merge → finish) over local Parquet files, with no Worker and no
// R2 in between. Bundled with esbuild by bench/query-bundle.mjs; not part of the Worker.

import { readFile } from 'node:fs/promises';
import { initParquet, type ReplicaRow } from '../src/engine/parquet.js';
import { encodeReplica, replicaKey, utcDate, type ReplicaSegment } from '../src/engine/replica.js';
import { shardOf } from '../src/engine/routing.js';
import { parseSelect } from '../src/engine/query/sql.js';
import { analyse } from '../src/engine/query/analyse.js';
import { planQuery, type PlanSegment } from '../src/engine/query/plan.js';
import { countedPartial, finish, mergePartials, PartialBuilder, scanParquet, type Partial } from '../src/engine/query/execute.js';
import { toSql } from '../src/engine/query/print.js';
import type { QuerySpec } from '../src/engine/query/ast.js';

export { initParquet, replicaKey, utcDate, shardOf };
/** The catalog's own INSERT statements, so the bench's loader writes rows exactly as the replicator does. */
export { insertSegments } from '../src/workers/catalog.js';

/**
 * Encodes one file's rows (one shard, seq order, one UTC day of `time`) and its catalog row with the
 * replicator's own `encodeReplica` (key from the seq range, column, shredding and row-group stats,
 * and the layout the Worker's range reads use).
 */
export async function encodeSegment(
  tenant: string,
  rows: ReplicaRow[],
  level: number,
): Promise<{ bytes: Uint8Array; row: ReplicaSegment }> {
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  const { bytes, segment } = await encodeReplica(
    { tenant, shard: first.shard, firstSeq: first.seq, lastSeq: last.seq, level },
    utcDate(first.time),
    rows,
  );
  return { bytes, row: segment };
}

/** Parses and analyses SQL into the spec the planner and executor run. */
export function specOf(sql: string): QuerySpec {
  return analyse(parseSelect(sql), sql);
}

/** The query as DuckDB SQL over `from` (paths through the `data` JSON, the engine's typing). */
export function duckdbSqlOf(sql: string, from: string): string {
  return toSql(specOf(sql), { dialect: 'duckdb', from });
}

export interface EngineStats {
  segmentsTotal: number;
  segmentsScanned: number;
  rowGroupsPruned: number;
  rowsScanned: number;
  bytesRead: number;
  tasks: number;
  planMs: number;
  readMs: number;
  scanMs: number;
  mergeMs: number;
  elapsedMs: number;
}

/**
 * Runs a query with the engine alone over local files: `segments` are catalog rows, `fileOf` maps
 * a key to its local path. Plans like the Worker would (tasks of up to `maxSegmentsPerScan`), scans
 * every planned segment into its task's partial, merges the partials and finishes. Each file is
 * read whole from disk (the OS page cache is warm after the first run, as for DuckDB).
 */
export async function runEngine(
  sql: string,
  segments: readonly PlanSegment[],
  fileOf: (key: string) => string,
  options: { maxSegmentsPerScan?: number } = {},
): Promise<{ columns: { name: string; type: string }[]; rows: unknown[][]; stats: EngineStats }> {
  const t0 = performance.now();
  const spec = specOf(sql);
  const plan = planQuery(spec, segments, { maxSegmentsPerScan: options.maxSegmentsPerScan ?? 16 });
  const t1 = performance.now();
  let readMs = 0;
  let scanMs = 0;
  let mergeMs = 0;
  let bytesRead = 0;
  let merged: Partial | null = null;
  for (const c of plan.counted) merged = merged ? mergePartials(spec, merged, countedPartial(spec, c.rows)) : countedPartial(spec, c.rows);
  for (const task of plan.tasks) {
    const b = new PartialBuilder(spec);
    for (const seg of task.segments) {
      const r0 = performance.now();
      const bytes = await readFile(fileOf(seg.key));
      const r1 = performance.now();
      bytesRead += bytes.byteLength;
      await scanParquet(spec, bytes, b, { columns: seg.columns, rowGroups: seg.rowGroups });
      readMs += r1 - r0;
      scanMs += performance.now() - r1;
    }
    const m0 = performance.now();
    // The partial crosses a sub-request boundary as JSON in the Worker: do the same here.
    const p = JSON.parse(JSON.stringify(b.toPartial())) as Partial;
    merged = merged ? mergePartials(spec, merged, p) : p;
    mergeMs += performance.now() - m0;
  }
  const f0 = performance.now();
  const result = finish(spec, merged ?? new PartialBuilder(spec).toPartial());
  mergeMs += performance.now() - f0;
  return {
    columns: result.columns,
    rows: result.rows,
    stats: {
      segmentsTotal: plan.segmentsTotal,
      segmentsScanned: plan.segmentsScanned,
      rowGroupsPruned: plan.rowGroupsPruned,
      rowsScanned: merged?.rowsScanned ?? 0,
      bytesRead,
      tasks: plan.tasks.length,
      planMs: t1 - t0,
      readMs,
      scanMs,
      mergeMs,
      elapsedMs: performance.now() - t0,
    },
  };
}
