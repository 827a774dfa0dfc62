// The publish step (grey → blue) through the real Queue consumer, with injected faults.
import {
  createExecutionContext,
  createMessageBatch,
  env,
  evictDurableObject,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
} from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { PreparedEvent } from '../../src/engine/envelope.js';
import { decodeRowSegment, gunzip, segmentChecksum, type MasterRow } from '../../src/engine/segment.js';
import worker from '../../src/index.js';
import { shardStub } from '../../src/workers/shards.js';

let n = 0;
const freshTenant = () => `pub-${Date.now().toString(36)}-${n++}`;

const events = (tenant: string, count: number, from = 0): PreparedEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    key: `${tenant}-e${from + i}`,
    id: `${tenant}-e${from + i}`,
    stream: `post-${(from + i) % 7}`,
    type: 'post.liked',
    source: null,
    subject: null,
    time: 1_700_000_000_000 + from + i,
    data: JSON.stringify({ n: from + i }),
  }));

async function accept(tenant: string, list: PreparedEvent[]) {
  const [result] = await shardStub(env, tenant, 0).append({ tenant, shard: 0, requests: [{ events: list, expected: { kind: 'any' } }] });
  if (!result?.ok) throw new Error('append refused');
  return result.positions;
}

async function deliver(tenant: string, over: Partial<Env> = {}, copies = 1) {
  const batch = createMessageBatch<unknown>(
    'event-store-publish',
    Array.from({ length: copies }, (_, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body: { tenant, shard: 0 } })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...over }, ctx);
  return getQueueResult(batch, ctx);
}

/** Reads the tenant's master store back and checks it: every segment intact, seqs 1..n exactly once. */
async function master(tenant: string): Promise<MasterRow[]> {
  const listed = await env.SEGMENTS.list({ prefix: `master/tenant=${tenant}/`, include: ['customMetadata'] });
  const rows: MasterRow[] = [];
  for (const object of listed.objects) {
    const body = await env.SEGMENTS.get(object.key);
    const text = await gunzip(new Uint8Array(await body!.arrayBuffer()));
    expect(await segmentChecksum(text)).toBe(object.customMetadata?.checksum);
    rows.push(...decodeRowSegment(text).rows);
  }
  expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
  const recorded = await runInDurableObject(shardStub(env, tenant, 0), (_i, state) =>
    state.storage.sql.exec<{ key: string }>('SELECT key FROM segments ORDER BY first_seq').toArray(),
  );
  expect(recorded.map((r) => r.key)).toEqual(listed.objects.map((o) => o.key));
  return rows;
}

async function status(tenant: string) {
  return shardStub(env, tenant, 0).status();
}

