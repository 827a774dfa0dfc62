import { env, evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SHARD_MIGRATIONS } from '../../src/durable/shard-schema.js';
import { shardOf } from '../../src/engine/routing.js';
import { shardStub } from '../../src/workers/shards.js';
import { appended, call, freshStream, post, problem, totalAccepted } from './helpers.js';

/** A duplicate answers its original position with the colour the original has now (it may have been published). */
const asDuplicate = { duplicate: true, status: expect.stringMatching(/^(grey|blue)$/) as unknown as string };

const SHARDS = 8; // the default tenant's pinned count (wrangler.toml DEFAULT_SHARD_COUNT)

describe('POST /v1/streams/{stream}/events', () => {
  it('accepts one event and answers its position and colour', async () => {
    const stream = freshStream();
    const [e] = await appended(await post(`/v1/streams/${stream}/events`, { type: 'post.created', data: { text: 'hello' } }));
    expect(e).toMatchObject({
      stream,
      version: 1,
      seq: expect.any(Number),
      shard: shardOf(stream, SHARDS),
      status: 'grey',
      duplicate: false,
    });
    expect(e!.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('accepts an array in order, with consecutive versions and seqs', async () => {
    const stream = freshStream();
    const events = await appended(await post(`/v1/streams/${stream}/events`, [{ type: 'a' }, { type: 'b' }, { type: 'c' }]));
    expect(events.map((e) => e.version)).toEqual([1, 2, 3]);
    const first = events[0]!.seq;
    expect(events.map((e) => e.seq)).toEqual([first, first + 1, first + 2]);
  });

  it('accepts stream names with slashes, raw or percent-encoded', async () => {
    const stream = `org/repo/issues/${freshStream()}`;
    const [a] = await appended(await post(`/v1/streams/${stream}/events`, { type: 'x' }));
    const [b] = await appended(await post(`/v1/streams/${encodeURIComponent(stream)}/events`, { type: 'x' }));
    expect([a!.stream, b!.stream, b!.version]).toEqual([stream, stream, 2]);
  });

  it('stores a repeated id once and answers it with the original position', async () => {
    const stream = freshStream();
    const id = `delivery-${stream}`;
    const [first] = await appended(await post(`/v1/streams/${stream}/events`, { id, type: 'post.liked' }));
    const before = await totalAccepted();
    const again = await appended(
      await post(`/v1/streams/${stream}/events`, [
        { id, type: 'post.liked' },
        { id, type: 'post.liked' },
      ]),
    );
    expect(again).toEqual([
      { ...first, ...asDuplicate },
      { ...first, ...asDuplicate },
    ]);
    expect(await totalAccepted()).toBe(before);
  });

  it('enforces expectedVersion (query) and If-Match for the whole request', async () => {
    const stream = freshStream();
    const path = `/v1/streams/${stream}/events`;
    await problem(await post(`${path}?expectedVersion=exists`, { type: 'a' }), 409);
    await appended(await post(`${path}?expectedVersion=no_stream`, [{ type: 'a' }, { type: 'b' }]));
    await problem(await post(`${path}?expectedVersion=no_stream`, { type: 'c' }), 409);
    const before = await totalAccepted();
    const conflict = await problem(await post(`${path}?expectedVersion=1`, [{ type: 'c' }, { type: 'd' }]), 409);
    expect(conflict).toMatchObject({
      type: 'https://eventstore.dev/problems/version-conflict',
      stream,
      currentVersion: 2,
      expectedVersion: '1',
    });
    expect(conflict.detail).toMatch(/at version 2/);
    expect(await totalAccepted()).toBe(before); // nothing of the refused request was written
    const [c] = await appended(await post(path, { type: 'c' }, { 'if-match': '"2"' }));
    expect(c!.version).toBe(3);
    await appended(await post(path, { type: 'd' }, { 'if-match': '*' }));
    await appended(await post(`${path}?expectedVersion=4`, { type: 'e' }));
    await appended(await post(`${path}?expectedVersion=any`, { type: 'f' }));
    await problem(await post(`${path}?expectedVersion=4`, { type: 'g' }, { 'if-match': '"5"' }), 400);
  });

  it('answers a retried conditional request with the original positions', async () => {
    const stream = freshStream();
    const body = [
      { id: `${stream}-1`, type: 'a' },
      { id: `${stream}-2`, type: 'b' },
    ];
    const first = await appended(await post(`/v1/streams/${stream}/events?expectedVersion=0`, body));
    const retry = await appended(await post(`/v1/streams/${stream}/events?expectedVersion=0`, body));
    expect(retry).toEqual(first.map((e) => ({ ...e, ...asDuplicate })));
  });

  it('mints the same ids for a retry that carries the same Idempotency-Key', async () => {
    const stream = freshStream();
    const headers = { 'idempotency-key': `req-${stream}` };
    const first = await appended(await post(`/v1/streams/${stream}/events`, [{ type: 'a' }, { type: 'b' }], headers));
    const retry = await appended(await post(`/v1/streams/${stream}/events`, [{ type: 'a' }, { type: 'b' }], headers));
    expect(retry.map((e) => [e.id, e.seq, e.duplicate])).toEqual(first.map((e) => [e.id, e.seq, true]));
    const other = await appended(await post(`/v1/streams/${stream}/events`, [{ type: 'a' }], { 'idempotency-key': `other-${stream}` }));
    expect(other[0]!.duplicate).toBe(false);
  });
});

describe('POST /v1/events', () => {
  it('splits a batch of many streams across shards and answers in request order', async () => {
    const streams = Array.from({ length: 40 }, () => freshStream('multi'));
    const body = streams.flatMap((stream, i) => [
      { stream, type: 'post.created', data: { i } },
      { stream, type: 'post.liked', data: { i } },
    ]);
    const events = await appended(await post('/v1/events', body));
    expect(events).toHaveLength(80);
    expect(new Set(events.map((e) => e.shard)).size).toBeGreaterThan(4);
    events.forEach((e, i) => {
      expect(e.stream).toBe(body[i]!.stream);
      expect(e.shard).toBe(shardOf(e.stream, SHARDS));
      expect(e.version).toBe((i % 2) + 1);
    });
    // Within a shard, seqs follow request order.
    for (let shard = 0; shard < SHARDS; shard++) {
      const seqs = events.filter((e) => e.shard === shard).map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
    }
  });

  it('accepts 1,000 events in one request', async () => {
    const body = Array.from({ length: 1000 }, (_, i) => ({
      stream: `bulk-${i % 97}`,
      type: 'member.joined',
      data: { user: { id: i, name: `user ${i}` } },
    }));
    expect(await appended(await post('/v1/events', body))).toHaveLength(1000);
  });
});

describe('concurrent writers', () => {
  it('let exactly one of many racing no_stream writes win, each all or nothing', async () => {
    const stream = freshStream('race');
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        post(`/v1/streams/${stream}/events?expectedVersion=no_stream`, [
          { type: 'a', data: { writer: i } },
          { type: 'b', data: { writer: i } },
        ]),
      ),
    );
    expect(responses.map((r) => r.status).sort()).toEqual([202, ...Array(19).fill(409)]);
    const [winner] = await appended(await post(`/v1/streams/${stream}/events`, { type: 'c' }));
    expect(winner!.version).toBe(3);
  });

  it('give concurrent writers to one stream distinct, gap-free versions', async () => {
    const stream = freshStream('many');
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => post(`/v1/streams/${stream}/events`, { type: 'x', data: { i } }).then(appended)),
    );
    const versions = results.map((r) => r[0]!.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });
});

