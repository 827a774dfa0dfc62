// The master store read back: a row segment from R2, checked. Used by replicate, rebuild and the read side.

import type { MasterSegment } from '../durable/shard.js';
import type { ReplicaRow } from '../engine/parquet.js';
import { decodeRowSegment, gunzip, SegmentError, segmentChecksum } from '../engine/segment.js';

/**
 * Decoded master segments recently read by this isolate. Segments are immutable and the key names
 * the checksum's range, so a hit is always right; a reader paging through cold history (the global
 * read asks for a segment again for each page it spans) reads each segment from R2 once. Bounded
 * by rows, in least-recently-used order.
 */
const cache = new Map<string, ReplicaRow[]>();
let cachedRows = 0;
const CACHE_ROWS = 20_000;

/** readMasterSegment through the isolate's cache: for the read side (the pipeline always reads R2). */
export async function readMasterSegmentCached(env: Env, tenant: string, shard: number, segment: MasterSegment): Promise<ReplicaRow[]> {
  const id = `${segment.key}#${segment.checksum}`;
  const hit = cache.get(id);
  if (hit) {
    cache.delete(id);
    cache.set(id, hit);
    return hit;
  }
  const rows = await readMasterSegment(env, tenant, shard, segment);
  cache.set(id, rows);
  cachedRows += rows.length;
  for (const [old, oldRows] of cache) {
    if (cachedRows <= CACHE_ROWS || old === id) break;
    cache.delete(old);
    cachedRows -= oldRows.length;
  }
  return rows;
}

/** Reads a master row segment back from R2, checking its checksum and that it is the range the shard recorded. */
export async function readMasterSegment(env: Env, tenant: string, shard: number, segment: MasterSegment): Promise<ReplicaRow[]> {
  const object = await env.SEGMENTS.get(segment.key);
  if (!object) throw new SegmentError(`master segment ${segment.key} is missing from R2`);
  const text = await gunzip(new Uint8Array(await object.arrayBuffer()));
  const checksum = await segmentChecksum(text);
  if (checksum !== segment.checksum)
    throw new SegmentError(`master segment ${segment.key} has checksum ${checksum}, expected ${segment.checksum}`);
  const { header, rows } = decodeRowSegment(text);
  if (header.tenant !== tenant || header.shard !== shard || header.firstSeq !== segment.firstSeq || header.lastSeq !== segment.lastSeq) {
    throw new SegmentError(`master segment ${segment.key} holds ${header.tenant}/${header.shard} ${header.firstSeq}..${header.lastSeq}`);
  }
  return rows.map((r) => ({ ...r, shard }));
}
