import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactedKey, partitionByDate, planCompaction, replicaKey, utcDate, type CompactableSegment } from '../../src/engine/replica.js';

describe('replica layout', () => {
  it('partitions rows by the UTC day of their time, keeping their order', () => {
    const rows = [
      { seq: 1, time: Date.UTC(2026, 10, 26, 23, 59, 59, 999) },
      { seq: 2, time: Date.UTC(2026, 10, 25, 12) },
      { seq: 3, time: Date.UTC(2026, 10, 27, 0) },
      { seq: 4, time: Date.UTC(2026, 10, 26, 0) },
    ];
    const parts = partitionByDate(rows);
    expect([...parts.keys()]).toEqual(['2026-11-25', '2026-11-26', '2026-11-27']);
    expect(parts.get('2026-11-26')!.map((r) => r.seq)).toEqual([1, 4]);
    expect(utcDate(0)).toBe('1970-01-01');
  });

  it('makes Hive-style keys that sort by shard and seq and escape the tenant', () => {
    expect(replicaKey('acme', '2026-11-26', 3, 1, 5000, 0)).toBe(
      'replica/tenant=acme/date=2026-11-26/0003-0000000000000001-0000000000005000-L0.parquet',
    );
    expect(replicaKey('a/b c', '2026-11-26', 0, 1, 1, 0)).toMatch(/^replica\/tenant=a%2Fb%20c\/date=2026-11-26\//);
    expect(replicaKey('t', 'd', 1, 9, 10, 0) < replicaKey('t', 'd', 1, 10, 11, 0)).toBe(true);
  });
});

const seg = (firstSeq: number, rows: number, level = 0): CompactableSegment => ({
  key: `k${firstSeq}`,
  level,
  firstSeq,
  lastSeq: firstSeq + rows - 1,
  rows,
});

describe('planCompaction', () => {
  it('merges runs of at least minSegments small segments, up to maxRows', () => {
    const segments = Array.from({ length: 10 }, (_, i) => seg(i * 100 + 1, 100));
    expect(planCompaction(segments, { minSegments: 8, maxRows: 1000 }).map((r) => r.length)).toEqual([10]);
    expect(planCompaction(segments, { minSegments: 4, maxRows: 400 }).map((r) => r.length)).toEqual([4, 4]);
    expect(planCompaction(segments.slice(0, 7), { minSegments: 8, maxRows: 1000 })).toEqual([]);
  });

  it('leaves large segments alone and does not merge across them', () => {
    const segments = [seg(1, 10), seg(11, 10), seg(21, 600), seg(621, 10), seg(631, 10)];
    expect(planCompaction(segments, { minSegments: 2, maxRows: 1000 }).map((r) => r.map((s) => s.firstSeq))).toEqual([
      [1, 11],
      [621, 631],
    ]);
  });

  it('with tiered runs, merges only segments of one level, so merged segments wait for peers', () => {
    const segments = [seg(1, 80, 1), ...Array.from({ length: 9 }, (_, i) => seg(81 + i * 10, 10))];
    expect(planCompaction(segments, { minSegments: 8, maxRows: 1000, tiered: true }).map((r) => r.map((s) => s.firstSeq))).toEqual([
      [81, 91, 101, 111, 121, 131, 141, 151, 161],
    ]);
    // Not tiered (a closed day): the level-1 segment is merged with the rest.
    expect(planCompaction(segments, { minSegments: 2, maxRows: 1000 }).map((r) => r.length)).toEqual([10]);
    const grown = [seg(1, 80, 1), seg(81, 90, 1), ...Array.from({ length: 3 }, (_, i) => seg(171 + i * 10, 10))];
    expect(planCompaction(grown, { minSegments: 8, maxRows: 1000, tiered: true })).toEqual([]);
  });

  it('names the result by its seq range, one level above what it merged', () => {
    expect(compactedKey('t', '2026-11-26', 2, [seg(1, 10), seg(11, 10, 1)])).toBe(replicaKey('t', '2026-11-26', 2, 1, 20, 2));
  });

  it('never puts a segment in two runs, never exceeds maxRows, and is deterministic', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 60 }),
        fc.integer({ min: 2, max: 10 }),
        fc.integer({ min: 10, max: 2000 }),
        fc.boolean(),
        (sizes, minSegments, maxRows, tiered) => {
          let next = 1;
          const segments = sizes.map((n) => {
            const s = seg(next, n);
            next += n;
            return s;
          });
          const shuffled = [...segments].reverse();
          const runs = planCompaction(shuffled, { minSegments, maxRows, tiered });
          expect(runs).toEqual(planCompaction(segments, { minSegments, maxRows, tiered }));
          const seen = new Set<string>();
          for (const run of runs) {
            expect(run.length).toBeGreaterThanOrEqual(minSegments);
            expect(run.reduce((n, s) => n + s.rows, 0)).toBeLessThanOrEqual(maxRows);
            for (const s of run) {
              expect(seen.has(s.key)).toBe(false);
              seen.add(s.key);
              expect(s.rows * 2).toBeLessThanOrEqual(maxRows);
            }
            // consecutive in seq order
            for (let i = 1; i < run.length; i++) expect(run[i]!.firstSeq).toBe(run[i - 1]!.lastSeq + 1);
          }
        },
      ),
    );
  });
});
