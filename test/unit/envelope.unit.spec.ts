import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidStreamName, jsonDepthExceeds, prepareEvents, utf8Length, type PrepareContext } from '../../src/engine/envelope.js';
import { DEFAULT_LIMITS, readWriteLimits } from '../../src/engine/limits.js';
import { ProblemError } from '../../src/engine/problem.js';

const RECEIVED = Date.UTC(2026, 10, 26, 12, 0, 0);
const ctx = (over: Partial<PrepareContext> = {}): PrepareContext => ({
  limits: DEFAULT_LIMITS,
  receivedAt: RECEIVED,
  newId: (i) => `minted-${i}`,
  ...over,
});

function refusal(fn: () => unknown): ProblemError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProblemError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('prepareEvents', () => {
  it('prepares a single event with defaults: minted id, receipt time, null data', () => {
    const [e] = prepareEvents({ type: 'post.created' }, ctx({ stream: 'post-1' }));
    expect(e).toEqual({
      key: 'minted-0',
      id: 'minted-0',
      stream: 'post-1',
      type: 'post.created',
      source: null,
      subject: null,
      time: RECEIVED,
      data: 'null',
    });
  });

  it('keeps given fields, serializes data once, parses time to the millisecond', () => {
    const [e] = prepareEvents(
      [{ id: 'evt-1', type: 't', data: { a: [1, 'x'] }, time: '2026-01-02T03:04:05.678901+01:00', source: 'gh', subject: 's' }],
      ctx({ stream: 'p' }),
    );
    expect(e).toMatchObject({
      id: 'evt-1',
      key: 'evt-1',
      data: '{"a":[1,"x"]}',
      source: 'gh',
      subject: 's',
      time: Date.UTC(2026, 0, 2, 2, 4, 5, 678),
    });
  });

  it('takes each event’s stream on the batch route and requires it', () => {
    const events = prepareEvents(
      [
        { type: 't', stream: 'a' },
        { type: 't', stream: 'b/c' },
      ],
      ctx(),
    );
    expect(events.map((e) => e.stream)).toEqual(['a', 'b/c']);
    expect(refusal(() => prepareEvents([{ type: 't' }], ctx())).detail).toMatch(/events\[0\]\.stream is missing/);
  });

  it.each([
    ['an empty array', [], 400, 'invalid-request', /empty/],
    ['a non-object', [1], 400, 'invalid-event', /events\[0\] must be a JSON object/],
    ['a missing type', [{ data: 1 }], 400, 'invalid-event', /events\[0\]\.type/],
    ['an unknown field', [{ type: 't', dat: 1 }], 400, 'invalid-event', /unknown field\(s\) "dat"/],
    ['an id with a space', [{ type: 't', id: 'a b' }], 400, 'invalid-event', /events\[0\]\.id/],
    ['a control character in type', [{ type: 'a\u0001' }], 400, 'invalid-event', /type/],
    ['a time without offset', [{ type: 't', time: '2026-01-01T00:00:00' }], 400, 'invalid-event', /time/],
    ['a non-RFC 3339 time', [{ type: 't', time: 'yesterday' }], 400, 'invalid-event', /time/],
    ['a different stream than the route', [{ type: 't', stream: 'other' }], 400, 'invalid-event', /route names stream "p"/],
  ])('refuses %s', (_name, body, status, type, detail) => {
    const err = refusal(() => prepareEvents(body, ctx({ stream: 'p' })));
    expect(err.status).toBe(status);
    expect(err.type).toBe(type);
    expect(err.detail).toMatch(detail);
  });

  it('refuses more events than the limit with a 413', () => {
    const body = Array.from({ length: 11 }, () => ({ type: 't' }));
    const err = refusal(() => prepareEvents(body, ctx({ stream: 'p', limits: { ...DEFAULT_LIMITS, maxEventsPerRequest: 10 } })));
    expect([err.status, err.type]).toEqual([413, 'too-many-events']);
  });

  it('refuses data larger than the per-event limit, counted in UTF-8 bytes', () => {
    const limits = { ...DEFAULT_LIMITS, maxEventBytes: 100 };
    expect(() => prepareEvents({ type: 't', data: 'é'.repeat(48) }, ctx({ stream: 'p', limits }))).not.toThrow(); // 96 bytes + quotes = 98
    const err = refusal(() => prepareEvents({ type: 't', data: 'é'.repeat(50) }, ctx({ stream: 'p', limits })));
    expect([err.status, err.type]).toEqual([413, 'payload-too-large']);
    expect(err.detail).toMatch(/102 bytes/);
  });

  it('refuses data nested deeper than the limit', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { a: deep };
    const err = refusal(() => prepareEvents({ type: 't', data: deep }, ctx({ stream: 'p' })));
    expect(err.detail).toMatch(/nested deeper than 32/);
  });

  it('refuses an invalid stream name on the batch route', () => {
    const err = refusal(() => prepareEvents([{ type: 't', stream: 'a//b' }], ctx()));
    expect(err.type).toBe('invalid-stream-name');
  });
});

describe('stream names', () => {
  it.each(['post-1', 'a', 'org/repo/issues/1', 'user@example.com', 'x:y=z+w~v_u.t'])('accepts %s', (s) =>
    expect(isValidStreamName(s)).toBe(true),
  );
  it.each(['', '/a', 'a/', 'a//b', 'a b', 'a?b', 'a#b', 'ü', '%2F', 'x'.repeat(257)])('refuses %j', (s) =>
    expect(isValidStreamName(s)).toBe(false),
  );
});

describe('helpers', () => {
  it('utf8Length equals the encoded length', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
      }),
    );
  });

  it('jsonDepthExceeds counts nesting of arrays and objects', () => {
    expect(jsonDepthExceeds(1, 0)).toBe(false);
    expect(jsonDepthExceeds({ a: [1] }, 2)).toBe(false);
    expect(jsonDepthExceeds({ a: [[1]] }, 2)).toBe(true);
  });

  it('readWriteLimits validates configuration when read', () => {
    expect(readWriteLimits({})).toEqual(DEFAULT_LIMITS);
    expect(() => readWriteLimits({ MAX_EVENTS_PER_REQUEST: 'ten' })).toThrow(/MAX_EVENTS_PER_REQUEST/);
    expect(() => readWriteLimits({ MAX_EVENT_BYTES: '1000', MAX_REQUEST_BYTES: '100' })).toThrow(/exceeds/);
  });
});
