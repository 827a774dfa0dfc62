import { describe, expect, it } from 'vitest';
import { ProblemError } from '../../src/engine/problem.js';
import { ANY, exactly, matchesExpectedVersion, NO_STREAM, parseExpectedVersion, STREAM_EXISTS } from '../../src/engine/version.js';

describe('parseExpectedVersion', () => {
  it.each([
    [undefined, undefined, ANY],
    ['any', undefined, ANY],
    ['no_stream', undefined, NO_STREAM],
    ['exists', undefined, STREAM_EXISTS],
    ['0', undefined, exactly(0)],
    ['42', undefined, exactly(42)],
    [undefined, '"7"', exactly(7)],
    [undefined, '7', exactly(7)],
    [undefined, '*', STREAM_EXISTS],
    ['7', '"7"', exactly(7)],
  ])('query %s, If-Match %s', (query, ifMatch, expected) => {
    expect(parseExpectedVersion(query, ifMatch)).toEqual(expected);
  });

  it.each([['-1'], ['1.5'], ['01'], [''], ['latest'], ['99999999999999999999'], ['1e3']])('refuses %j with a 400', (raw) => {
    const err = (() => {
      try {
        parseExpectedVersion(raw, undefined);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).status).toBe(400);
    expect((err as ProblemError).type).toBe('invalid-expected-version');
  });

  it('refuses a query and an If-Match that disagree', () => {
    expect(() => parseExpectedVersion('3', '"4"')).toThrow(/disagree/);
  });
});

describe('matchesExpectedVersion', () => {
  it.each([
    [0, ANY, true],
    [5, ANY, true],
    [0, NO_STREAM, true],
    [1, NO_STREAM, false],
    [0, STREAM_EXISTS, false],
    [3, STREAM_EXISTS, true],
    [3, exactly(3), true],
    [3, exactly(2), false],
    [0, exactly(0), true],
  ])('stream at %i, expected %j → %s', (current, expected, ok) => {
    expect(matchesExpectedVersion(current, expected)).toBe(ok);
  });
});
