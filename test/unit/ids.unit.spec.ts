import { describe, expect, it } from 'vitest';
import { idempotentIds, uuidv7Generator } from '../../src/engine/ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function seededFill(seed: number) {
  let x = seed;
  return (b: Uint8Array) => {
    for (let i = 0; i < b.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      b[i] = x >>> 24;
    }
    return b;
  };
}

describe('uuidv7Generator', () => {
  it('makes RFC 9562 version-7 ids carrying the millisecond', () => {
    const ms = Date.UTC(2026, 10, 26, 10, 0, 0);
    const id = uuidv7Generator(() => ms, seededFill(1))();
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(ms);
  });

  it('sorts in creation order within one millisecond and when the clock steps back', () => {
    const times = [1000, 1000, 1000, 999, 999, 1001, 1001, 500];
    let i = 0;
    const next = uuidv7Generator(() => times[Math.min(i++, times.length - 1)]!, seededFill(7));
    const ids = times.map(() => next());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('stays ordered when one millisecond mints more ids than the counter holds', () => {
    const next = uuidv7Generator(() => 42, seededFill(3));
    const ids = Array.from({ length: 10_000 }, next);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(UUID_V7);
  });
});

describe('idempotentIds', () => {
  it('derives the same id for the same key and index, distinct ids for distinct indices', () => {
    const digest = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
    const a = idempotentIds(digest);
    const b = idempotentIds(digest);
    const ids = Array.from({ length: 1000 }, (_, i) => a(i));
    expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => b(i)));
    expect(new Set(ids).size).toBe(1000);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('refuses a digest shorter than 16 bytes', () => {
    expect(() => idempotentIds(new Uint8Array(8))).toThrow(/16/);
  });
});
