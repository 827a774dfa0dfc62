// The query Worker end to end in workerd: SQL over the replica the pipeline wrote, fanned out to
// Scanner objects, merged; cached partials; the hot tail under strong consistency; limits; async.
import { env } from 'cloudflare:test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { issueKey } from '../../src/workers/admin.js';
import { forgetPartials, runQuery } from '../../src/workers/query.js';
import { createTenant, loadTenant } from '../../src/workers/tenant.js';
import { appended, call, post, problem } from './helpers.js';
import { deliver, publish, replicate } from './pipeline.js';

let n = 0;
const uniq = (p: string) => `${p}-${Date.now().toString(36)}-${n++}`;

const TYPES = ['post.created', 'post.liked', 'post.liked', 'post.commented'];
const COUNTRIES = ['fr', 'de', 'us', null];

/** The test env with some vars replaced (config is read per env object). */
const withVars = (vars: Record<string, string>) => ({ ...env, ...vars }) as unknown as Env;

interface Answer {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  stats: {
    segmentsTotal: number;
    segmentsScanned: number;
    segmentsPruned: number;
    rowsScanned: number;
    bytesRead: number;
    subrequests: number;
    cache: { hits: number; misses: number };
    hotRows: number;
    elapsedMs: number;
  };
  plan?: { tasks: unknown[]; pruned: unknown[] };
}

async function setup(shards = 2) {
  const tenant = uniq('q');
  await createTenant(env, tenant, shards);
  const { key } = await issueKey(env, tenant, ['write', 'read', 'query'], null, null);
  return { tenant, key };
}

/** Writes `count` events numbered from `from`; answers them as written. */
async function write(key: string, count: number, from = 0) {
  const events = Array.from({ length: count }, (_, j) => {
    const i = from + j;
    return {
      stream: `post-${i % 17}`,
      type: TYPES[i % TYPES.length]!,
      time: new Date(Date.UTC(2026, 10, 20 + (i % 3), i % 24)).toISOString(),
      data: { n: i, amount: (i % 10) + 0.5, country: COUNTRIES[i % 4], user: { id: `u${i % 5}` } },
    };
  });
  for (let at = 0; at < events.length; at += 500) await appended(await post('/v1/events', events.slice(at, at + 500), {}, key));
  return events;
}

async function green(tenant: string, shards = 2) {
  for (let shard = 0; shard < shards; shard++) {
    await publish(tenant, 1, {}, shard);
    await replicate(tenant, 1, {}, shard);
  }
}

async function query(key: string, sql: string, extra: Record<string, unknown> = {}): Promise<Answer> {
  const res = await post('/v1/query', { sql, ...extra }, {}, key);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Answer;
}

