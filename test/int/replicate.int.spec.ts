// The replicate step (blue → green), compaction, eviction, recovery and rebuild, through the real
// Queue consumers and alarms, with injected faults. After each: every accepted event is in exactly
// one master segment and exactly one live replica segment.
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { liveSegments, registerSegments, swapSegments } from '../../src/workers/catalog.js';
import { shardStub } from '../../src/workers/shards.js';
import { appended, call, post } from './helpers.js';
import {
  accept,
  audit,
  deliver,
  dyingAt,
  events,
  failingPuts,
  freshTenant,
  masterRows,
  publish,
  replicaRows,
  replicate,
} from './pipeline.js';

const status = (tenant: string) => shardStub(env, tenant, 0).status();

/** A queue binding that keeps what is sent to it. */
function recorder() {
  const sent: unknown[] = [];
  const queue = {
    send: (body: unknown) => (sent.push(body), Promise.resolve()),
    sendBatch: (batch: { body: unknown }[]) => (sent.push(...batch.map((m) => m.body)), Promise.resolve()),
  } as unknown as Queue;
  return { sent, queue };
}

/** Gives the tenant's shard object other bindings or settings (config is read from its env). */
async function reconfigure(tenant: string, over: Record<string, unknown>) {
  await runInDurableObject(shardStub(env, tenant, 0), (instance) => {
    Object.defineProperty(instance, 'env', { value: { ...env, ...over } });
  });
}