describe('publish', () => {
  it('writes grey events as gap-free row segments and turns them blue', async () => {
    const tenant = freshTenant();
    const accepted = await accept(tenant, events(tenant, 12_000));
    const result = await deliver(tenant);
    expect(result.explicitAcks).toEqual(['m0']);
    const rows = await master(tenant);
    expect(rows).toHaveLength(12_000);
    expect(rows.map((r) => [r.id, r.seq, r.stream, r.version])).toEqual(accepted.map((p) => [p.id, p.seq, p.stream, p.version]));
    expect(rows[5]!.data).toBe('{"n":5}');
    const listed = await env.SEGMENTS.list({ prefix: `master/tenant=${tenant}/` });
    expect(listed.objects).toHaveLength(3); // PUBLISH_MAX_EVENTS = 5000
    expect(await status(tenant)).toMatchObject({ headSeq: 12_000, streams: 7, counts: { grey: 0, blue: 12_000 } });
  });

  it('writes each range once when the same message is delivered twice, and again later', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 300));
    await Promise.all([deliver(tenant, {}, 2), deliver(tenant)]);
    await deliver(tenant);
    expect(await master(tenant)).toHaveLength(300);
    await accept(tenant, events(tenant, 50, 300));
    await deliver(tenant, {}, 3);
    expect(await master(tenant)).toHaveLength(350);
    expect((await status(tenant)).counts).toMatchObject({ grey: 0, blue: 350 });
  });

  it('retries when R2 refuses the put, then writes the segment once', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 100));
    const failing = { ...env.SEGMENTS, put: () => Promise.reject(new Error('injected: R2 put failed')) } as unknown as R2Bucket;
    const result = await deliver(tenant, { SEGMENTS: failing });
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(['m0']);
    expect((await status(tenant)).counts).toMatchObject({ grey: 100, blue: 0 });
    await deliver(tenant);
    expect(await master(tenant)).toHaveLength(100);
  });

  it('recovers when the consumer dies between the put and marking blue', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 40));
    // A shard namespace whose stubs fail markPublished: the segment reaches R2, the shard never hears.
    const dying = {
      idFromName: (name: string) => env.SHARD.idFromName(name),
      get: (id: DurableObjectId) => {
        const stub = env.SHARD.get(id);
        return new Proxy(stub, {
          get: (target, prop) =>
            prop === 'markPublished' ? () => Promise.reject(new Error('injected: consumer died')) : Reflect.get(target, prop, target),
        });
      },
    } as unknown as Env['SHARD'];
    const first = await deliver(tenant, { SHARD: dying });
    expect(first.retryMessages).toHaveLength(1);
    expect(await env.SEGMENTS.list({ prefix: `master/tenant=${tenant}/` }).then((l) => l.objects.length)).toBe(1);
    // Meanwhile more events arrive; the retried publish still rewrites exactly the claimed range first.
    await accept(tenant, events(tenant, 10, 40));
    await deliver(tenant);
    const rows = await master(tenant);
    expect(rows).toHaveLength(50);
    const keys = (await env.SEGMENTS.list({ prefix: `master/tenant=${tenant}/` })).objects.map((o) => o.key);
    expect(keys).toHaveLength(2);
  });

  it('keeps its claim and marks across a restart of the shard object', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 20));
    const stub = shardStub(env, tenant, 0);
    const claim = await stub.claimPublish(5000);
    await evictDurableObject(stub);
    await accept(tenant, events(tenant, 5, 20));
    const again = await shardStub(env, tenant, 0).claimPublish(5000);
    expect([again?.firstSeq, again?.lastSeq]).toEqual([claim?.firstSeq, claim?.lastSeq]);
    await deliver(tenant);
    expect(await master(tenant)).toHaveLength(25);
  });

  it('asks for publishing through its alarm, and again while events stay grey', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 3));
    const stub = shardStub(env, tenant, 0);
    const sent: unknown[] = [];
    await runInDurableObject(stub, (instance) => {
      const recorder = { send: (body: unknown) => (sent.push(body), Promise.resolve()) };
      Object.defineProperty(instance, 'env', { value: { ...env, PUBLISH_DELAY_MS: '0', PUBLISH_QUEUE: recorder } });
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(sent).toEqual([{ step: 'publish', tenant, shard: 0 }]);
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + 20_000); // the re-drive, REDRIVE_MS later
    await runDurableObjectAlarm(stub); // not due yet: nothing sent again
    expect(sent).toHaveLength(1);
    await deliver(tenant);
    expect((await status(tenant)).counts).toMatchObject({ grey: 0, blue: 3 });
  });

  it('re-arms its alarm soon when the publish request cannot be sent', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 2));
    const stub = shardStub(env, tenant, 0);
    await runInDurableObject(stub, (instance) => {
      const failing = { send: () => Promise.reject(new Error('injected: queue unavailable')) };
      Object.defineProperty(instance, 'env', { value: { ...env, PUBLISH_DELAY_MS: '0', PUBLISH_QUEUE: failing } });
    });
    const before = Date.now();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThanOrEqual(before);
    expect(alarm).toBeLessThanOrEqual(Date.now() + 5_000);
    expect((await status(tenant)).counts.grey).toBe(2);
  });

  it('refuses to mark a range that does not continue the master store', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 10));
    const stub = shardStub(env, tenant, 0);
    expect(await stub.markPublished({ firstSeq: 3, lastSeq: 5, key: 'k', checksum: 'c', bytes: 1 })).toEqual({
      ok: false,
      reason: expect.stringMatching(/does not continue the master store, which ends at 0 \(head 10\)/) as unknown as string,
    });
    expect((await status(tenant)).counts.blue).toBe(0);
  });
});