describe('coalesced shard calls', () => {
  it('store every event of many concurrent multi-shard batches exactly once', async () => {
    const before = await totalAccepted();
    const prefix = freshStream('burst');
    const batches = Array.from({ length: 25 }, (_, b) =>
      Array.from({ length: 40 }, (_, i) => ({
        id: `${prefix}-${b}-${i}`,
        stream: `${prefix}-s${(b * 7 + i) % 60}`,
        type: 't',
        data: { b, i },
      })),
    );
    const answers = await Promise.all(batches.map((body) => post('/v1/events', body).then(appended)));
    const all = answers.flat();
    expect(all).toHaveLength(1000);
    expect(all.every((e) => !e.duplicate)).toBe(true);
    expect(new Set(all.map((e) => `${e.shard}/${e.seq}`)).size).toBe(1000);
    for (let s = 0; s < 60; s++) {
      const versions = all.filter((e) => e.stream === `${prefix}-s${s}`).map((e) => e.version);
      expect(versions.sort((a, b) => a - b)).toEqual(versions.map((_, i) => i + 1));
    }
    expect(await totalAccepted()).toBe(before + 1000);
    // Sent again, all at once: every event is a duplicate with its original position.
    const again = (await Promise.all(batches.map((body) => post('/v1/events', body).then(appended)))).flat();
    expect(again).toEqual(all.map((e) => ({ ...e, ...asDuplicate })));
    expect(await totalAccepted()).toBe(before + 1000);
  });
});

