// Fuzzed bodies, headers and paths: only 2xx or 4xx problem documents, and only acknowledged events stored.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { call, totalAccepted } from './helpers.js';

const contentTypes = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/cloudevents+json',
  'text/plain',
  'application/json; charset=utf-16',
  '',
  'application/x-www-form-urlencoded',
);
const eventish = fc.record(
  {
    type: fc.oneof(fc.string(), fc.constant('post.created'), fc.integer()),
    data: fc.jsonValue({ maxDepth: 4 }),
    id: fc.oneof(fc.string(), fc.uuid()),
    time: fc.oneof(
      fc.string(),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    ),
    stream: fc.oneof(fc.string(), fc.constantFrom('fuzz-a', 'fuzz-b/c')),
    source: fc.string(),
    extra: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);
const validEvents = fc
  .array(
    fc.record({
      stream: fc.constantFrom('fuzz-a', 'fuzz-b/c', 'fuzz-d'),
      type: fc.constantFrom('post.created', 'post.liked'),
      data: fc.jsonValue({ maxDepth: 4 }),
      id: fc.option(
        fc.integer({ min: 0, max: 50 }).map((n) => `fuzz-id-${n}`),
        { nil: undefined },
      ),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((events) => JSON.stringify(events.map(({ id, ...e }) => (id === undefined ? e : { ...e, id }))));
// Valid batches weigh as much as the rest together, and JSON content types come up half the time,
// so that some 400 runs always reach the accept path (at even weights, one run in ~170 did: a run of
// 400 stored nothing about one time in ten).
const body = fc.oneof(
  { arbitrary: validEvents, weight: 5 },
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.array(eventish, { maxLength: 5 }).map((v) => JSON.stringify(v)),
  eventish.map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }),
);
const streamSegment = fc.oneof(
  fc.constantFrom('fuzz-a', 'fuzz-b%2Fc', 'fuzz/deep'),
  fc.string({ minLength: 1, maxLength: 20 }).map(encodeURIComponent),
);
const request = fc.record({
  route: fc.oneof(
    streamSegment.map((s) => `/v1/streams/${s}/events`),
    fc.constant('/v1/events'),
  ),
  query: fc.option(fc.oneof(fc.constantFrom('any', 'no_stream', 'exists', '0', '1', '-1', 'x'), fc.string({ maxLength: 10 })), {
    nil: undefined,
  }),
  contentType: fc.oneof({ arbitrary: fc.constant('application/json'), weight: 6 }, contentTypes),
  ifMatch: fc.option(fc.oneof(fc.constantFrom('*', '"1"', '0'), fc.string({ maxLength: 10 })), { nil: undefined }),
  idempotencyKey: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
  body,
});

function asciiHeader(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?');
}

describe('fuzzed writes', () => {
  it('never answer 5xx, refuse with problem documents, and store exactly the acknowledged events', async () => {
    const before = await totalAccepted();
    let stored = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.contentType) headers['content-type'] = r.contentType;
        if (r.ifMatch !== undefined) headers['if-match'] = asciiHeader(r.ifMatch);
        if (r.idempotencyKey !== undefined) headers['idempotency-key'] = asciiHeader(r.idempotencyKey);
        const query = r.query === undefined ? '' : `?expectedVersion=${encodeURIComponent(r.query)}`;
        const res = await call(r.route + query, { method: 'POST', headers, body: r.body });
        expect(res.status, await res.clone().text()).toBeLessThan(500);
        if (res.status >= 400) {
          expect(res.headers.get('content-type')).toBe('application/problem+json');
          const doc = (await res.json()) as { status: number; detail: string };
          expect(doc.status).toBe(res.status);
          expect(doc.detail).toBeTruthy();
        } else {
          expect(res.status).toBe(202);
          const { events } = (await res.json()) as { events: { duplicate: boolean }[] };
          stored += events.filter((e) => !e.duplicate).length;
        }
      }),
      { numRuns: 400 },
    );
    expect(stored).toBeGreaterThan(0); // the accept path was exercised too
    expect(await totalAccepted()).toBe(before + stored);
  });
});
