// The replica's layout: Hive-style partitions of Parquet segments, and which segments compaction merges.
//
// Keys: replica/tenant=<tenant>/date=<YYYY-MM-DD>/<shard>-<firstSeq>-<lastSeq>-L<level>.parquet
// `date` is the UTC day of the events' `time` (what analysts filter on), so one replicate step
// that covers several days writes one segment per day. The seq range is the shard range the
// segment was cut from; with the shard and level it makes the key deterministic, so a retried step
// writes the same object again. Keys sort by shard, then seq, inside a partition.

import { encodeParquet, parquetLayout, type ReplicaRow, type SegmentStats } from './parquet.js';

/** The UTC day of an epoch-millisecond time, as YYYY-MM-DD. */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Splits rows (kept in their order) by the UTC day of their time; days in ascending order. */
export function partitionByDate<T extends { time: number }>(rows: readonly T[]): Map<string, T[]> {
  const parts = new Map<string, T[]>();
  for (const row of rows) {
    const date = utcDate(row.time);
    let part = parts.get(date);
    if (!part) parts.set(date, (part = []));
    part.push(row);
  }
  return new Map([...parts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const pad = (n: number) => String(n).padStart(16, '0');

export function replicaPrefix(tenant: string, date?: string): string {
  return `replica/tenant=${encodeURIComponent(tenant)}/` + (date === undefined ? '' : `date=${date}/`);
}

export function replicaKey(tenant: string, date: string, shard: number, firstSeq: number, lastSeq: number, level: number): string {
  return `${replicaPrefix(tenant, date)}${String(shard).padStart(4, '0')}-${pad(firstSeq)}-${pad(lastSeq)}-L${level}.parquet`;
}

/** What compaction needs to know of a live replica segment (a catalog row). */
export interface CompactableSegment {
  key: string;
  level: number;
  firstSeq: number;
  lastSeq: number;
  rows: number;
}

/**
 * Chooses the runs of a partition's live segments to merge: consecutive in seq order, each run at
 * least `minSegments` long (so a partition is not rewritten for every new segment) and at most
 * `maxRows` rows, of segments smaller than `maxRows / 2` (a large one is left as it is). With
 * `tiered` (a day still being written), a run holds segments of one level only, as in a
 * size-tiered LSM tree: a merged segment waits for `minSegments` peers before it is rewritten, so
 * each event is rewritten about log_minSegments(n) times, not once per new segment. Pure, so a
 * retried compaction that sees the same catalog picks the same runs and writes the same keys.
 */
export function planCompaction(
  segments: readonly CompactableSegment[],
  options: { minSegments: number; maxRows: number; tiered?: boolean },
): CompactableSegment[][] {
  const sorted = [...segments].sort((a, b) => a.firstSeq - b.firstSeq || a.lastSeq - b.lastSeq);
  const runs: CompactableSegment[][] = [];
  let run: CompactableSegment[] = [];
  let rows = 0;
  const close = () => {
    if (run.length >= options.minSegments) runs.push(run);
    run = [];
    rows = 0;
  };
  for (const segment of sorted) {
    if (segment.rows * 2 > options.maxRows) {
      close();
      continue;
    }
    if (rows + segment.rows > options.maxRows || (options.tiered && run.length > 0 && run[0]!.level !== segment.level)) close();
    run.push(segment);
    rows += segment.rows;
  }
  close();
  return runs;
}

/**
 * The range of the segment that replaces a run: from the first seq to the last of the ranges the
 * run's segments were cut from (not of the rows they hold: a range's first or last event may be of
 * another day), one level above the highest merged.
 */
export function compactedRange(run: readonly CompactableSegment[]): { firstSeq: number; lastSeq: number; level: number } {
  return {
    firstSeq: Math.min(...run.map((s) => s.firstSeq)),
    lastSeq: Math.max(...run.map((s) => s.lastSeq)),
    level: Math.max(...run.map((s) => s.level)) + 1,
  };
}

/** The key of the segment that replaces a run (see compactedRange). */
export function compactedKey(tenant: string, date: string, shard: number, run: readonly CompactableSegment[]): string {
  const { firstSeq, lastSeq, level } = compactedRange(run);
  return replicaKey(tenant, date, shard, firstSeq, lastSeq, level);
}

export type SegmentKind = 'master' | 'replica';

/** One row of the segment catalog (migrations/0002_catalog.sql): a master row segment or a replica file. */
export interface CatalogSegment {
  key: string;
  kind: SegmentKind;
  tenant: string;
  shard: number;
  date: string | null;
  level: number;
  firstSeq: number;
  lastSeq: number;
  minTime: number;
  maxTime: number;
  rows: number;
  bytes: number;
  checksum: string | null;
  stats: SegmentStats;
}

/** The catalog's description of a replica segment: what the planner prunes with (decision 7). */
export interface ReplicaSegment extends CatalogSegment {
  kind: 'replica';
  date: string;
  checksum: null;
  stats: SegmentStats & Required<Pick<SegmentStats, 'columns' | 'shredded' | 'rowGroups'>>;
}

/**
 * Encodes one partition's rows (one shard, one UTC day, seq order) as a replica segment: the
 * Parquet bytes, and its catalog row under the deterministic key of the range it was cut from, with
 * the file's layout (where each column chunk lies) for range reads.
 */
export async function encodeReplica(
  range: { tenant: string; shard: number; firstSeq: number; lastSeq: number; level: number },
  date: string,
  rows: readonly ReplicaRow[],
): Promise<{ bytes: Uint8Array; segment: ReplicaSegment }> {
  const encoded = encodeParquet(rows);
  const layout = await parquetLayout(encoded.bytes);
  const time = encoded.stats.time;
  return {
    bytes: encoded.bytes,
    segment: {
      key: replicaKey(range.tenant, date, range.shard, range.firstSeq, range.lastSeq, range.level),
      kind: 'replica',
      tenant: range.tenant,
      shard: range.shard,
      date,
      level: range.level,
      firstSeq: range.firstSeq,
      lastSeq: range.lastSeq,
      minTime: Number(time?.min ?? rows[0]!.time),
      maxTime: Number(time?.max ?? rows[rows.length - 1]!.time),
      rows: encoded.rows,
      bytes: encoded.bytes.byteLength,
      checksum: null,
      stats: {
        columns: encoded.stats,
        shredded: encoded.shredded,
        rowGroups: encoded.rowGroups,
        ...(encoded.rowGroupStats ? { rowGroupStats: encoded.rowGroupStats } : {}),
        ...(layout ? { layout } : {}),
      },
    },
  };
}
