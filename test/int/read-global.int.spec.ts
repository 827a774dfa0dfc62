// The global read and subscriptions: one stable order across shards, exactly once from the start,
// across the hot/cold boundary, filtered, resumable; subscriptions at-least-once with checkpoints.
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { issueKey } from '../../src/workers/admin.js';
import { shardStub } from '../../src/workers/shards.js';
import { decodeCursor, startCursor } from '../../src/engine/global.js';
import { readGlobal } from '../../src/workers/global.js';
import { createTenant, loadTenant } from '../../src/workers/tenant.js';
import { appended, call, post, problem } from './helpers.js';
import { publish, replicate } from './pipeline.js';

let n = 0;
const uniq = (p: string) => `${p}-${Date.now().toString(36)}-${n++}`;

interface Ev {
  id: string;
  stream: string;
  type: string;
  shard: number;
  seq: number;
  receivedAt: string;
  status: string;
  data: { i: number };
}
interface Page {
  events: Ev[];
  next: string;
  caughtUp: boolean;
  watermark: string;
}

/** A tenant of `shards` shards and a key of it. */
async function tenantWithKey(shards: number, scopes = ['write', 'read']) {
  const tenant = uniq('glob');
  await createTenant(env, tenant, shards);
  const { key } = await issueKey(env, tenant, scopes, null, null);
  return { tenant, key };
}

/** Writes `count` events over `streams` streams in requests of `batch`, data.i numbering them from `from`. */
async function write(key: string, count: number, from = 0, streams = 9, batch = 7) {
  const ids: string[] = [];
  for (let start = 0; start < count; start += batch) {
    const body = Array.from({ length: Math.min(batch, count - start) }, (_, j) => {
      const i = from + start + j;
      return { stream: `acct-${i % streams}`, type: i % 3 === 0 ? 'opened' : 'moved', data: { i } };
    });
    const res = await post('/v1/events', body, {}, key);
    ids.push(...(await appended(res)).map((e) => e.id));
  }
  return ids;
}

async function page(path: string, key: string): Promise<Page> {
  const res = await call(path, {}, key);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Page;
}

/** Follows the global read from `after` until caught up; answers the events in order and the last cursor. */
async function follow(key: string, limit: number, after?: string, query = '') {
  const seen: Ev[] = [];
  let cursor = after;
  for (let pages = 0; pages < 1000; pages++) {
    const p = await page(`/v1/all?limit=${limit}${cursor ? `&after=${cursor}` : ''}${query}`, key);
    seen.push(...p.events);
    cursor = p.next;
    if (p.caughtUp) return { seen, cursor };
  }
  throw new Error('never caught up');
}

const orderKey = (e: Ev) => [Date.parse(e.receivedAt), e.shard, e.seq] as const;
function expectOrdered(events: readonly Ev[]) {
  for (let i = 1; i < events.length; i++) {
    const [a, b] = [orderKey(events[i - 1]!), orderKey(events[i]!)];
    expect(a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] < b[2]))), `${a} before ${b}`).toBe(true);
  }
}

async function evict(tenant: string, shard: number) {
  await publish(tenant, 1, {}, shard);
  await replicate(tenant, 1, {}, shard);
  await runInDurableObject(shardStub(env, tenant, shard), (instance) => {
    Object.defineProperty(instance, 'env', { value: { ...env, HOT_WINDOW_MS: '0' } });
  });
  await runDurableObjectAlarm(shardStub(env, tenant, shard));
}

