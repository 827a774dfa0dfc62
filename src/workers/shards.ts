// The Workers' side of the shard objects: routing a request's events to shards, in calls shared by concurrent requests.

import type { AppendRequest, AppendResult, Shard, ShardPosition, ShardStatus } from '../durable/shard.js';
import { Coalescer, settle } from '../engine/coalesce.js';
import { colourOf, COLOURS, type Colour } from '../engine/colour.js';
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

/** How long a request waits for its shard before answering 503. */
const SHARD_DEADLINE_MS = 30_000;

/**
 * Races a promise with a timer, so that a request never waits for its shard for ever.
 */
function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

interface Submission {
  env: Env;
  request: AppendRequest;
  urgent: boolean;
}

/** Most events one call carries: inside the RPC size limit and the shard's group-commit cap. */
const MAX_EVENTS_PER_CALL = 5000;

/** How long a shard call waits for more requests to ride along; see Coalescer. Tuned by the bench. */
const LINGER_MS = 1;
/**
 * How often a request whose events ride in another request's call looks for its answer. A steady
 * 1 ms keeps the shard busy: backing off left it idle between calls and lost ~20 % in the bench.
 */
const POLL_MS = 1;

/** One coalescer per shard object, for the life of the isolate. */
const coalescers = new Map<string, Coalescer<Submission, AppendResult>>();

function coalescerFor(tenant: string, shard: number): Coalescer<Submission, AppendResult> {
  const name = shardName(tenant, shard);
  let coalescer = coalescers.get(name);
  if (!coalescer) {
    coalescer = new Coalescer<Submission, AppendResult>(
      (items) =>
        shardStub(items[0]!.env, tenant, shard).append({
          tenant,
          shard,
          requests: items.map((i) => i.request),
          urgent: items.some((i) => i.urgent),
        }),
      {
        maxInFlight: 1,
        maxWeight: MAX_EVENTS_PER_CALL,
        weigh: (i) => i.request.events.length,
        lingerMs: LINGER_MS,
        pollMs: POLL_MS,
        maxPollMs: POLL_MS,
      },
    );
    coalescers.set(name, coalescer);
  }
  return coalescer;
}

/**
 * Splits the events by shard and hands each shard its part, all shards at once. Concurrent
 * requests to one shard share one RPC and one commit (docs/decisions/0005-group-commit.md).
 * Answers in request order once every shard has made its part durable.
 */
export async function appendToShards(
  env: Env,
  tenant: Tenant,
  events: PreparedEvent[],
  expected: ExpectedVersion,
  urgent = false,
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
  const waits = [...groups].map(([shard, group]) => {
    const coalescer = coalescerFor(tenant.id, shard);
    return { shard, group, coalescer, ticket: coalescer.enqueue({ env, request: { events: group.events, expected }, urgent }) };
  });
  try {
    await withDeadline(settle(waits), SHARD_DEADLINE_MS, `shards ${[...groups.keys()].join(', ')}`);
  } catch (error) {
    console.error(JSON.stringify({ msg: 'shard append timed out', tenant: tenant.id, error: String(error) }));
    throw new ProblemError(
      503,
      'shard-unavailable',
      `the shards did not answer within ${SHARD_DEADLINE_MS / 1000} s; retry the request (events that carry an id are never stored twice)`,
    );
  }
  let conflict: ProblemError | undefined;
  let failed = 0;
  for (const { shard, group, ticket } of waits) {
    const outcome = ticket.outcome!; // settle() returned: every ticket has one
    if (!outcome.ok) {
      console.error(JSON.stringify({ msg: 'shard append failed', tenant: tenant.id, shard, error: String(outcome.error) }));
      failed++;
      continue;
    }
    const result = outcome.value;
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
  if (failed > 0) {
    throw new ProblemError(
      503,
      'shard-unavailable',
      `${failed} of ${groups.size} shards did not answer; retry the request (events that carry an id are never stored twice)`,
    );
  }
  if (conflict) throw conflict;
  return out;
}

/**
 * Waits until every appended event is at least `colour`, or the timeout passed, one wait per shard
 * at once; answers the events with the colour each reached, and whether all reached `colour`.
 */
export async function waitForColour(
  env: Env,
  tenant: Tenant,
  appended: AppendedEvent[],
  colour: 'blue' | 'green',
  timeoutMs: number,
): Promise<{ events: AppendedEvent[]; reached: boolean }> {
  const highest = new Map<number, number>();
  for (const e of appended) highest.set(e.shard, Math.max(highest.get(e.shard) ?? 0, e.seq));
  const marks = new Map(
    await Promise.all(
      [...highest].map(async ([shard, seq]) => [shard, await shardStub(env, tenant.id, shard).waitFor(colour, seq, timeoutMs)] as const),
    ),
  );
  const events = appended.map((e) => ({ ...e, status: colourOf(e.seq, marks.get(e.shard)!) }));
  const rank = (c: Colour) => COLOURS.indexOf(c);
  return { events, reached: events.every((e) => rank(e.status) >= rank(colour)) };
}

export async function shardStatuses(env: Env, tenant: Tenant): Promise<(ShardStatus & { shard: number })[]> {
  return Promise.all(
    Array.from({ length: tenant.shardCount }, async (_, shard) => ({ ...(await shardStub(env, tenant.id, shard).status()), shard })),
  );
}
