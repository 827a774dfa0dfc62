// The read side's event by id: from the shard's status memory while hot, else from the master
// row segment the catalog names (one R2 read). CQRS: nothing here writes.

import type { EventLookup } from '../durable/shard.js';
import { cloudEventKey } from '../engine/cloudevents.js';
import type { Colour } from '../engine/colour.js';
import { ProblemError } from '../engine/problem.js';
import type { MasterRow } from '../engine/segment.js';
import { readMasterSegment } from './replicator.js';
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

/** Reads the event at `seq` of a shard from its master row segment, found through the catalog. */
export async function readCold(env: Env, tenant: string, shard: number, seq: number): Promise<MasterRow> {
  const segment = await env.CATALOG.prepare(
    `SELECT key, first_seq, last_seq, checksum FROM segments
      WHERE tenant = ? AND kind = 'master' AND shard = ? AND first_seq <= ? AND last_seq >= ? AND state = 'live' LIMIT 1`,
  )
    .bind(tenant, shard, seq, seq)
    .first<{ key: string; first_seq: number; last_seq: number; checksum: string }>();
  if (!segment) throw new Error(`the catalog has no master segment of ${tenant}/${shard} holding seq ${seq}`);
  const rows = await readMasterSegment(env, tenant, shard, {
    key: segment.key,
    firstSeq: segment.first_seq,
    lastSeq: segment.last_seq,
    checksum: segment.checksum,
  });
  const row = rows[seq - segment.first_seq];
  if (!row || row.seq !== seq) throw new Error(`master segment ${segment.key} does not hold seq ${seq}`);
  return row;
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
  const row = found.event ?? (await readCold(env, tenant.id, shard, found.seq));
  return viewOf(row, shard, found.status);
}
