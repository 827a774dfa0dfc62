import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldEvents, foldState, mergePatch, reducerSchema, type Json, type Reducer } from '../../src/engine/fold.js';

describe('mergePatch (RFC 7396)', () => {
  // The examples of RFC 7396 Appendix A.
  const cases: [Json, Json, Json][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  it.each(cases)('applies %j + %j', (target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });

  it('never changes its inputs, and folding is applying in order', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue() as fc.Arbitrary<Json>, { maxLength: 8 }), (datas) => {
        const copy = structuredClone(datas);
        const state = foldState(datas);
        expect(datas).toEqual(copy);
        expect(state).toEqual(datas.reduce<Json>((s, d) => mergePatch(s, d), null));
      }),
    );
  });
});

describe('reducers', () => {
  const reducers = new Map<string, Reducer>([
    ['liked', { op: 'increment', path: 'stats.likes' }],
    ['tipped', { op: 'increment', path: 'stats.tips', field: 'amount' }],
    ['commented', { op: 'append', path: 'comments', field: 'text' }],
    ['renamed', { op: 'set', path: 'name', field: 'name' }],
    ['viewed', 'ignore'],
    ['reset', 'replace'],
    ['deleted', 'delete'],
  ]);

  it('apply each type its reducer and merge the rest', () => {
    const events: { type: string; data: Json }[] = [
      { type: 'created', data: { name: 'Post', stats: { likes: 0 } } },
      { type: 'liked', data: {} },
      { type: 'liked', data: { anything: true } },
      { type: 'tipped', data: { amount: 2.5 } },
      { type: 'tipped', data: { amount: 'not a number' } },
      { type: 'commented', data: { text: 'hi' } },
      { type: 'commented', data: { text: 'again' } },
      { type: 'viewed', data: { name: 'ignored' } },
      { type: 'renamed', data: { name: 'Renamed' } },
    ];
    expect(foldEvents(events, reducers)).toEqual({ name: 'Renamed', stats: { likes: 2, tips: 2.5 }, comments: ['hi', 'again'] });
    expect(foldEvents([...events, { type: 'deleted', data: {} }], reducers)).toBeNull();
    expect(foldEvents([...events, { type: 'reset', data: [1] }], reducers)).toEqual([1]);
    // Without reducers, the fold is the merge of the datas.
    const datas = events.map((e) => e.data as Json);
    expect(foldEvents(events)).toEqual(foldState(datas));
  });

  it('are validated as data', () => {
    expect(reducerSchema.safeParse({ op: 'increment', path: 'a.b', by: 2 }).success).toBe(true);
    for (const bad of [
      'sum',
      { op: 'increment' },
      { op: 'append', path: 'a..b' },
      { op: 'set', path: 'x', extra: 1 },
      { op: 'increment', path: 'a', by: 'one' },
    ]) {
      expect(reducerSchema.safeParse(bad).success).toBe(false);
    }
  });
});
