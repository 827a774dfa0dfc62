// The master store read back: a row segment from R2, checked. Used by replicate, rebuild and the read side.

import type { MasterSegment } from '../durable/shard.js';
import type { ReplicaRow } from '../engine/parquet.js';
import { decodeRowSegment, gunzip, SegmentError, segmentChecksum } from '../engine/segment.js';

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