describe('replicate', () => {
  it('writes blue events as one Parquet segment per day, registers them and turns them green', async () => {
    const tenant = freshTenant();
    const accepted = await accept(tenant, events(tenant, 12_000, 0, 3));
    await publish(tenant);
    expect((await status(tenant)).counts).toMatchObject({ grey: 0, blue: 12_000 });
    const result = await replicate(tenant);
    expect(result.explicitAcks).toEqual(['m0']);
    expect((await status(tenant)).counts).toMatchObject({ grey: 0, blue: 0, green: 12_000 });

    const segments = await liveSegments(env, tenant, { kind: 'replica' });
    expect(segments.map((s) => s.date)).toEqual(['2026-11-20', '2026-11-21', '2026-11-22']);
    expect(segments.reduce((n, s) => n + s.rows, 0)).toBe(12_000);
    for (const s of segments) {
      expect(s.key).toMatch(new RegExp(`^replica/tenant=${tenant}/date=${s.date}/0000-0000000000000001-0000000000012000-L0\\.parquet$`));
      expect(new Date(s.minTime).toISOString().slice(0, 10)).toBe(s.date);
      expect(s.stats.columns?.seq).toMatchObject({ min: expect.any(Number), max: expect.any(Number) });
      expect(s.stats.shredded?.map((c) => c.name)).toEqual(expect.arrayContaining(['data.amount', 'data.user.name']));
    }
    expect((await liveSegments(env, tenant, { kind: 'master' })).map((s) => s.rows)).toEqual([5000, 5000, 2000]);

    await audit(
      tenant,
      accepted.map((p) => p.id),
    );
    const rows = new Map((await replicaRows(tenant)).map((r) => [r.id, r]));
    const sample = rows.get(`${tenant}-e4321`)!;
    expect(sample).toMatchObject({ seq: 4322, stream: 'post-2', version: 618, type: 'post.shared', shard: 0, source: null });
    expect(JSON.parse(sample.data)).toEqual({ n: 4321, amount: 21, user: { name: 'u5' } });
  });

  it('keeps data exactly as written, integers beyond 2^53 included, through both stores', async () => {
    const tenant = freshTenant();
    const data = '{"id":12345678901234567890123,"amount":1.50,"name":"\u00e9"}';
    const [event] = events(tenant, 1);
    await accept(tenant, [{ ...event!, data }]);
    await publish(tenant);
    await replicate(tenant);
    expect((await masterRows(tenant)).map((r) => r.data)).toEqual([data]);
    expect((await replicaRows(tenant)).map((r) => r.data)).toEqual([data]);
  });

  it('writes each range once when messages are duplicated, concurrent and repeated', async () => {
    const tenant = freshTenant();
    const ids: string[] = [];
    for (let round = 0; round < 3; round++) {
      ids.push(...(await accept(tenant, events(tenant, 300, round * 300, 2))).map((p) => p.id));
      await publish(tenant, 2);
      await Promise.all([replicate(tenant, 2), replicate(tenant)]);
      await replicate(tenant);
    }
    await audit(tenant, ids);
    expect((await status(tenant)).counts).toMatchObject({ blue: 0, green: 900 });
  });

  it('retries when R2 refuses the Parquet put, then writes it once', async () => {
    const tenant = freshTenant();
    const ids = (await accept(tenant, events(tenant, 500))).map((p) => p.id);
    await publish(tenant);
    const bucket = failingPuts(/^replica\//);
    const failed = await replicate(tenant, 1, { SEGMENTS: bucket });
    expect(failed.retryMessages).toHaveLength(1);
    expect(bucket.refused).toHaveLength(1);
    expect((await status(tenant)).counts).toMatchObject({ blue: 500, green: 0 });
    expect(await liveSegments(env, tenant, { kind: 'replica' })).toEqual([]);
    await replicate(tenant);
    await audit(tenant, ids);
  });

  it('recovers when the consumer dies after registering, before marking green', async () => {
    const tenant = freshTenant();
    const ids = (await accept(tenant, events(tenant, 400, 0, 2))).map((p) => p.id);
    await publish(tenant);
    const first = await replicate(tenant, 1, { SHARD: dyingAt('markReplicated') });
    expect(first.retryMessages).toHaveLength(1);
    expect(await liveSegments(env, tenant, { kind: 'replica' })).toHaveLength(2);
    // Meanwhile more events are published; the retry still cuts exactly the claimed range first.
    ids.push(...(await accept(tenant, events(tenant, 100, 400, 2))).map((p) => p.id));
    await publish(tenant);
    await replicate(tenant);
    await audit(tenant, ids);
    expect((await status(tenant)).counts).toMatchObject({ blue: 0, green: 500 });
  });

  it('keeps its replicate claim across a restart of the shard object', async () => {
    const tenant = freshTenant();
    const ids = (await accept(tenant, events(tenant, 50))).map((p) => p.id);
    await publish(tenant);
    const claim = await shardStub(env, tenant, 0).claimReplicate(20_000);
    await evictDurableObject(shardStub(env, tenant, 0));
    ids.push(...(await accept(tenant, events(tenant, 30, 50))).map((p) => p.id));
    await publish(tenant);
    const again = await shardStub(env, tenant, 0).claimReplicate(20_000);
    expect([again?.firstSeq, again?.lastSeq]).toEqual([claim?.firstSeq, claim?.lastSeq]);
    await replicate(tenant);
    await replicate(tenant);
    await audit(tenant, ids);
  });

  it('refuses to mark a range that does not continue the replica', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 10));
    await publish(tenant);
    expect(await shardStub(env, tenant, 0).markReplicated({ firstSeq: 2, lastSeq: 5 })).toEqual({
      ok: false,
      reason: expect.stringMatching(/does not continue the replica, which ends at 0/) as unknown as string,
    });
    expect(await shardStub(env, tenant, 0).markReplicated({ firstSeq: 1, lastSeq: 11 })).toMatchObject({ ok: false });
  });
});