describe('GET /v1/all', () => {
  it('serves every event of every shard exactly once, in (receivedAt, shard, seq) order', async () => {
    const { key } = await tenantWithKey(4);
    const ids = await write(key, 120);
    const { seen } = await follow(key, 13);
    expect(seen.map((e) => e.id).sort()).toEqual([...ids].sort());
    expect(new Set(seen.map((e) => e.shard)).size).toBe(4);
    expectOrdered(seen);
    // A second reader sees the very same sequence.
    const again = await follow(key, 50);
    expect(again.seen.map((e) => e.id)).toEqual(seen.map((e) => e.id));
  });

  it('resumes exactly where it stopped while events move from hot to cold and new ones arrive', async () => {
    const { tenant, key } = await tenantWithKey(3);
    const first = await write(key, 60);
    const start = await page('/v1/all?limit=25', key);
    expect(start.events).toHaveLength(25);
    for (const shard of [0, 1, 2]) await evict(tenant, shard);
    const later = await write(key, 30, 60);
    const rest = await follow(key, 10, start.next);
    const all = [...start.events, ...rest.seen];
    expect(all.map((e) => e.id).sort()).toEqual([...first, ...later].sort());
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    expectOrdered(all);
    expect(rest.seen.some((e) => e.status === 'red')).toBe(true);
    expect(rest.seen.some((e) => e.status === 'grey')).toBe(true);
    // Caught up: the same cursor gives nothing new, then the next write.
    const idle = await page(`/v1/all?after=${rest.cursor}`, key);
    expect([idle.events.length, idle.caughtUp]).toEqual([0, true]);
    const [late] = await write(key, 1, 90);
    const fresh = await page(`/v1/all?after=${idle.next}`, key);
    expect(fresh.events.map((e) => e.id)).toEqual([late]);
  });

  it('reads cold history only from the master segments the catalog lists, each once however many pages span it', async () => {
    const { tenant, key } = await tenantWithKey(2);
    const ids: string[] = [];
    // Several master segments per shard: publish after each write.
    for (let round = 0; round < 3; round++) {
      ids.push(...(await write(key, 20, round * 20)));
      for (const shard of [0, 1]) await publish(tenant, 1, {}, shard);
    }
    for (const shard of [0, 1]) await evict(tenant, shard);
    const listed = await env.CATALOG.prepare(`SELECT key FROM segments WHERE tenant = ? AND kind = 'master' AND state = 'live'`)
      .bind(tenant)
      .all<{ key: string }>();
    expect(listed.results.length).toBeGreaterThanOrEqual(6);
    const keys: string[] = [];
    const counting = new Proxy(env.SEGMENTS, {
      get: (bucket, prop) => {
        const value = Reflect.get(bucket, prop, bucket) as unknown;
        if (prop === 'get') return (k: string, ...rest: unknown[]) => (keys.push(k), bucket.get(k, ...(rest as [])));
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(bucket) : value;
      },
    });
    const t = await loadTenant(env, tenant);
    const seen: string[] = [];
    let cursor = startCursor(2);
    for (;;) {
      const page = await readGlobal({ ...env, SEGMENTS: counting }, t, cursor, 7, {});
      seen.push(...page.events.map((e) => e.id));
      expect(page.events.every((e) => e.status === 'red')).toBe(true);
      cursor = decodeCursor(page.next, 2);
      if (page.caughtUp) break;
    }
    expect(seen.sort()).toEqual([...ids].sort());
    expect(keys.sort()).toEqual(listed.results.map((r) => r.key).sort());
  });

  it('filters by type and stream prefix, and the cursor moves past what it leaves out', async () => {
    const { key } = await tenantWithKey(2);
    await write(key, 40);
    const opened = await follow(key, 5, undefined, '&types=opened');
    expect(opened.seen.map((e) => e.data.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 14 }, (_, k) => 3 * k));
    expectOrdered(opened.seen);
    expect(opened.seen.every((e) => e.type === 'opened')).toBe(true);
    expect(opened.seen).toHaveLength(14);
    const prefixed = await follow(key, 100, undefined, '&streamPrefix=acct-1&types=opened,moved');
    expect(prefixed.seen.every((e) => e.stream === 'acct-1')).toBe(true);
    expect(prefixed.seen.map((e) => e.data.i).sort((a, b) => a - b)).toEqual([1, 10, 19, 28, 37]);
    // After the filtered read, an unfiltered read from its cursor has nothing left.
    expect((await page(`/v1/all?after=${prefixed.cursor}`, key)).events).toEqual([]);
  });

  it('refuses bad cursors and limits with a 400 that says what to pass', async () => {
    const { key } = await tenantWithKey(2);
    const other = await tenantWithKey(3);
    const { next } = await page('/v1/all', other.key);
    for (const q of ['after=%%%', 'after=bm90IGpzb24', `after=${next}`, 'limit=0', 'limit=-3', 'limit=5000', 'limit=abc']) {
      const doc = await problem(await call(`/v1/all?${q}`, {}, key), 400);
      expect(doc.detail).toMatch(/cursor|limit/);
    }
    await problem(await call('/v1/all', {}, null), 401);
    const writer = await issueKey(env, other.tenant, ['write'], null, null);
    await problem(await call('/v1/all', {}, writer.key), 403);
  });

  it('keeps receipt times above what a shard promised, even when its clock is behind', async () => {
    const { tenant, key } = await tenantWithKey(1);
    const ahead = Date.now() + 60_000;
    const promised = await shardStub(env, tenant, 0).globalSlice(0, 0, ahead);
    expect(promised.promise).toBe(ahead);
    await write(key, 3);
    const { seen } = await follow(key, 10);
    expect(seen.every((e) => Date.parse(e.receivedAt) > ahead)).toBe(true);
  });
});

