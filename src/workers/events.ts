// The read side's event by id: from the shard's status memory while hot, else from the master
// row segment the catalog names (one R2 read). CQRS: nothing here writes.

import type { EventLookup } from '../durable/shard.js';
import { cloudEventKey } from '../engine/cloudevents.js';
import type { Colour } from '../engine/colour.js';
import { ProblemError } from '../engine/problem.js';
import type { MasterRow } from '../engine/segment.js';
import { readMasterSegmentCached } from './master.js';
import { shardStub } from './shards.js';
import type { Tenant } from './tenant.js';

/** One event as the read API answers it. */
export interface EventView {
  id: string;
  stream: string;
  version: number;
  shard: number;
  seq: number;
  type: string;
  source: string | null;
  subject: string | null;
  time: string;
  receivedAt: string;
  data: unknown;
  status: Colour;
}

export function viewOf(row: MasterRow, shard: number, status: Colour): EventView {
  return {
    id: row.id,
    stream: row.stream,
    version: row.version,
    shard,
    seq: row.seq,
    type: row.type,
    source: row.source,
    subject: row.subject,
    time: new Date(row.time).toISOString(),
    receivedAt: new Date(row.receivedAt).toISOString(),
    data: JSON.parse(row.data) as unknown,
    status,
  };
}

/**
 * Reads events of a shard that left its hot window from their master row segments, found through
 * the catalog: only the segments that hold one of `seqs`, each read once (one R2 read per segment,
 * none when this isolate read it lately).
 */
export async function readCold(env: Env, tenant: string, shard: number, seqs: readonly number[]): Promise<Map<number, MasterRow>> {
  const found = new Map<number, MasterRow>();
  if (seqs.length === 0) return found;
  const { results } = await env.CATALOG.prepare(
    `SELECT key, first_seq, last_seq, checksum FROM segments
      WHERE tenant = ? AND kind = 'master' AND shard = ? AND state = 'live' AND last_seq >= ? AND first_seq <= ? ORDER BY first_seq`,
  )
    .bind(tenant, shard, Math.min(...seqs), Math.max(...seqs))
    .all<{ key: string; first_seq: number; last_seq: number; checksum: string }>();
  for (const s of results) {
    const needed = seqs.filter((seq) => seq >= s.first_seq && seq <= s.last_seq);
    if (needed.length === 0) continue; // between the seqs asked for, but holding none of them: not read
    const rows = await readMasterSegmentCached(env, tenant, shard, {
      key: s.key,
      firstSeq: s.first_seq,
      lastSeq: s.last_seq,
      checksum: s.checksum,
    });
    for (const seq of needed) found.set(seq, rows[seq - s.first_seq]!);
  }
  for (const seq of seqs) if (!found.has(seq)) throw new Error(`no master segment of ${tenant}/${shard} holds seq ${seq}`);
  return found;
}

/**
 * The event with this id (and, for a CloudEvent, this source) in the tenant. Ids are not routed
 * (the stream is), so every shard is asked at once; each answers from its permanent dedupe index.
 */
export async function readEvent(env: Env, tenant: Tenant, id: string, source?: string): Promise<EventView> {
  const key = source === undefined ? id : cloudEventKey(source, id);
  const answers = await Promise.all(
    Array.from({ length: tenant.shardCount }, async (_, shard) => {
      const found: EventLookup | null = await shardStub(env, tenant.id, shard).lookup(key);
      return { shard, found };
    }),
  );
  const hit = answers.find((a): a is { shard: number; found: EventLookup } => a.found !== null);
  if (!hit) {
    throw new ProblemError(
      404,
      'not-found',
      `no event with id "${id.slice(0, 256)}"${source === undefined ? '' : ` and source "${source.slice(0, 256)}"`} in this tenant${source === undefined ? ' (a CloudEvent is found with ?source= too)' : ''}`,
    );
  }
  const { shard, found } = hit;
  const row = found.event ?? (await readCold(env, tenant.id, shard, [found.seq])).get(found.seq)!;
  return viewOf(row, shard, found.status);
}
