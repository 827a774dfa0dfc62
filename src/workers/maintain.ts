// Maintenance (Queue consumer): compaction of small Parquet segments, rebuild of the replica from the master store.

import type { MasterSegment } from '../durable/shard.js';
import { decodeParquet, type ReplicaRow } from '../engine/parquet.js';
import { compactedKey, compactedRange, planCompaction, utcDate } from '../engine/replica.js';
import { config } from '../config.js';
import { expiredSegments, liveSegments, markDeleted, registerSegments, swapSegments, type CatalogSegment } from './catalog.js';
import { readMasterSegment } from './master.js';
import { writeReplica } from './replicator.js';
import { shardStub } from './shards.js';
import { ensureParquet } from './wasm.js';

export type MaintainMessage =
  | { op: 'compact'; tenant: string; shard: number; date: string }
  | { op: 'rebuild'; tenant: string; shard: number }
  | { op: 'query'; tenant: string; id: string };

const DAY_MS = 86_400_000;

/**
 * Merges runs of a partition's small live segments into one segment each and swaps them in the
 * catalog atomically (see swapSegments). A retry recomputes the same runs from the same catalog
 * and writes the same keys; a swap that lost a race leaves the catalog as the winner made it.
 * Then deletes the objects of segments retired longer than the grace period.
 */
export async function compactPartition(env: Env, message: { tenant: string; shard: number; date: string }): Promise<number> {
  const { minSegments, maxRows, graceMs } = config(env).compact;
  const live = await liveSegments(env, message.tenant, { kind: 'replica', date: message.date, shard: message.shard });
  // A day that is over gathers no more segments: merge whatever it has.
  const closed = message.date < utcDate(Date.now() - DAY_MS);
  const runs = planCompaction(live, { minSegments: closed ? 2 : minSegments, maxRows, tiered: !closed });
  let swapped = 0;
  if (runs.length > 0) ensureParquet();
  for (const run of runs) {
    const rows: ReplicaRow[] = [];
    for (const segment of run) {
      const object = await env.SEGMENTS.get(segment.key);
      if (!object) throw new Error(`live replica segment ${segment.key} is missing from R2`);
      const decoded = decodeParquet(new Uint8Array(await object.arrayBuffer()));
      if (decoded.length !== segment.rows)
        throw new Error(`replica segment ${segment.key} has ${decoded.length} rows, the catalog says ${segment.rows}`);
      rows.push(...decoded);
    }
    rows.sort((a, b) => a.seq - b.seq);
    const key = compactedKey(message.tenant, message.date, message.shard, run);
    const [merged, ...extra] = await writeReplica(env, { tenant: message.tenant, shard: message.shard, ...compactedRange(run) }, rows);
    if (!merged || extra.length > 0 || merged.key !== key)
      throw new Error(`compaction of ${message.date} wrote ${merged?.key} and ${extra.length} more, expected ${key}`);
    if (
      await swapSegments(
        env,
        run.map((s) => s.key),
        [merged],
      )
    )
      swapped++;
    else console.warn(JSON.stringify({ msg: 'compaction lost a race; catalog left as the winner made it', key }));
  }
  const expired = await expiredSegments(env, graceMs);
  if (expired.length > 0) {
    await env.SEGMENTS.delete(expired);
    await markDeleted(env, expired);
  }
  return swapped;
}

/** Lists a shard's master row segments in R2 (not the catalog: a rebuild must not depend on it). */
async function listMaster(env: Env, tenant: string, shard: number): Promise<(MasterSegment & { bytes: number })[]> {
  const prefix = `master/tenant=${encodeURIComponent(tenant)}/shard=${shard}/`;
  const found: (MasterSegment & { bytes: number })[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.SEGMENTS.list({ prefix, cursor, include: ['customMetadata'] });
    for (const o of page.objects) {
      const m = o.customMetadata ?? {};
      found.push({ key: o.key, firstSeq: Number(m.firstSeq), lastSeq: Number(m.lastSeq), checksum: m.checksum ?? '', bytes: o.size });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return found.sort((a, b) => a.firstSeq - b.firstSeq);
}

/**
 * Rebuilds a shard's replica and its catalog rows from the master row segments alone: every range
 * the shard reports green is read back from R2 (checksums checked, gap-free from seq 1), written
 * again as Parquet, and swapped for the shard's live replica rows of that range in one catalog
 * transaction. Master rows lost from the catalog are registered again. The bound is taken first,
 * so replication of newer events may go on meanwhile.
 */
export async function rebuildShard(env: Env, message: { tenant: string; shard: number }): Promise<number> {
  const { tenant, shard } = message;
  const through = (await shardStub(env, tenant, shard).colourMarks()).greenThrough;
  const master = (await listMaster(env, tenant, shard)).filter((s) => s.lastSeq <= through);
  let expected = 1;
  for (const s of master) {
    if (s.firstSeq !== expected) throw new Error(`master store of ${tenant}/${shard} has a gap: expected seq ${expected}, found ${s.key}`);
    expected = s.lastSeq + 1;
  }
  if (expected !== through + 1)
    throw new Error(`master store of ${tenant}/${shard} ends at ${expected - 1}, the shard is green through ${through}`);

  const { maxEvents } = config(env).replicate;
  const written: CatalogSegment[] = [];
  const masterRows: CatalogSegment[] = [];
  for (let i = 0; i < master.length;) {
    const chunk = [master[i++]!];
    while (i < master.length && master[i]!.lastSeq - chunk[0]!.firstSeq + 1 <= maxEvents) chunk.push(master[i++]!);
    const rows: ReplicaRow[] = [];
    for (const segment of chunk) {
      const part = await readMasterSegment(env, tenant, shard, segment);
      rows.push(...part);
      const times = part.map((r) => r.time);
      masterRows.push({
        ...segment,
        kind: 'master',
        tenant,
        shard,
        date: null,
        level: 0,
        minTime: Math.min(...times),
        maxTime: Math.max(...times),
        rows: part.length,
        stats: {},
      });
    }
    written.push(
      ...(await writeReplica(
        env,
        { tenant, shard, firstSeq: chunk[0]!.firstSeq, lastSeq: chunk[chunk.length - 1]!.lastSeq, level: 0 },
        rows,
      )),
    );
  }
  await registerSegments(env, masterRows);
  const fresh = new Set(written.map((w) => w.key));
  const retire = (await liveSegments(env, tenant, { kind: 'replica', shard })).filter((s) => s.lastSeq <= through && !fresh.has(s.key));
  if (
    !(await swapSegments(
      env,
      retire.map((s) => s.key),
      written,
    ))
  )
    throw new Error(`rebuild of ${tenant}/${shard} raced another catalog change; retrying`);
  return written.length;
}