describe('POST /v1/query', () => {
  it('answers aggregations over the replica, fanned out and merged, with stats and a cache of per-segment partials', async () => {
    const { tenant, key } = await setup();
    const events = await write(key, 600);
    await green(tenant);
    forgetPartials();
    const sql = `SELECT type, count(*) AS n, sum(data.amount) AS total, count(DISTINCT stream) AS streams
                   FROM events WHERE time >= '2026-11-21' GROUP BY type ORDER BY type`;
    const first = await query(key, sql, { explain: true });
    const expected = new Map<string, { n: number; total: number; streams: Set<string> }>();
    for (const e of events.filter((e) => e.time >= '2026-11-21')) {
      const g = expected.get(e.type) ?? { n: 0, total: 0, streams: new Set() };
      g.n += 1;
      g.total += e.data.amount;
      g.streams.add(e.stream);
      expected.set(e.type, g);
    }
    expect(first.rows).toEqual(
      [...expected.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([type, g]) => [type, g.n, g.total, g.streams.size]),
    );
    expect(first.columns.map((c) => c.name)).toEqual(['type', 'n', 'total', 'streams']);
    // The 20th is pruned by the time range (one segment per shard and day).
    expect(first.stats.segmentsTotal).toBe(6);
    expect(first.stats.segmentsPruned).toBe(2);
    expect(first.stats.subrequests).toBeGreaterThanOrEqual(1);
    expect(first.stats.cache).toEqual({ hits: 0, misses: 4 });
    expect(first.stats.bytesRead).toBeGreaterThan(0);
    expect(first.plan?.pruned).toHaveLength(2);

    const again = await query(key, sql);
    expect(again.rows).toEqual(first.rows);
    expect(again.stats).toMatchObject({ cache: { hits: 4, misses: 0 }, subrequests: 0, bytesRead: 0 });

    // New events turn green: only their segments are scanned.
    const more = await write(key, 40, 600);
    await green(tenant);
    const grown = await query(key, sql);
    expect(grown.stats.cache.hits).toBe(4);
    expect(grown.stats.cache.misses).toBeGreaterThan(0);
    expect((grown.rows as [string, number][]).reduce((s, r) => s + r[1], 0)).toBe(
      [...events, ...more].filter((e) => e.time >= '2026-11-21').length,
    );
  });

  it('reads only the column chunks it needs, with R2 range reads, near ones as one', async () => {
    const { tenant, key } = await setup(1);
    await write(key, 2400);
    await green(tenant, 1);
    const { results } = await env.CATALOG.prepare(
      `SELECT sum(bytes) AS bytes, count(*) AS n FROM segments WHERE tenant = ? AND kind = 'replica' AND state = 'live'`,
    )
      .bind(tenant)
      .all<{ bytes: number; n: number }>();
    const t = await loadTenant(env, tenant);
    const run = (sql: string, gap: number) => {
      forgetPartials();
      return runQuery(withVars({ QUERY_RANGE_GAP_BYTES: String(gap) }), t, { sql });
    };
    const byType = 'SELECT type, count(*) FROM events GROUP BY type ORDER BY type';
    const narrow = await run(byType, 0);
    expect(narrow.rows.reduce((n, r) => n + (r[1] as number), 0)).toBe(2400);
    expect(narrow.stats.bytesRead).toBeLessThan(results[0]!.bytes / 2);
    // Ranges less than the gap apart are read as one: more bytes, the same answer.
    const coalesced = await run(byType, 1 << 20);
    expect(coalesced.rows).toEqual(narrow.rows);
    expect(coalesced.stats.bytesRead).toBeGreaterThan(narrow.stats.bytesRead);
    const wide = await run('SELECT count(DISTINCT data.user.id) FROM events', 0);
    expect(wide.rows).toEqual([[5]]);
    expect(wide.stats.bytesRead).toBeGreaterThan(narrow.stats.bytesRead);
    // A count whose WHERE holds for every row of a segment reads nothing of it: the catalog has its rows.
    const counted = await run("SELECT count(*) AS n FROM events WHERE time >= TIMESTAMP '2000-01-01'", 0);
    expect(counted.rows).toEqual([[2400]]);
    expect(counted.stats).toMatchObject({
      bytesRead: 0,
      segmentsScanned: 0,
      segmentsCounted: results[0]!.n,
      rowsScanned: 0,
      rowsMatched: 2400,
    });
    // Events lie on three days, one segment per day: the 22nd is counted, the 21st (cut at noon) read, the 20th pruned.
    const cut = await run(`SELECT count(*) AS n FROM events WHERE time >= TIMESTAMP '2026-11-21 12:00:00'`, 0);
    const expected = Array.from({ length: 2400 }, (_, i) => i).filter((i) => i % 3 === 2 || (i % 3 === 1 && i % 24 >= 12)).length;
    expect(cut.rows).toEqual([[expected]]);
    expect(cut.stats).toMatchObject({ segmentsTotal: 3, segmentsPruned: 1, segmentsScanned: 1, segmentsCounted: 1 });
  });

  it('answers the top streams from scans of whole shards, each sending only its top groups', async () => {
    const { tenant, key } = await setup(2);
    await write(key, 340);
    await green(tenant);
    const t = await loadTenant(env, tenant);
    const sql = 'SELECT stream, count(*) AS n, max(data.n) AS last FROM events GROUP BY stream ORDER BY n DESC, stream LIMIT 3';
    // 17 streams; at most 8 groups in any one partial or merge: only the scans hold them all.
    forgetPartials();
    const answer = await runQuery(withVars({ QUERY_MAX_GROUPS: '8' }), t, { sql, explain: true });
    const counts = new Map<string, { n: number; last: number }>();
    for (let i = 0; i < 340; i++) {
      const c = counts.get(`post-${i % 17}`) ?? { n: 0, last: -1 };
      counts.set(`post-${i % 17}`, { n: c.n + 1, last: i });
    }
    const expected = [...counts]
      .sort(([s1, a1], [s2, a2]) => a2.n - a1.n || (s1 < s2 ? -1 : 1))
      .slice(0, 3)
      .map(([s, c]) => [s, c.n, c.last]);
    expect(answer.rows).toEqual(expected);
    expect(answer.plan!.topInScans).toBe(true);
    expect(answer.stats.subrequests).toBe(2); // one per shard
    // Strong consistency adds hot rows after the scans, so the scans cannot cut: the groups limit applies.
    const strong = runQuery(withVars({ QUERY_MAX_GROUPS: '8' }), t, { sql, consistency: 'strong' });
    await expect(strong).rejects.toMatchObject({ status: 422, extensions: { limit: 'groups' } });
    // Repeated: the whole answer comes from the cache; another LIMIT is not confused with it.
    const again = await runQuery(withVars({ QUERY_MAX_GROUPS: '8' }), t, { sql });
    expect(again.rows).toEqual(expected);
    expect(again.stats.subrequests).toBe(0);
    const four = await runQuery(withVars({ QUERY_MAX_GROUPS: '8' }), t, { sql: sql.replace('LIMIT 3', 'LIMIT 4') });
    expect(four.rows).toHaveLength(4);
    expect(four.rows.slice(0, 3)).toEqual(expected);
  });

  it('adds the events not yet green under strong consistency, never twice', async () => {
    const { tenant, key } = await setup();
    await write(key, 300);
    await green(tenant);
    await write(key, 120, 300); // grey
    const count = 'SELECT count(*) AS n, max(data.n) AS last FROM events';
    expect((await query(key, count)).rows).toEqual([[300, 299]]);
    const strong = await query(key, count, { consistency: 'strong' });
    expect(strong.rows).toEqual([[420, 419]]);
    expect(strong.stats.hotRows).toBe(120);
    // The cached merge of the replica is not changed by the hot rows added to it, nor by finishing.
    expect((await query(key, count, { consistency: 'strong' })).rows).toEqual([[420, 419]]);
    const again = await query(key, count);
    expect(again.rows).toEqual([[300, 299]]);
    expect(again.stats.cache).toEqual({ hits: again.stats.segmentsScanned, misses: 0 });
    // Also when the query that fills the cache is a strong one (it adds the hot rows after caching).
    forgetPartials();
    const top = 'SELECT data.n AS n FROM events ORDER BY n DESC LIMIT 2';
    for (let i = 0; i < 2; i++) {
      expect((await query(key, top, { consistency: 'strong' })).rows).toEqual([[419], [418]]);
      expect((await query(key, top)).rows).toEqual([[299], [298]]);
    }
    // Half of the grey ones turn green: still each counted once.
    await publish(tenant, 1, {}, 0);
    await replicate(tenant, 1, {}, 0);
    expect((await query(key, count, { consistency: 'strong' })).rows).toEqual([[420, 419]]);
  });

  it('refuses bad SQL with a 400 that points at it, and other tenants’ events are never seen', async () => {
    const { tenant, key } = await setup();
    await write(key, 50);
    await green(tenant);
    const bad = await problem(await post('/v1/query', { sql: 'SELECT nope FROM events' }, {}, key), 400);
    expect(bad.detail).toMatch(/nope/);
    expect(bad).toMatchObject({ position: 7 });
    for (const sql of ['SELECT * FROM users', 'SELECT count(*) FROM events JOIN x', 'SELEC 1', '', 'SELECT count(count(*)) FROM events']) {
      const res = await post('/v1/query', { sql }, {}, key);
      expect(res.status, sql).toBe(400);
    }
    await problem(await post('/v1/query', { sql: 'SELECT 1 FROM events', consistency: 'now' }, {}, key), 400);
    const other = await setup();
    expect((await query(other.key, 'SELECT count(*) FROM events')).rows).toEqual([[0]]);
    const writer = await issueKey(env, tenant, ['write', 'read'], null, null);
    await problem(await post('/v1/query', { sql: 'SELECT count(*) FROM events' }, {}, writer.key), 403);
  });

  it('stops at its limits with a 422 that names the limit and how to narrow the query', async () => {
    const { tenant, key } = await setup();
    await write(key, 200);
    await green(tenant);
    const t = await loadTenant(env, tenant);
    const groups = runQuery(withVars({ QUERY_MAX_GROUPS: '3' }), t, { sql: 'SELECT stream, count(*) FROM events GROUP BY stream' });
    await expect(groups).rejects.toMatchObject({ status: 422, extensions: { limit: 'groups' } });
    const bytes = runQuery(withVars({ QUERY_MAX_BYTES: '100' }), t, { sql: 'SELECT count(*) FROM events WHERE data.n >= 0' });
    await expect(bytes).rejects.toMatchObject({ status: 422, extensions: { limit: 'bytes' } });
    const memory = runQuery(withVars({ QUERY_MAX_STATE_BYTES: '1024' }), t, { sql: 'SELECT count(DISTINCT id) FROM events' });
    await expect(memory).rejects.toMatchObject({ status: 422, extensions: { limit: 'memory' } });
    await write(key, 30, 200);
    const hot = runQuery(withVars({ QUERY_MAX_HOT_ROWS: '10' }), t, { sql: 'SELECT count(*) FROM events', consistency: 'strong' });
    await expect(hot).rejects.toMatchObject({ status: 422, extensions: { limit: 'hotRows' } });
  });
});

