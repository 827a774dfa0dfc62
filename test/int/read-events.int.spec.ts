// GET /v1/events/{id}: hot from the shard, cold from the one master segment the catalog names.
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { issueKey } from '../../src/workers/admin.js';
import { readEvent } from '../../src/workers/events.js';
import { shardStub } from '../../src/workers/shards.js';
import { createTenant, loadTenant } from '../../src/workers/tenant.js';
import { appended, call, post, problem } from './helpers.js';
import { publish, replicate } from './pipeline.js';

let n = 0;
const uniq = (p: string) => `${p}-${Date.now().toString(36)}-${n++}`;

describe('GET /v1/events/{id}', () => {
  it('answers a hot event with its colour, and refuses what it cannot find', async () => {
    const id = uniq('evt');
    const [stored] = await appended(
      await post(`/v1/streams/${uniq('s')}/events`, { id, type: 'post.created', data: { text: 'héllo', n: 1 } }),
    );
    const res = await call(`/v1/events/${id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
    expect(await res.json()).toMatchObject({
      id,
      stream: stored!.stream,
      version: 1,
      seq: stored!.seq,
      type: 'post.created',
      data: { text: 'héllo', n: 1 },
      status: 'grey',
    });
    expect((await problem(await call(`/v1/events/${uniq('nope')}`), 404)).detail).toMatch(/no event with id/);
    await problem(await call(`/v1/events/${id}`, {}, null), 401);
  });

  it('finds a CloudEvent by source and id', async () => {
    const id = uniq('ce');
    const body = JSON.stringify({
      specversion: '1.0',
      id,
      source: 'urn:shop',
      type: 'order.placed',
      subject: uniq('orders'),
      data: { total: 3 },
    });
    await appended(await call('/v1/events', { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body }));
    await problem(await call(`/v1/events/${id}`), 404);
    const res = await call(`/v1/events/${id}?source=${encodeURIComponent('urn:shop')}`);
    expect(await res.json()).toMatchObject({ id, source: 'urn:shop', data: { total: 3 } });
  });

  it('reads an evicted (red) event from its master segment, one R2 read, cacheable for good', async () => {
    const tenantId = uniq('cold');
    await createTenant(env, tenantId, 2);
    const { key } = await issueKey(env, tenantId, ['write', 'read'], null, null);
    const events = Array.from({ length: 30 }, (_, i) => ({ stream: `s-${i % 5}`, type: 't', id: `${tenantId}-${i}`, data: { i } }));
    const stored = await appended(await post('/v1/events', events, {}, key));
    const target = stored[17]!;
    for (const shard of [0, 1]) {
      await publish(tenantId, 1, {}, shard);
      await replicate(tenantId, 1, {}, shard);
      await runInDurableObject(shardStub(env, tenantId, shard), (instance) => {
        Object.defineProperty(instance, 'env', { value: { ...env, HOT_WINDOW_MS: '0' } });
      });
      await runDurableObjectAlarm(shardStub(env, tenantId, shard));
    }
    let gets = 0;
    const counting = new Proxy(env.SEGMENTS, {
      get: (bucket, prop) => {
        const value = Reflect.get(bucket, prop, bucket) as unknown;
        if (prop === 'get') gets++;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(bucket) : value;
      },
    });
    const view = await readEvent({ ...env, SEGMENTS: counting }, await loadTenant(env, tenantId), target.id);
    expect(view).toMatchObject({ id: target.id, status: 'red' });
    expect(gets).toBe(1);
    // Segments are immutable: the isolate keeps what it decoded, and the next read is not an R2 read.
    await readEvent({ ...env, SEGMENTS: counting }, await loadTenant(env, tenantId), target.id);
    expect(gets).toBe(1);
    const res = await call(`/v1/events/${target.id}`, {}, key);
    expect(res.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    expect(await res.json()).toMatchObject({
      id: target.id,
      seq: target.seq,
      shard: target.shard,
      version: target.version,
      data: { i: 17 },
      status: 'red',
    });

    // Another tenant's key does not see it.
    await problem(await call(`/v1/events/${target.id}`), 404);
  });
});

describe('GET /metrics', () => {
  it('answers the colours, lag, dead letters and segments in Prometheus text for a read key', async () => {
    const tenantId = `metrics-${Date.now().toString(36)}`;
    await createTenant(env, tenantId, 2);
    const { key } = await issueKey(env, tenantId, ['write', 'read'], null, null);
    await appended(
      await post(
        '/v1/events',
        [
          { stream: 'a', type: 't' },
          { stream: 'b', type: 't' },
          { stream: 'c', type: 't' },
        ],
        {},
        key,
      ),
    );
    await publish(tenantId, 1, {}, 0);
    await publish(tenantId, 1, {}, 1);
    const res = await call('/metrics', {}, key);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await res.text();
    expect(text).toContain('# TYPE eventstore_events gauge');
    const sum = (colour: string) =>
      [...text.matchAll(new RegExp(`^eventstore_events\\{tenant="${tenantId}",shard="\\d+",colour="${colour}"\\} (\\d+)$`, 'gm'))].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    expect([sum('grey'), sum('blue'), sum('green')]).toEqual([0, 3, 0]);
    expect(text).toMatch(new RegExp(`^eventstore_segments\\{tenant="${tenantId}",kind="master"\\} \\d+$`, 'm'));
    expect(text).toMatch(/^eventstore_dead_letters\{tenant="[^"]+"\} 0$/m);
    await problem(await call('/metrics', {}, null), 401);
    const writer = await issueKey(env, tenantId, ['write'], null, null);
    await problem(await call('/metrics', {}, writer.key), 403);
  });
});