describe('the shard object', () => {
  it('writes a call larger than one statement chunk: keys, heads and rows span several (1 MB each)', async () => {
    const stub = shardStub(env, 'default', 7);
    const tag = freshStream('big');
    const long = (prefix: string, i: number) => `${prefix}-${tag}-${i}-`.padEnd(250, 'x');
    const events = Array.from({ length: 5000 }, (_, i) => ({
      key: long('id', i),
      id: long('id', i),
      stream: long('s', i % 4000),
      type: 't',
      source: null,
      subject: null,
      time: 0,
      data: '{}',
    }));
    const call = { tenant: 'default', shard: 7, requests: [{ events, expected: { kind: 'any' as const } }] };
    const [first] = await stub.append(call);
    expect(first?.ok && first.positions.filter((p) => !p.duplicate)).toHaveLength(5000);
    const [again] = await stub.append(call);
    expect(again?.ok && again.positions.every((p) => p.duplicate)).toBe(true);
    const counts = await runInDurableObject(stub, (_i, state) => ({
      keys: state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM event_keys WHERE key LIKE ?', `id-${tag}-%`).one().n,
      streams: state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM streams WHERE stream LIKE ?', `s-${tag}-%`).one().n,
    }));
    expect(counts).toEqual({ keys: 5000, streams: 4000 });
  });

  it('keeps dedupe and versions across a restart of the object', async () => {
    const stream = freshStream();
    const shard = shardOf(stream, SHARDS);
    const [first] = await appended(await post(`/v1/streams/${stream}/events`, { id: `${stream}-once`, type: 'a' }));
    const stub = shardStub(env, 'default', shard);
    await evictDurableObject(stub);
    const [again] = await appended(await post(`/v1/streams/${stream}/events`, [{ id: `${stream}-once`, type: 'a' }]));
    expect(again).toEqual({ ...first, ...asDuplicate });
    const [next] = await appended(await post(`/v1/streams/${stream}/events`, { type: 'b' }));
    expect([next!.version, next!.seq]).toEqual([2, first!.seq + 1]);
  });

  it('stores each accepted event once with its dedupe key, in a versioned schema', async () => {
    const stream = freshStream();
    const events = await appended(
      await post(`/v1/streams/${stream}/events`, [
        { type: 'a', data: { n: 1 } },
        { type: 'b', source: 'src', subject: 'sub' },
      ]),
    );
    const stub = shardStub(env, 'default', shardOf(stream, SHARDS));
    const rows = await runInDurableObject(stub, (_instance, state) => ({
      schema: state.storage.sql.exec<{ version: number }>('SELECT max(version) AS version FROM _schema').one().version,
      events: state.storage.sql
        .exec<{ seq: number; version: number; body: string }>(
          'SELECT e.seq, e.version, e.body FROM events e JOIN streams s USING (stream_no) WHERE s.stream = ? ORDER BY seq',
          stream,
        )
        .toArray()
        .map((r) => ({ ...r, body: JSON.parse(r.body) as unknown })),
      keys: state.storage.sql.exec('SELECT key, seq FROM event_keys WHERE key IN (?, ?)', events[0]!.id, events[1]!.id).toArray(),
      meta: Object.fromEntries(
        state.storage.sql
          .exec<{ key: string; value: string }>('SELECT key, value FROM meta')
          .toArray()
          .map((r) => [r.key, r.value]),
      ),
    }));
    expect(rows.schema).toBe(Math.max(...SHARD_MIGRATIONS.map((m) => m.version)));
    expect(rows.events).toEqual([
      { seq: events[0]!.seq, version: 1, body: [events[0]!.id, 'a', null, null, expect.any(Number), { n: 1 }] },
      { seq: events[1]!.seq, version: 2, body: [events[1]!.id, 'b', 'src', 'sub', expect.any(Number), null] },
    ]);
    expect(rows.keys).toHaveLength(2);
    expect(rows.meta).toMatchObject({ tenant: 'default', shard: shardOf(stream, SHARDS) });
  });
});

describe('GET /v1/status', () => {
  it('counts each shard’s events per colour and the lag of each colour', async () => {
    const stream = freshStream();
    await appended(await post(`/v1/streams/${stream}/events`, [{ type: 'a' }, { type: 'b' }]));
    const res = await call('/v1/status');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    type Lag = { greyMs: number | null; blueMs: number | null };
    const status = (await res.json()) as {
      tenant: string;
      totals: Record<string, number>;
      lag: Lag;
      shards: { shard: number; headSeq: number; counts: Record<string, number>; lag: Lag; hotEvents: number }[];
      deadLetters: { count: number };
    };
    expect(status.tenant).toBe('default');
    expect(status.shards.map((s) => s.shard)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const mine = status.shards[shardOf(stream, SHARDS)]!;
    const colours = mine.counts.grey! + mine.counts.blue! + mine.counts.green! + mine.counts.red!;
    expect(colours).toBe(mine.headSeq);
    expect(mine.hotEvents).toBe(mine.headSeq - mine.counts.red!);
    if (mine.counts.grey! > 0) expect(mine.lag.greyMs).toBeGreaterThanOrEqual(0);
    else expect(mine.lag.greyMs).toBeNull();
    if (mine.counts.blue! > 0) expect(mine.lag.blueMs).toBeGreaterThanOrEqual(0);
    else expect(mine.lag.blueMs).toBeNull();
    expect(status.totals.grey).toBe(status.shards.reduce((n, s) => n + s.counts.grey!, 0));
    expect(status.lag.greyMs ?? 0).toBeGreaterThanOrEqual(mine.lag.greyMs ?? 0);
    expect(status.deadLetters.count).toBeGreaterThanOrEqual(0);
  });
});

describe('documentation', () => {
  it('serves an OpenAPI 3.1 document naming the write routes', async () => {
    const res = await call('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/streams/{stream}/events', '/v1/events', '/v1/status']));
  });

  it('serves a human docs page', async () => {
    const res = await call('/docs');
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/openapi\.json/);
  });
});