describe('fuzzed SQL', () => {
  it('gets 200, 400 or 422 problem documents, never a 5xx', { timeout: 120_000 }, async () => {
    const { tenant, key } = await setup();
    await write(key, 40);
    await green(tenant);
    const words = [
      'SELECT',
      'FROM',
      'events',
      'WHERE',
      'GROUP',
      'BY',
      'ORDER',
      'LIMIT',
      'count(*)',
      'data.a.b',
      'type',
      'time',
      "'x'",
      '1',
      '(',
      ')',
      ',',
      '=',
      'AND',
      'NOT',
      'IN',
      'LIKE',
      'sum(',
      'date_trunc(',
      "'day'",
      'approx_quantile(',
      '0.5',
      '*',
      '-',
      '::',
      'CAST(',
      'AS',
      'NULL',
      ';',
      '"',
      "'",
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.array(fc.constantFrom(...words), { maxLength: 25 }).map((w) => w.join(' ')),
          fc.array(fc.constantFrom(...words), { maxLength: 25 }).map((w) => `SELECT count(*) FROM events WHERE ${w.join(' ')}`),
        ),
        async (sql) => {
          const res = await post('/v1/query', { sql }, {}, key);
          expect([200, 400, 422], `${sql} → ${res.status} ${await res.clone().text()}`).toContain(res.status);
          if (res.status !== 200) expect(res.headers.get('content-type')).toContain('application/problem+json');
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('POST /v1/queries (async)', () => {
  it('answers yellow with an id, runs from the queue once, and is orange with the result', async () => {
    const { tenant, key } = await setup();
    await write(key, 100);
    await green(tenant);
    const res = await post('/v1/queries', { sql: 'SELECT type, count(*) FROM events GROUP BY type ORDER BY 2 DESC, 1' }, {}, key);
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { id: string; status: string };
    expect(accepted.status).toBe('yellow');
    const waiting = (await (await call(`/v1/queries/${accepted.id}`, {}, key)).json()) as { status: string };
    expect(waiting.status).toBe('yellow');
    // Delivered twice (at-least-once): the second finds it answered and does nothing.
    await deliver('maintain', [
      { op: 'query', tenant, id: accepted.id },
      { op: 'query', tenant, id: accepted.id },
    ]);
    const done = (await (await call(`/v1/queries/${accepted.id}`, {}, key)).json()) as { status: string; result: Answer };
    expect(done.status).toBe('orange');
    expect(done.result.rows).toEqual([
      ['post.liked', 50],
      ['post.commented', 25],
      ['post.created', 25],
    ]);
    await problem(await call(`/v1/queries/${accepted.id}`, {}, (await setup()).key), 404);
    await problem(await post('/v1/queries', { sql: 'SELECT FROM' }, {}, key), 400);
  });

  it('is answered failed, not left yellow, when its job lands in the dead-letter queue', async () => {
    const { key, tenant } = await setup();
    const res = await post('/v1/queries', { sql: 'SELECT count(*) FROM events' }, {}, key);
    const { id } = (await res.json()) as { id: string };
    await deliver('dead', [{ op: 'query', tenant, id }]);
    const view = (await (await call(`/v1/queries/${id}`, {}, key)).json()) as { status: string; error: { status: number; detail: string } };
    expect(view.status).toBe('failed');
    expect(view.error).toMatchObject({ status: 503 });
    expect(view.error.detail).toMatch(/run it again/);
  });
});
