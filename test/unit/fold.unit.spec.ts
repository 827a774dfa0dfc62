import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldState, mergePatch, type Json } from '../../src/engine/fold.js';

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
