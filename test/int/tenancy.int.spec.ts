// Tenants and keys: every route is confined to the key's tenant, scopes are enforced, keys are
// stored hashed, and limits answer 401/403/429 with what to do.
import { env } from 'cloudflare:test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/engine/keys.js';
import { issueKey } from '../../src/workers/admin.js';
import { appended, call, post, problem } from './helpers.js';

let n = 0;
const uniq = (p: string) => `${p}-${Date.now().toString(36)}-${n++}`;

/** A tenant created through the ADMIN_TOKEN route, answering its first admin key. */
async function newTenant(shardCount = 4): Promise<{ id: string; admin: string }> {
  const id = uniq('t');
  const res = await post('/v1/admin/tenants', { id, shardCount }, { authorization: 'Bearer test-admin-token' }, null);
  expect(res.status, await res.clone().text()).toBe(201);
  const body = (await res.json()) as { key: string; tenant: string; scopes: string[] };
  expect(body).toMatchObject({ tenant: id, scopes: ['write', 'read', 'query', 'admin'] });
  return { id, admin: body.key };
}

async function keyWith(admin: string, scopes: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const res = await post('/v1/admin/keys', { scopes, ...extra }, {}, admin);
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { key: string }).key;
}

const totals = async (key: string) =>
  ((await (await call('/v1/status', {}, key)).json()) as { shards: { headSeq: number }[] }).shards.reduce((s, x) => s + x.headSeq, 0);