describe('compaction', () => {
  it('merges a partition’s small segments atomically, once, and deletes the old objects after the grace period', async () => {
    const tenant = freshTenant();
    const ids: string[] = [];
    const maintain = recorder();
    for (let round = 0; round < 9; round++) {
      ids.push(...(await accept(tenant, events(tenant, 100, round * 100))).map((p) => p.id));
      await publish(tenant);
      await replicate(tenant, 1, { MAINTAIN_QUEUE: maintain.queue });
    }
    const small = await liveSegments(env, tenant, { kind: 'replica' });
    expect(small).toHaveLength(9);
    expect(maintain.sent).toContainEqual({ op: 'compact', tenant, shard: 0, date: '2026-11-20' });

    const message = { op: 'compact', tenant, shard: 0, date: '2026-11-20' };
    const results = await Promise.all([deliver('maintain', [message]), deliver('maintain', [message])]);
    for (const r of results) expect(r.retryMessages).toEqual([]);
    const merged = await liveSegments(env, tenant, { kind: 'replica' });
    expect(merged.map((s) => [s.level, s.firstSeq, s.lastSeq, s.rows])).toEqual([[1, 1, 900, 900]]);
    await audit(tenant, ids);
    // The old objects stay readable through the grace period, then go.
    expect(await env.SEGMENTS.head(small[0]!.key)).not.toBeNull();
    await deliver('maintain', [message], { COMPACT_GRACE_MS: '0' } as unknown as Partial<Env>);
    await new Promise((r) => setTimeout(r, 5)); // retired_at < now
    await deliver('maintain', [message], { COMPACT_GRACE_MS: '0' } as unknown as Partial<Env>);
    for (const s of small) expect(await env.SEGMENTS.head(s.key)).toBeNull();
    const states = await env.CATALOG.prepare(
      `SELECT state, count(*) AS n FROM segments WHERE tenant = ? AND kind = 'replica' GROUP BY state ORDER BY state`,
    )
      .bind(tenant)
      .all<{ state: string; n: number }>();
    expect(states.results).toEqual([
      { state: 'deleted', n: 9 },
      { state: 'live', n: 1 },
    ]);
    await audit(tenant, ids);
  });

  it('compacts a day whose segments were cut from ranges that span several days', async () => {
    const tenant = freshTenant();
    const ids: string[] = [];
    const maintain = recorder();
    for (let round = 0; round < 8; round++) {
      ids.push(...(await accept(tenant, events(tenant, 101, round * 101, 2))).map((p) => p.id));
      await publish(tenant);
      await replicate(tenant, 1, { MAINTAIN_QUEUE: maintain.queue });
    }
    for (const date of ['2026-11-20', '2026-11-21']) {
      const result = await deliver('maintain', [{ op: 'compact', tenant, shard: 0, date }]);
      expect(result.retryMessages).toEqual([]);
    }
    const live = await liveSegments(env, tenant, { kind: 'replica' });
    expect(live.map((s) => [s.date, s.level, s.firstSeq, s.lastSeq])).toEqual([
      ['2026-11-20', 1, 1, 808],
      ['2026-11-21', 1, 1, 808],
    ]);
    await audit(tenant, ids);
  });

  it('swaps nothing when a segment to retire is no longer live', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 20));
    await publish(tenant);
    await replicate(tenant);
    const [live] = await liveSegments(env, tenant, { kind: 'replica' });
    const replacement = { ...live!, key: `${live!.key}.other`, level: 1 };
    expect(await swapSegments(env, [live!.key, 'no-such-key'], [replacement])).toBe(false);
    expect((await liveSegments(env, tenant, { kind: 'replica' })).map((s) => s.key)).toEqual([live!.key]);
    expect(await swapSegments(env, [live!.key], [replacement])).toBe(true);
    expect((await liveSegments(env, tenant, { kind: 'replica' })).map((s) => s.key)).toEqual([replacement.key]);
    // A late retry of the step that wrote the retired key does not bring it back.
    await registerSegments(env, [live!]);
    expect((await liveSegments(env, tenant, { kind: 'replica' })).map((s) => s.key)).toEqual([replacement.key]);
    expect(await swapSegments(env, [live!.key], [replacement])).toBe(true); // already done: same outcome
  });
});

