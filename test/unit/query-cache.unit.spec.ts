// Cached partials are shared: merging one into a query's builder must never change it, or the next
// query that reuses it (the coordinator's per-segment cache) would get a wrong answer.
import { describe, expect, it } from 'vitest';
import { analyse } from '../../src/engine/query/analyse.js';
import { fingerprint, PartialCache } from '../../src/engine/query/cache.js';
import { finish, PartialBuilder, scanRows, type Partial } from '../../src/engine/query/execute.js';
import { parseSelect } from '../../src/engine/query/sql.js';
import { generate } from './query-fixtures.js';

const spec = (sql: string) => analyse(parseSelect(sql), sql);

function partialOf(sql: string, seed: number): Partial {
  const s = spec(sql);
  const b = new PartialBuilder(s);
  scanRows(s, generate(400, seed, seed), b);
  return b.toPartial();
}

describe('cached partials', () => {
  for (const sql of [
    `SELECT type, count(*), count(DISTINCT stream), sum(data.likes), avg(data.score), min(stream), max(time),
            approx_count_distinct(id), approx_quantile(data.likes, 0.5) FROM events GROUP BY type`,
    'SELECT count(DISTINCT id), approx_quantile(seq, 0.9), sum(data.score) FROM events',
    'SELECT id, stream, seq FROM events ORDER BY seq DESC, id LIMIT 7',
  ]) {
    it(`are not changed by merging them (${sql.slice(0, 40)}…)`, () => {
      const s = spec(sql);
      const shared = partialOf(sql, 1);
      const before = JSON.stringify(shared);
      const first = new PartialBuilder(s);
      for (const p of [shared, partialOf(sql, 2), partialOf(sql, 3)]) first.absorb(p);
      const answer = finish(s, first);
      expect(JSON.stringify(shared)).toBe(before);
      // The same merge again, from the shared partial, gives the same answer (same order: KLL's
      // answer may differ by merge order, within its bound; commutativity is tested elsewhere).
      const second = new PartialBuilder(s);
      for (const p of [shared, partialOf(sql, 2), partialOf(sql, 3)]) second.absorb(p);
      expect(finish(s, second)).toEqual(answer);
      expect(JSON.stringify(shared)).toBe(before);
    });
  }

  it('share a shape across spellings of the same query, and not across different ones', () => {
    expect(fingerprint(spec('SELECT type, count(*) FROM events GROUP BY type'))).toBe(
      fingerprint(spec('select TYPE,   COUNT(*) from events group by 1')),
    );
    expect(fingerprint(spec('SELECT type, count(*) FROM events GROUP BY type'))).not.toBe(
      fingerprint(spec("SELECT type, count(*) FROM events WHERE type = 'x' GROUP BY type")),
    );
  });

  it('are evicted least recently used first, within their byte budget', () => {
    const cache = new PartialCache(1000);
    const p = partialOf('SELECT count(*) FROM events', 1);
    cache.set('a', p, 250);
    cache.set('b', p, 250);
    cache.get('a');
    cache.set('c', p, 250);
    cache.set('d', p, 250);
    cache.set('e', p, 250); // over 1,000: the least recently used (b) goes
    expect([cache.get('a'), cache.get('b'), cache.get('e')].map(Boolean)).toEqual([true, false, true]);
    cache.set('huge', p, 400); // over a quarter of the budget: not kept
    expect(cache.get('huge')).toBeUndefined();
  });
});