describe('tenants and keys', () => {
  it('creates tenants only with the ADMIN_TOKEN, and keys only by an admin of the tenant', async () => {
    await problem(await post('/v1/admin/tenants', { id: uniq('x') }, {}, null), 401);
    await problem(await post('/v1/admin/tenants', { id: uniq('x') }, { authorization: 'Bearer wrong' }, null), 401);
    const a = await newTenant();
    await problem(await post('/v1/admin/tenants', { id: a.id }, { authorization: 'Bearer test-admin-token' }, null), 409);
    await problem(await post('/v1/admin/tenants', { id: 'Bad Name!' }, { authorization: 'Bearer test-admin-token' }, null), 400);
    const writer = await keyWith(a.admin, ['write']);
    await problem(await post('/v1/admin/keys', { scopes: ['admin'] }, {}, writer), 403);
    await problem(await post('/v1/admin/keys', { scopes: ['root'] }, {}, a.admin), 400);
  });

  it('stores only the hash of a key', async () => {
    const a = await newTenant();
    const rows = await env.CATALOG.prepare('SELECT * FROM api_keys WHERE tenant = ?').bind(a.id).all<Record<string, unknown>>();
    expect(rows.results).toHaveLength(1);
    expect(JSON.stringify(rows.results)).not.toContain(a.admin);
    expect(rows.results[0]!.hash).toBe(await hashApiKey(a.admin));
    const listed = await (await call('/v1/admin/keys', {}, a.admin)).text();
    expect(listed).not.toContain(a.admin);
    expect(listed).not.toContain(String(rows.results[0]!.hash));
  });

  it('refuses missing, malformed, unknown and revoked keys with 401', async () => {
    const a = await newTenant();
    const doc = await problem(await call('/v1/status', {}, null), 401);
    expect(doc.detail).toMatch(/Authorization: Bearer/);
    expect((await call('/v1/status', {}, null)).headers.get('www-authenticate')).toMatch(/^Bearer/);
    await problem(await call('/v1/status', { headers: { authorization: 'Basic abc' } }, null), 401);
    await problem(await call('/v1/status', {}, 'not-a-key'), 401);
    await problem(await call('/v1/status', {}, `esk_${'A'.repeat(43)}`), 401);
    const reader = await keyWith(a.admin, ['read']);
    expect((await call('/v1/status', {}, reader)).status).toBe(200);
    const keys = (await (await call('/v1/admin/keys', {}, a.admin)).json()) as { keys: { id: string; scopes: string[] }[] };
    const id = keys.keys.find((k) => k.scopes.join() === 'read')!.id;
    expect((await call(`/v1/admin/keys/${id}`, { method: 'DELETE' }, a.admin)).status).toBe(204);
    await problem(await call('/v1/status', {}, reader), 401);
  });

  it('enforces scopes on every route', async () => {
    const a = await newTenant();
    const writer = await keyWith(a.admin, ['write']);
    const reader = await keyWith(a.admin, ['read']);
    const querier = await keyWith(a.admin, ['query']);
    for (const key of [reader, querier]) {
      await problem(await post('/v1/events', [{ stream: 's', type: 't' }], {}, key), 403);
      await problem(await post('/v1/streams/s/events', { type: 't' }, {}, key), 403);
    }
    for (const key of [writer, querier]) {
      await problem(await call('/v1/status', {}, key), 403);
      await problem(await call('/v1/segments', {}, key), 403);
    }
    for (const key of [writer, reader, querier]) {
      await problem(await post('/v1/admin/keys', { scopes: ['read'] }, {}, key), 403);
      await problem(await post('/v1/admin/sources', { platform: 'github', secrets: { secret: 's' } }, {}, key), 403);
      await problem(await post('/v1/admin/rebuild', {}, {}, key), 403);
    }
    const doc = await problem(await call('/v1/status', {}, writer), 403);
    expect(doc.detail).toMatch(/needs "read"/);
    await appended(await post('/v1/events', [{ stream: 's', type: 't' }], {}, writer));
  });

  it('keeps tenants apart: writes, versions, status, segments, sources', async () => {
    const a = await newTenant();
    const b = await newTenant();
    const inA = await appended(await post('/v1/streams/shared/events', [{ type: 'x' }, { type: 'y' }], {}, a.admin));
    expect(inA.map((e) => e.version)).toEqual([1, 2]);
    // The same stream name and even the same id in B are B's own.
    const inB = await appended(await post('/v1/streams/shared/events', { type: 'x', id: inA[0]!.id }, {}, b.admin));
    expect(inB[0]).toMatchObject({ version: 1, duplicate: false });
    expect(await totals(a.admin)).toBe(2);
    expect(await totals(b.admin)).toBe(1);
    // Expected versions are per tenant.
    await appended(await post('/v1/streams/shared/events?expectedVersion=1', { type: 'z' }, {}, b.admin));
    await problem(await post('/v1/streams/shared/events?expectedVersion=1', { type: 'z' }, {}, a.admin), 409);
    // Segments: B cannot list or fetch A's.
    await post('/v1/streams/w/events?wait=green', { type: 'w' }, {}, a.admin);
    const aSegments = (await (await call('/v1/segments', {}, a.admin)).json()) as { segments: { key: string }[] };
    expect(aSegments.segments.length).toBeGreaterThan(0);
    expect(aSegments.segments.every((s) => s.key.includes(`tenant=${a.id}/`))).toBe(true);
    const bSegments = (await (await call('/v1/segments', {}, b.admin)).json()) as { segments: { key: string }[] };
    expect(bSegments.segments.some((s) => s.key.includes(a.id))).toBe(false);
    await problem(await call(`/v1/segments/${aSegments.segments[0]!.key}`, {}, b.admin), 404);
    // Sources and keys: B's admin sees and deletes none of A's.
    const created = await post('/v1/admin/sources', { platform: 'github', secrets: { secret: 'gh-secret' } }, {}, a.admin);
    expect(created.status).toBe(201);
    const source = (await created.json()) as { id: string; url: string };
    expect(JSON.stringify(source)).not.toContain('gh-secret');
    const bSources = (await (await call('/v1/admin/sources', {}, b.admin)).json()) as { sources: unknown[] };
    expect(bSources.sources).toEqual([]);
    await problem(await call(`/v1/admin/sources/${source.id}`, { method: 'DELETE' }, b.admin), 404);
    const aKeys = (await (await call('/v1/admin/keys', {}, a.admin)).json()) as { keys: { id: string }[] };
    await problem(await call(`/v1/admin/keys/${aKeys.keys[0]!.id}`, { method: 'DELETE' }, b.admin), 404);
    const aSources = (await (await call('/v1/admin/sources', {}, a.admin)).json()) as { sources: unknown[] };
    expect(JSON.stringify(aSources)).not.toContain('gh-secret');
  }, 20_000);

  it('limits each key’s request rate with 429 and Retry-After', async () => {
    const a = await newTenant();
    const slow = (await issueKey(env, a.id, ['read'], 'slow', 1)).key;
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const res = await call('/v1/status', {}, slow);
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]); // a burst of twice the rate
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await call('/v1/status', {}, a.admin)).status).toBe(200); // other keys are not affected
  });

  it('answers the CloudEvents abuse-protection handshake', async () => {
    const res = await call('/v1/events', { method: 'OPTIONS', headers: { 'webhook-request-origin': 'eventemitter.example.com' } }, null);
    expect(res.status).toBe(200);
    expect(res.headers.get('webhook-allowed-origin')).toBe('eventemitter.example.com');
    expect(Number(res.headers.get('webhook-allowed-rate'))).toBeGreaterThan(0);
  });

  it('gives only 4xx for fuzzed authorization headers on every route', async () => {
    const routes: [string, string][] = [
      ['GET', '/v1/status'],
      ['GET', '/v1/segments'],
      ['POST', '/v1/events'],
      ['POST', '/v1/streams/s/events'],
      ['POST', '/v1/admin/keys'],
      ['POST', '/v1/admin/tenants'],
      ['DELETE', '/v1/admin/sources/x'],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `Bearer ${s}`),
          fc.string({ minLength: 43, maxLength: 43 }).map((s) => `Bearer esk_${s}`),
        ),
        async ([method, path], authorization) => {
          let res: Response;
          try {
            res = await call(
              path,
              { method, headers: { authorization, 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' },
              null,
            );
          } catch (error) {
            // Headers with characters HTTP forbids never reach the Worker.
            expect(String(error)).toMatch(/header|invalid/i);
            return;
          }
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
  });
});