describe('subscriptions', () => {
  it('deliver at least once, resume from the acked checkpoint, and are independent', async () => {
    const { key } = await tenantWithKey(3);
    const ids = await write(key, 30);
    const created = await call(
      '/v1/subscriptions/billing',
      { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } },
      key,
    );
    expect(created.status).toBe(201);
    const put = (name: string, body: unknown) =>
      call(
        `/v1/subscriptions/${name}`,
        { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } },
        key,
      );
    expect((await put('audit', { types: ['opened'] })).status).toBe(201);
    const next = (name: string, limit = 8) => page(`/v1/subscriptions/${name}/events?limit=${limit}`, key);
    const ack = async (name: string, cursor: string) => {
      const res = await post(`/v1/subscriptions/${name}/ack`, { cursor }, {}, key);
      expect(res.status).toBe(200);
      return (await res.json()) as { moved: boolean };
    };

    const a = await next('billing');
    // Not acked: the consumer "crashed"; the same events come again.
    const again = await next('billing');
    expect(again.events.map((e) => e.id)).toEqual(a.events.map((e) => e.id));
    expect((await ack('billing', a.next)).moved).toBe(true);
    expect((await ack('billing', a.next)).moved).toBe(false); // repeated
    const delivered = [...a.events];
    for (;;) {
      const p = await next('billing');
      delivered.push(...p.events);
      await ack('billing', p.next);
      if (p.caughtUp) break;
    }
    expect(delivered.map((e) => e.id).sort()).toEqual([...ids].sort());
    // A late ack of an old cursor does not move the checkpoint back.
    expect((await ack('billing', a.next)).moved).toBe(false);
    expect((await next('billing')).events).toEqual([]);

    // The other subscription was not moved by billing's acks, and sees only its type.
    const audit = await next('audit', 100);
    expect(audit.events.map((e) => e.data.i).sort((x, y) => x - y)).toEqual([0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);

    // Starting at the end: only what comes later.
    expect((await put('tail', { start: 'end' })).status).toBe(201);
    const [late] = await write(key, 1, 100);
    expect((await next('tail')).events.map((e) => e.id)).toEqual([late]);

    const listed = (await (await call('/v1/subscriptions', {}, key)).json()) as { subscriptions: { name: string }[] };
    expect(listed.subscriptions.map((s) => s.name)).toEqual(['audit', 'billing', 'tail']);
    // Re-PUT without start keeps the checkpoint; with start it moves it.
    const kept = (await (await put('billing', { types: ['moved'] })).json()) as { checkpoint: string; types: string[] };
    expect(kept.types).toEqual(['moved']);
    expect((await (await put('billing', { start: 'beginning' })).json()) as { checkpoint: string }).not.toMatchObject({
      checkpoint: kept.checkpoint,
    });
    expect((await call('/v1/subscriptions/tail', { method: 'DELETE' }, key)).status).toBe(204);
    await problem(await call('/v1/subscriptions/tail/events', {}, key), 404);
  });

  it('refuse bad names, bodies and cursors, and never show another tenant’s subscription', async () => {
    const { key } = await tenantWithKey(2);
    const other = await tenantWithKey(2);
    const put = (path: string, body: string, k = key) =>
      call(path, { method: 'PUT', body, headers: { 'content-type': 'application/json' } }, k);
    expect((await put('/v1/subscriptions/mine', '{}')).status).toBe(201);
    await problem(await put('/v1/subscriptions/bad%20name', '{}'), 400);
    await problem(await put('/v1/subscriptions/x', '{"types": "opened"}'), 400);
    await problem(await put('/v1/subscriptions/x', '{"start": "middle"}'), 400);
    await problem(await put('/v1/subscriptions/x', '{"start": {"after": "nope"}}'), 400);
    await problem(await put('/v1/subscriptions/x', '{"unknown": 1}'), 400);
    await problem(await post('/v1/subscriptions/mine/ack', { cursor: 'garbage' }, {}, key), 400);
    await problem(await post('/v1/subscriptions/mine/ack', {}, {}, key), 400);
    await problem(await call('/v1/subscriptions/mine', {}, other.key), 404);
    await problem(await call('/v1/subscriptions/mine/events', {}, other.key), 404);
    await problem(await post('/v1/subscriptions/mine/ack', { cursor: 'AQ' }, {}, other.key), 400);
    const list = (await (await call('/v1/subscriptions', {}, other.key)).json()) as { subscriptions: unknown[] };
    expect(list.subscriptions).toEqual([]);
  });
});
