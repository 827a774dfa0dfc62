// The publish step (Queue consumer): a shard's next grey range becomes a row segment in R2, then blue.

import type { StepMessage } from '../durable/shard.js';
import { encodeRowSegment, gzip, rowSegmentKey, segmentChecksum } from '../engine/segment.js';
import { config } from '../config.js';
import { registerSegments } from './catalog.js';
import { shardStub } from './shards.js';

/** Segments one message may write before it yields to the next (the shard asks again if more wait). */
const SEGMENTS_PER_MESSAGE = 8;

/**
 * Writes the shard's grey events as row segments, oldest first. Each step is idempotent: the
 * shard hands out the same range until it is marked, the key depends only on the range's first
 * seq and its content only on the range, the catalog keeps the first registration of a key, and
 * marking an already blue range is a no-op. So a retried, duplicated or concurrent delivery
 * rewrites the same object at worst, never a second one.
 */
export async function publishShard(env: Env, message: StepMessage): Promise<number> {
  const stub = shardStub(env, message.tenant, message.shard);
  const { maxEvents } = config(env).publish;
  let written = 0;
  for (let i = 0; i < SEGMENTS_PER_MESSAGE; i++) {
    const claim = await stub.claimPublish(maxEvents);
    if (!claim) break;
    const text = encodeRowSegment(claim.tenant, claim.shard, claim.rows);
    const checksum = await segmentChecksum(text);
    const body = await gzip(text);
    const key = rowSegmentKey(claim.tenant, claim.shard, claim.firstSeq);
    await env.SEGMENTS.put(key, body, {
      httpMetadata: { contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
      customMetadata: { format: 'esr1', checksum, firstSeq: String(claim.firstSeq), lastSeq: String(claim.lastSeq) },
    });
    let minTime = Infinity;
    let maxTime = -Infinity;
    for (const r of claim.rows) {
      if (r.time < minTime) minTime = r.time;
      if (r.time > maxTime) maxTime = r.time;
    }
    await registerSegments(env, [
      {
        key,
        kind: 'master',
        tenant: claim.tenant,
        shard: claim.shard,
        date: null,
        level: 0,
        firstSeq: claim.firstSeq,
        lastSeq: claim.lastSeq,
        minTime,
        maxTime,
        rows: claim.rows.length,
        bytes: body.byteLength,
        checksum,
        stats: {},
      },
    ]);
    const marked = await stub.markPublished({ firstSeq: claim.firstSeq, lastSeq: claim.lastSeq, key, checksum, bytes: body.byteLength });
    if (!marked.ok) throw new Error(marked.reason);
    written++;
  }
  return written;
}
