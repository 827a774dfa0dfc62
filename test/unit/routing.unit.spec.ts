import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fnv1a32, shardName, shardOf } from '../../src/engine/routing.js';

describe('routing', () => {
  it('matches the published FNV-1a 32-bit test vectors (routing must never change)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('routes a stream to the same shard every time and inside the range', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.integer({ min: 1, max: 1024 }), (stream, n) => {
        const s = shardOf(stream, n);
        expect(s).toBe(shardOf(stream, n));
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThan(n);
      }),
    );
  });

  it('spreads realistic stream names evenly', () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 80_000; i++) counts[shardOf(`post-${i}`, 8)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
  });

  it('refuses a shard count that is not a positive integer', () => {
    expect(() => shardOf('s', 0)).toThrow(RangeError);
    expect(() => shardOf('s', 1.5)).toThrow(RangeError);
  });

  it('gives each tenant its own shard objects', () => {
    expect(shardName('acme', 3)).not.toBe(shardName('globex', 3));
  });
});
