// The replicate step (Queue consumer): a shard's next blue range becomes Parquet segments in R2, registered in the catalog, then green.

import type { StepMessage } from '../durable/shard.js';
import type { ReplicaRow } from '../engine/parquet.js';
import { encodeReplica, partitionByDate, planCompaction } from '../engine/replica.js';
import { config } from '../config.js';
import { liveSegments, registerSegments, type CatalogSegment } from './catalog.js';
import { readMasterSegment } from './master.js';
import { shardStub } from './shards.js';
import { ensureParquet } from './wasm.js';

/** Replicate steps one message may run before it yields (the shard asks again if more is blue). */
const STEPS_PER_MESSAGE = 2;

/**
 * Writes rows of one shard range as one Parquet segment per UTC day, under deterministic keys,
 * and answers their catalog rows (not yet registered).
 */
export async function writeReplica(
  env: Env,
  range: { tenant: string; shard: number; firstSeq: number; lastSeq: number; level: number },
  rows: readonly ReplicaRow[],
): Promise<CatalogSegment[]> {
  ensureParquet();
  const written: CatalogSegment[] = [];
  for (const [date, part] of partitionByDate(rows)) {
    const { bytes, segment } = await encodeReplica(range, date, part);
    await env.SEGMENTS.put(segment.key, bytes, {
      httpMetadata: { contentType: 'application/vnd.apache.parquet' },
      customMetadata: { format: 'parquet', rows: String(segment.rows), firstSeq: String(range.firstSeq), lastSeq: String(range.lastSeq) },
    });
    written.push(segment);
  }
  return written;
}

/** Asks for a compaction of each partition that gathered enough small segments. */
async function requestCompactions(env: Env, tenant: string, shard: number, dates: Iterable<string>): Promise<void> {
  const { minSegments, maxRows } = config(env).compact;
  for (const date of dates) {
    const live = await liveSegments(env, tenant, { kind: 'replica', date, shard });
    // Asked only when the plan has work: a message per replicate step would mostly find nothing to do.
    if (planCompaction(live, { minSegments, maxRows, tiered: true }).length > 0) {
      await env.MAINTAIN_QUEUE.send({ op: 'compact', tenant, shard, date });
    }
  }
}

/**
 * Turns the shard's blue events green, oldest first. Idempotent like publish: the shard hands out
 * the same range until it is marked, keys depend only on the range, the catalog keeps the first
 * registration of a key, and marking an already green range is a no-op.
 */
export async function replicateShard(env: Env, message: StepMessage): Promise<number> {
  const stub = shardStub(env, message.tenant, message.shard);
  const { maxEvents } = config(env).replicate;
  let steps = 0;
  for (; steps < STEPS_PER_MESSAGE; steps++) {
    const claim = await stub.claimReplicate(maxEvents);
    if (!claim) break;
    const rows: ReplicaRow[] = [];
    for (const segment of claim.segments) rows.push(...(await readMasterSegment(env, claim.tenant, claim.shard, segment)));
    const written = await writeReplica(env, { ...claim, level: 0 }, rows);
    await registerSegments(env, written);
    const marked = await stub.markReplicated({ firstSeq: claim.firstSeq, lastSeq: claim.lastSeq });
    if (!marked.ok) throw new Error(marked.reason);
    if (!marked.duplicate) await requestCompactions(env, claim.tenant, claim.shard, new Set(written.map((w) => w.date!)));
  }
  return steps;
}
