// Stream history and folded state: paged, hot and cold, with clear refusals.
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { shardOf } from '../../src/engine/routing.js';
import { issueKey } from '../../src/workers/admin.js';
import { shardStub } from '../../src/workers/shards.js';
import { createTenant } from '../../src/workers/tenant.js';
import { appended, call, post, problem } from './helpers.js';
import { publish, replicate } from './pipeline.js';

let n = 0;
const uniq = (p: string) => `${p}-${Date.now().toString(36)}-${n++}`;

type Page = {
  stream: string;
  headVersion: number;
  events: { version: number; data: { n: number }; status: string }[];
  next: number | null;
};

async function page(path: string, key?: string): Promise<Page> {
  const res = await call(path, {}, key);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Page;
}

describe('stream history', () => {
  it('pages forward and backward with a stable cursor', async () => {
    const stream = uniq('order');
    await appended(
      await post(
        `/v1/streams/${stream}/events`,
        Array.from({ length: 25 }, (_, i) => ({ type: 't', data: { n: i + 1 } })),
      ),
    );
    const seen: number[] = [];
    let from: number | null = 1;
    while (from !== null) {
      const p = await page(`/v1/streams/${stream}/events?from=${from}&limit=10`);
      expect(p.headVersion).toBe(25);
      seen.push(...p.events.map((e) => e.version));
      from = p.next;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const back = await page(`/v1/streams/${stream}/events?direction=backward&limit=4`);
    expect(back.events.map((e) => e.data.n)).toEqual([25, 24, 23, 22]);
    expect(back.next).toBe(21);
    const tail = await page(`/v1/streams/${stream}/events?direction=backward&from=3&limit=10`);
    expect([tail.events.map((e) => e.version), tail.next]).toEqual([[3, 2, 1], null]);
  });

  it('leaves out events later than asOf, and folds the state as of a version or a time', async () => {
    const stream = uniq('profile');
    await appended(
      await post(`/v1/streams/${stream}/events`, [
        { type: 'created', time: '2026-01-01T00:00:00Z', data: { name: 'Ada', city: 'London', tags: ['a'] } },
        { type: 'moved', time: '2026-02-01T00:00:00Z', data: { city: 'Paris' } },
        { type: 'untagged', time: '2026-03-01T00:00:00Z', data: { tags: null, email: 'ada@example.com' } },
      ]),
    );
    const early = await page(`/v1/streams/${stream}/events?asOf=2026-01-15T00:00:00Z`);
    expect(early.events.map((e) => e.version)).toEqual([1]);
    const state = async (q: string) => (await (await call(`/v1/streams/${stream}/state${q}`)).json()) as Record<string, unknown>;
    expect(await state('')).toMatchObject({ version: 3, headVersion: 3, state: { name: 'Ada', city: 'Paris', email: 'ada@example.com' } });
    expect(((await state('')) as { state: object }).state).not.toHaveProperty('tags');
    expect(await state('?version=2')).toMatchObject({
      version: 2,
      headVersion: 3,
      time: '2026-02-01T00:00:00.000Z',
      state: { name: 'Ada', city: 'Paris', tags: ['a'] },
    });
    expect(await state('?asOf=2026-01-31T23:59:59Z')).toMatchObject({ version: 1, state: { city: 'London' } });
    // Before the first event, still with the stream's head (it read nothing and said 0 once).
    expect(await state('?version=0')).toMatchObject({ version: 0, headVersion: 3, state: null, time: null });
    const pinned = await call(`/v1/streams/${stream}/state?version=2`);
    expect(pinned.headers.get('cache-control')).toContain('immutable');
  });

  it('refuses bad input with a clear 4xx', async () => {
    const stream = uniq('s');
    await appended(await post(`/v1/streams/${stream}/events`, { type: 't' }));
    for (const q of ['limit=-1', 'limit=0', 'limit=100000', 'from=0', 'from=abc', 'direction=sideways', 'asOf=yesterday']) {
      const doc = await problem(await call(`/v1/streams/${stream}/events?${q}`), 400);
      expect(doc.detail).toMatch(/query\./);
    }
    await problem(await call(`/v1/streams/${stream}/state?version=5`), 400);
    await problem(await call(`/v1/streams/${stream}/state?asOf=nope`), 400);
    expect((await problem(await call(`/v1/streams/${uniq('unknown')}/events`), 404)).detail).toMatch(/has no events/);
    await problem(await call('/v1/streams/bad%20name/events'), 400);
  });

  it('reads evicted versions from their master segments, in order with the hot ones', async () => {
    const tenantId = uniq('hist');
    await createTenant(env, tenantId, 2);
    const { key } = await issueKey(env, tenantId, ['write', 'read'], null, null);
    const stream = 'account/7';
    const shard = shardOf(stream, 2);
    await appended(
      await post(
        `/v1/streams/${stream}/events`,
        Array.from({ length: 12 }, (_, i) => ({ type: 't', data: { n: i + 1 } })),
        {},
        key,
      ),
    );
    await publish(tenantId, 1, {}, shard);
    await replicate(tenantId, 1, {}, shard);
    await runInDurableObject(shardStub(env, tenantId, shard), (instance) => {
      Object.defineProperty(instance, 'env', { value: { ...env, HOT_WINDOW_MS: '0' } });
    });
    await runDurableObjectAlarm(shardStub(env, tenantId, shard));
    await appended(
      await post(
        `/v1/streams/${stream}/events`,
        Array.from({ length: 3 }, (_, i) => ({ type: 't', data: { n: 13 + i } })),
        {},
        key,
      ),
    );
    const all = await page(`/v1/streams/${encodeURIComponent(stream)}/events?limit=100`, key);
    expect(all.events.map((e) => [e.data.n, e.status])).toEqual([
      ...Array.from({ length: 12 }, (_, i) => [i + 1, 'red']),
      [13, 'grey'],
      [14, 'grey'],
      [15, 'grey'],
    ]);
    const folded = (await (await call(`/v1/streams/${encodeURIComponent(stream)}/state`, {}, key)).json()) as {
      version: number;
      state: unknown;
    };
    expect(folded).toMatchObject({ version: 15, state: { n: 15 } });
    // The default tenant's key does not see this tenant's stream.
    await problem(await call(`/v1/streams/${encodeURIComponent(stream)}/events`), 404);
  });

  it('folds with the reducers an admin configured for the tenant', async () => {
    const tenantId = uniq('red');
    await createTenant(env, tenantId, 2);
    const { key } = await issueKey(env, tenantId, ['write', 'read', 'admin'], null, null);
    const stream = 'post/9';
    await appended(
      await post(
        `/v1/streams/${stream}/events`,
        [
          { type: 'created', data: { title: 'Hello' } },
          { type: 'liked', data: { by: 'ann' } },
          { type: 'liked', data: { by: 'bob' } },
          { type: 'commented', data: { text: 'nice' } },
        ],
        {},
        key,
      ),
    );
    const state = async () =>
      ((await (await call(`/v1/streams/${encodeURIComponent(stream)}/state`, {}, key)).json()) as { state: unknown }).state;
    expect(await state()).toEqual({ title: 'Hello', by: 'bob', text: 'nice' });
    const put = (body: unknown) =>
      call('/v1/admin/reducers', { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }, key);
    expect(
      (
        await put({
          liked: { op: 'increment', path: 'likes' },
          commented: { op: 'append', path: 'comments', field: 'text' },
        })
      ).status,
    ).toBe(200);
    expect(await state()).toEqual({ title: 'Hello', likes: 2, comments: ['nice'] });
    expect(await (await call('/v1/admin/reducers', {}, key)).json()).toMatchObject({ liked: { op: 'increment' } });
    const bad = await problem(await put({ liked: { op: 'multiply', path: 'x' } }), 400);
    expect(bad.detail).toMatch(/liked/);
    // A read-only key cannot change them.
    const reader = await issueKey(env, tenantId, ['read'], null, null);
    await problem(
      await call('/v1/admin/reducers', { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } }, reader.key),
      403,
    );
  });
});
