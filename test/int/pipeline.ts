// Helpers for tests of the colour pipeline: deliver queue batches to the real consumer, audit the stores.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { expect } from 'vitest';
import type { PreparedEvent } from '../../src/engine/envelope.js';
import { decodeParquet, type ReplicaRow } from '../../src/engine/parquet.js';
import { decodeRowSegment, gunzip, segmentChecksum, type MasterRow } from '../../src/engine/segment.js';
import worker from '../../src/index.js';
import { liveSegments } from '../../src/workers/catalog.js';
import { QUEUES } from '../../src/workers/queues.js';
import { shardStub } from '../../src/workers/shards.js';
import { ensureParquet } from '../../src/workers/wasm.js';

let n = 0;
export const freshTenant = (prefix = 'pipe') => `${prefix}-${Date.now().toString(36)}-${n++}`;

const DAY = 86_400_000;

/** Events of a few streams whose times spread over `days` UTC days. */
export const events = (tenant: string, count: number, from = 0, days = 1): PreparedEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    key: `${tenant}-e${from + i}`,
    id: `${tenant}-e${from + i}`,
    stream: `post-${(from + i) % 7}`,
    type: (from + i) % 3 === 0 ? 'post.liked' : 'post.shared',
    source: (from + i) % 2 === 0 ? 'https://social.example' : null,
    subject: null,
    time: Date.UTC(2026, 10, 20) + ((from + i) % days) * DAY + (from + i),
    data: JSON.stringify({ n: from + i, amount: (from + i) % 100, user: { name: `u${(from + i) % 13}` } }),
  }));

export async function accept(tenant: string, list: PreparedEvent[], shard = 0) {
  const [result] = await shardStub(env, tenant, shard).append({ tenant, shard, requests: [{ events: list, expected: { kind: 'any' } }] });
  if (!result?.ok) throw new Error('append refused');
  return result.positions;
}

/** Delivers `bodies` as one batch of `queue` to the Worker's consumer, with `over` replacing bindings. */
export async function deliver(queue: keyof typeof QUEUES, bodies: unknown[], over: Partial<Env> = {}) {
  const batch = createMessageBatch<unknown>(
    QUEUES[queue],
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...over }, ctx);
  return getQueueResult(batch, ctx);
}

export const publish = (tenant: string, copies = 1, over: Partial<Env> = {}, shard = 0) =>
  deliver(
    'publish',
    Array.from({ length: copies }, () => ({ step: 'publish', tenant, shard })),
    over,
  );
export const replicate = (tenant: string, copies = 1, over: Partial<Env> = {}, shard = 0) =>
  deliver(
    'replicate',
    Array.from({ length: copies }, () => ({ step: 'replicate', tenant, shard })),
    over,
  );

/** A shard namespace whose stubs reject `method`: the step's work is done, the shard never hears. */
export function dyingAt(method: string): Env['SHARD'] {
  return {
    idFromName: (name: string) => env.SHARD.idFromName(name),
    get: (id: DurableObjectId) =>
      new Proxy(env.SHARD.get(id), {
        get: (target, prop) =>
          prop === method ? () => Promise.reject(new Error(`injected: consumer died before ${method}`)) : Reflect.get(target, prop, target),
      }),
  } as unknown as Env['SHARD'];
}

/** A bucket whose puts of keys matching `pattern` fail (other calls go to the real bucket). */
export function failingPuts(pattern: RegExp): R2Bucket & { refused: string[] } {
  const refused: string[] = [];
  return new Proxy(env.SEGMENTS, {
    get: (target, prop) => {
      if (prop === 'refused') return refused;
      if (prop === 'put')
        return (key: string, ...rest: unknown[]) => {
          if (!pattern.test(key)) return (target.put as (...a: unknown[]) => unknown).call(target, key, ...rest);
          refused.push(key);
          return Promise.reject(new Error('injected: R2 put failed'));
        };
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as R2Bucket & { refused: string[] };
}

/** The tenant's master store read back: every object intact, every seq of the shard exactly once. */
export async function masterRows(tenant: string, shard = 0): Promise<MasterRow[]> {
  const listed = await env.SEGMENTS.list({ prefix: `master/tenant=${tenant}/shard=${shard}/`, include: ['customMetadata'] });
  const rows: MasterRow[] = [];
  for (const object of listed.objects) {
    const text = await gunzip(new Uint8Array(await (await env.SEGMENTS.get(object.key))!.arrayBuffer()));
    expect(await segmentChecksum(text)).toBe(object.customMetadata?.checksum);
    rows.push(...decodeRowSegment(text).rows);
  }
  expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
  return rows;
}

/** The tenant's live replica read back through the catalog: each row count as the catalog says. */
export async function replicaRows(tenant: string): Promise<ReplicaRow[]> {
  ensureParquet();
  const rows: ReplicaRow[] = [];
  for (const segment of await liveSegments(env, tenant, { kind: 'replica' })) {
    const object = await env.SEGMENTS.get(segment.key);
    expect(object, segment.key).not.toBeNull();
    const decoded = decodeParquet(new Uint8Array(await object!.arrayBuffer()));
    expect(decoded).toHaveLength(segment.rows);
    for (const r of decoded) expect(new Date(r.time).toISOString().slice(0, 10)).toBe(segment.date);
    rows.push(...decoded);
  }
  return rows;
}

/** Every accepted id is in exactly one master segment and exactly one live replica segment. */
export async function audit(tenant: string, ids: readonly string[], shard = 0): Promise<void> {
  const master = await masterRows(tenant, shard);
  const replica = await replicaRows(tenant);
  const sorted = (list: readonly string[]) => [...list].sort();
  expect(sorted(master.map((r) => r.id))).toEqual(sorted(ids));
  expect(sorted(replica.map((r) => r.id))).toEqual(sorted(ids));
}
