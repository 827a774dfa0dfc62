// The Workers' side of the shard objects: routing a request's events and calling each shard once.

import type { AppendResult, Shard, ShardPosition, ShardStatus } from '../durable/shard.js';
import type { PreparedEvent } from '../engine/envelope.js';
import { ProblemError } from '../engine/problem.js';
import { shardName, shardOf } from '../engine/routing.js';
import type { ExpectedVersion } from '../engine/version.js';
import type { Tenant } from './tenant.js';

export function shardStub(env: Env, tenant: string, shard: number): DurableObjectStub<Shard> {
  return env.SHARD.get(env.SHARD.idFromName(shardName(tenant, shard)));
}

export interface AppendedEvent extends ShardPosition {
  shard: number;
}

/**
 * Splits the events by shard, sends each shard its events in one RPC, all shards at once, and
 * answers in request order once every shard has made its part durable.
 */
export async function appendToShards(
  env: Env,
  tenant: Tenant,
  events: PreparedEvent[],
  expected: ExpectedVersion,
): Promise<AppendedEvent[]> {
  const groups = new Map<number, { events: PreparedEvent[]; indices: number[] }>();
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const shard = shardOf(event.stream, tenant.shardCount);
    let group = groups.get(shard);
    if (!group) groups.set(shard, (group = { events: [], indices: [] }));
    group.events.push(event);
    group.indices.push(i);
  }

  const out: AppendedEvent[] = new Array(events.length);
  const results = await Promise.allSettled(
    [...groups].map(async ([shard, group]) => {
      const result: AppendResult = await shardStub(env, tenant.id, shard).append({
        tenant: tenant.id,
        shard,
        events: group.events,
        expected,
      });
      return { shard, group, result };
    }),
  );
  let conflict: ProblemError | undefined;
  const failed: number[] = [];
  for (const settled of results) {
    if (settled.status === 'rejected') {
      console.error(JSON.stringify({ msg: 'shard append failed', error: String(settled.reason) }));
      failed.push(-1);
      continue;
    }
    const { shard, group, result } = settled.value;
    if (!result.ok) {
      conflict = new ProblemError(
        409,
        'version-conflict',
        `stream "${result.stream}" is at version ${result.actual}, but the request expected ${result.expected}; read the stream and retry with its current version`,
        { stream: result.stream, expectedVersion: result.expected, currentVersion: result.actual },
      );
      continue;
    }
    result.positions.forEach((p, j) => (out[group.indices[j]!] = { ...p, shard }));
  }
  if (failed.length > 0) {
    throw new ProblemError(
      503,
      'shard-unavailable',
      `${failed.length} of ${groups.size} shards did not answer; retry the request (events that carry an id are never stored twice)`,
    );
  }
  if (conflict) throw conflict;
  return out;
}

export async function shardStatuses(env: Env, tenant: Tenant): Promise<(ShardStatus & { shard: number })[]> {
  return Promise.all(
    Array.from({ length: tenant.shardCount }, async (_, shard) => ({ ...(await shardStub(env, tenant.id, shard).status()), shard })),
  );
}