describe('eviction and recovery', () => {
  it('evicts green events after the hot window (red) and still recognises their ids', async () => {
    const tenant = freshTenant();
    const positions = await accept(tenant, events(tenant, 250));
    await publish(tenant);
    await replicate(tenant);
    await reconfigure(tenant, { HOT_WINDOW_MS: '0' });
    expect(await runDurableObjectAlarm(shardStub(env, tenant, 0))).toBe(true);
    const after = await status(tenant);
    expect(after.counts).toMatchObject({ grey: 0, blue: 0, green: 0, red: 250 });
    expect(after.hotEvents).toBe(0);
    const stored = await runInDurableObject(shardStub(env, tenant, 0), (_i, state) => ({
      events: state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM events').one().n,
      keys: state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM event_keys').one().n,
    }));
    expect(stored).toEqual({ events: 0, keys: 250 });
    const again = await accept(tenant, events(tenant, 250));
    expect(again.every((p) => p.duplicate && p.status === 'red')).toBe(true);
    expect(again.map((p) => [p.seq, p.version])).toEqual(positions.map((p) => [p.seq, p.version]));
    await audit(
      tenant,
      positions.map((p) => p.id),
    );
  });

  it('keeps green events while they are inside the hot window', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 10));
    await publish(tenant);
    await replicate(tenant);
    await runDurableObjectAlarm(shardStub(env, tenant, 0));
    expect((await status(tenant)).counts).toMatchObject({ green: 10, red: 0 });
  });

  it('never sets its alarm for now or the past, so a wake armed while the alarm runs is not cleared with it', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 10));
    await publish(tenant);
    await replicate(tenant);
    await runInDurableObject(shardStub(env, tenant, 0), async (instance, state) => {
      // What a commit or a mark does while alarm() awaits: arm for a time that is already due,
      // possibly the very time the running handler is for (the runtime deletes that one after it).
      const due = Date.now() - 5_000;
      (instance as unknown as { alarmAt: number | null; arm(at: number): void }).alarmAt = null;
      const armedAt = Date.now(); // the clock moves on across the await below, so compare with the time of arming
      (instance as unknown as { arm(at: number): void }).arm(due);
      expect(await state.storage.getAlarm()).toBeGreaterThan(armedAt);
      // Moved a minute ahead, so that it does not fire by itself while the handler below runs
      // (getAlarm() reads null while a firing handler has not re-armed yet).
      const later = Date.now() + 60_000;
      await state.storage.setAlarm(later);
      (instance as unknown as { alarmAt: number | null }).alarmAt = later;
    });
    // And the handler itself always leaves the next wake set while there is work (green events to evict later).
    await runDurableObjectAlarm(shardStub(env, tenant, 0));
    await runInDurableObject(shardStub(env, tenant, 0), async (_instance, state) => {
      expect(await state.storage.getAlarm()).not.toBeNull();
    });
  });

  it('re-drives events stuck blue from its alarm, and again until they are green', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 30));
    await publish(tenant);
    const queues = { publish: recorder(), replicate: recorder() };
    await reconfigure(tenant, { REPLICATE_DELAY_MS: '0', PUBLISH_QUEUE: queues.publish.queue, REPLICATE_QUEUE: queues.replicate.queue });
    expect(await runDurableObjectAlarm(shardStub(env, tenant, 0))).toBe(true);
    expect(queues.replicate.sent).toEqual([{ step: 'replicate', tenant, shard: 0 }]);
    expect(queues.publish.sent).toEqual([]);
    const alarm = await runInDurableObject(shardStub(env, tenant, 0), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + 20_000); // asked: the re-drive comes REDRIVE_MS later
    await replicate(tenant);
    expect((await status(tenant)).counts).toMatchObject({ blue: 0, green: 30 });
  });

  it('records dead letters and shows them in the status', async () => {
    const before = (await (await call('/v1/status')).json()) as { deadLetters: { count: number } };
    const result = await deliver('dead', [{ step: 'replicate', tenant: 'default', shard: 3 }]);
    expect(result.explicitAcks).toEqual(['m0']);
    const after = (await (await call('/v1/status')).json()) as {
      deadLetters: { count: number; latest: { step: string; shard: number | null }[] };
      lag: { greyMs: number | null; blueMs: number | null };
    };
    expect(after.deadLetters.count).toBe(before.deadLetters.count + 1);
    expect(after.deadLetters.latest[0]).toMatchObject({ step: 'replicate', shard: 3 });
    expect(after.lag).toHaveProperty('blueMs');
  });
});

