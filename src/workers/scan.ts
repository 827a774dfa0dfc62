// Scanning replica segments: R2 range reads of the planned column chunks, the planned columns and
// row groups decoded, one partial result per segment (or, for a plan's topInScans, one partial of
// the top groups of all of them). Runs in a Scanner object (fan-out) or in the coordinator itself.

import type { QuerySpec } from '../engine/query/ast.js';
import { PartialBuilder, QueryLimitError, scanParquet, topPartial, type Partial } from '../engine/query/execute.js';
import { fileOfRanges } from '../engine/parquet.js';
import { replicaPrefix } from '../engine/replica.js';
import { ensureParquet } from './wasm.js';

/** One segment of a scan: what the plan says to read of it. */
export interface SegmentScan {
  key: string;
  columns: string[];
  rowGroups: number[] | null;
  /** The byte ranges to fetch and the file's size, when the catalog knows its layout; else the file is read whole. */
  ranges: { size: number; parts: [offset: number, length: number][] } | null;
}

/**
 * The limits a scan enforces: groups per partial, and bytes of the partials it answers (its share
 * of the query's state budget, so that all the answers together fit the coordinator's 128 MB).
 */
export interface ScanLimits {
  maxGroups: number;
  maxStateBytes: number;
  /**
   * The plan's `topInScans`: the segments are whole shards and their groups complete, so all of them
   * are merged into one partial of only the top groups (`topPartial`). The groups held meanwhile are
   * bounded by `maxStateBytes`, not `maxGroups`.
   */
  top?: boolean;
}

export type ScanReply =
  | { ok: true; partials: { key: string; partial: Partial; bytes: number }[]; bytesRead: number }
  | { ok: false; limit: QueryLimitError['limit'] | 'memory'; max: number; actual: number };

/**
 * The file a scan decodes: with ranges, only those (one R2 range read each, in parallel) seen as
 * the file (nothing the file's size is allocated); else the whole object. A segment retired by
 * compaction stays readable for COMPACT_GRACE_MS; missing means a plan far older than that.
 */
async function fetchSegment(env: Env, s: SegmentScan): Promise<Uint8Array | Blob> {
  const missing = () => new Error(`replica segment ${s.key} is missing from R2`);
  if (!s.ranges) {
    const object = await env.SEGMENTS.get(s.key);
    if (!object) throw missing();
    return new Uint8Array(await object.arrayBuffer());
  }
  const parts = await Promise.all(
    s.ranges.parts.map(async ([offset, length]) => {
      const object = await env.SEGMENTS.get(s.key, { range: { offset, length } });
      if (!object) throw missing();
      return { offset, bytes: new Uint8Array(await object.arrayBuffer()) };
    }),
  );
  return fileOfRanges(s.ranges.size, parts);
}

/**
 * Scans each segment into its own partial. Keys outside the tenant's replica are refused (the
 * coordinator plans only from the tenant's catalog rows; this keeps a scan confined even if not).
 * A limit crossed is answered, not thrown, so it reaches the caller as a 4xx and not as an RPC error.
 */
export async function scanSegments(
  env: Env,
  tenant: string,
  spec: QuerySpec,
  segments: SegmentScan[],
  limits: ScanLimits,
): Promise<ScanReply> {
  ensureParquet();
  const prefix = replicaPrefix(tenant);
  for (const s of segments) {
    if (!s.key.startsWith(prefix)) throw new Error(`segment ${s.key} is not in the replica of tenant ${tenant}`);
  }
  const partials: { key: string; partial: Partial; bytes: number }[] = [];
  let bytesRead = 0;
  let held = 0;
  // The next segment's reads are under way while this one is scanned: an R2 round trip per
  // segment would otherwise add up along the task. One segment ahead bounds the memory held.
  const fetching = (i: number) => {
    const s = segments[i];
    if (!s) return null;
    const pending = fetchSegment(env, s);
    pending.catch(() => {}); // awaited in its turn; not an unhandled rejection if the scan stops first
    return pending;
  };
  let next = fetching(0);
  const shared = limits.top ? new PartialBuilder(spec, { maxGroups: Number.MAX_SAFE_INTEGER }) : null;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const bytes = await next!;
    next = fetching(i + 1);
    bytesRead += s.ranges ? s.ranges.parts.reduce((n, [, length]) => n + length, 0) : (bytes as Uint8Array).byteLength;
    const builder = shared ?? new PartialBuilder(spec, { maxGroups: limits.maxGroups });
    try {
      await scanParquet(spec, bytes, builder, { columns: s.columns, rowGroups: s.rowGroups });
    } catch (error) {
      if (error instanceof QueryLimitError) return { ok: false, limit: error.limit, max: error.max, actual: error.actual };
      throw error;
    }
    if (shared) {
      // Every fourth segment and the last: stateSize walks every group.
      if (i % 4 !== 3 && i !== segments.length - 1) continue;
      const size = shared.stateSize();
      if (size > limits.maxStateBytes) return { ok: false, limit: 'memory', max: limits.maxStateBytes, actual: size };
      continue;
    }
    const partial = builder.toPartial();
    const size = JSON.stringify(partial).length;
    // What this scan sends and the coordinator holds: its share of the query's state budget.
    held += size;
    if (held > limits.maxStateBytes) return { ok: false, limit: 'memory', max: limits.maxStateBytes, actual: held };
    partials.push({ key: s.key, partial, bytes: size });
  }
  if (shared) {
    const partial = topPartial(spec, shared);
    return {
      ok: true,
      partials: [{ key: segments.map((s) => s.key).join(' '), partial, bytes: JSON.stringify(partial).length }],
      bytesRead,
    };
  }
  return { ok: true, partials, bytesRead };
}