describe('rebuild', () => {
  it('rebuilds the replica and the catalog from the master row segments alone', async () => {
    const tenant = freshTenant();
    const ids: string[] = [];
    for (let round = 0; round < 3; round++) {
      ids.push(...(await accept(tenant, events(tenant, 2000, round * 2000, 2))).map((p) => p.id));
      await publish(tenant);
      await replicate(tenant);
    }
    await audit(tenant, ids);
    // Lose the replica and the whole catalog of the tenant.
    const lost = await liveSegments(env, tenant, { kind: 'replica' });
    await env.SEGMENTS.delete(lost.map((s) => s.key));
    await env.CATALOG.prepare('DELETE FROM segments WHERE tenant = ?').bind(tenant).run();
    const result = await deliver('maintain', [{ op: 'rebuild', tenant, shard: 0 }]);
    expect(result.retryMessages).toEqual([]);
    await audit(tenant, ids);
    expect(await liveSegments(env, tenant, { kind: 'master' })).toHaveLength(3);
    // A second rebuild over an intact replica swaps in the same content.
    await deliver('maintain', [{ op: 'rebuild', tenant, shard: 0 }]);
    await audit(tenant, ids);
  });

  it('refuses to rebuild over a gap in the master store', async () => {
    const tenant = freshTenant();
    await accept(tenant, events(tenant, 6000));
    await publish(tenant);
    await replicate(tenant);
    const [first] = await liveSegments(env, tenant, { kind: 'master' });
    await env.SEGMENTS.delete(first!.key);
    const result = await deliver('maintain', [{ op: 'rebuild', tenant, shard: 0 }]);
    expect(result.retryMessages).toHaveLength(1);
    expect((await replicaRows(tenant)).length).toBe(6000); // the live replica is untouched
  });
});

describe('writes that wait for a colour', () => {
  it('answers ?wait=green once the events are queryable, through the real queues', async () => {
    const res = await post(`/v1/streams/wait-${Date.now()}/events?wait=green`, [
      { type: 'order.placed', data: { total: 5 } },
      { type: 'order.paid', data: { total: 5 } },
    ]);
    const body = (await res.clone().json()) as { wait: { colour: string; reached: boolean } };
    const list = await appended(res);
    expect(body.wait).toMatchObject({ colour: 'green', reached: true });
    expect(list.map((e) => e.status)).toEqual(['green', 'green']);

    const segments = (await (await call('/v1/segments?kind=replica')).json()) as { segments: { key: string; bytes: number }[] };
    expect(segments.segments.length).toBeGreaterThan(0);
    const file = await call(`/v1/segments/${segments.segments[0]!.key}`);
    expect(file.status).toBe(200);
    expect(file.headers.get('cache-control')).toContain('immutable');
    const bytes = new Uint8Array(await file.arrayBuffer());
    expect(new TextDecoder().decode(bytes.slice(0, 4))).toBe('PAR1');
  }, 20_000);

  it('answers ?wait=blue once the events are in the master store', async () => {
    const list = await appended(await post(`/v1/streams/waitb-${Date.now()}/events?wait=blue`, { type: 'x', data: {} }));
    expect(['blue', 'green']).toContain(list[0]!.status);
  }, 20_000);

  it('refuses an unknown colour and unknown segments', async () => {
    const res = await post('/v1/streams/s/events?wait=red', { type: 'x', data: {} });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/wait must be "blue"/);
    expect((await call('/v1/segments/replica/tenant=other/x.parquet')).status).toBe(404);
    expect((await call('/v1/segments?kind=nope')).status).toBe(400);
  });
});
