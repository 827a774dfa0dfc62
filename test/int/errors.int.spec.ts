import { describe, expect, it } from 'vitest';
import { call, freshStream, post, problem, totalAccepted } from './helpers.js';

const json = { 'content-type': 'application/json' };
let deep = '1';
for (let i = 0; i < 40; i++) deep = `{"a":${deep}}`;
const veryDeep = '['.repeat(100_000) + ']'.repeat(100_000);

interface Case {
  name: string;
  path?: string;
  headers?: Record<string, string>;
  body: BodyInit | (() => BodyInit);
  status: number;
  type: string;
  detail: RegExp;
}

const cases: Case[] = [
  { name: 'malformed JSON', body: '{"type": "a",', headers: json, status: 400, type: 'invalid-json', detail: /not valid JSON/ },
  { name: 'an empty body', body: '', headers: json, status: 400, type: 'invalid-json', detail: /empty/ },
  {
    name: 'a text/plain body',
    body: '{"type":"a"}',
    headers: { 'content-type': 'text/plain' },
    status: 415,
    type: 'unsupported-media-type',
    detail: /application\/json/,
  },
  {
    name: 'no content type',
    body: new Uint8Array([123, 125]),
    headers: {},
    status: 415,
    type: 'unsupported-media-type',
    detail: /Content-Type/,
  },
  {
    name: 'a latin-1 charset',
    body: '{"type":"a"}',
    headers: { 'content-type': 'application/json; charset=iso-8859-1' },
    status: 415,
    type: 'unsupported-media-type',
    detail: /utf-8/,
  },
  {
    name: 'non-UTF-8 bytes',
    body: new Uint8Array([0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    headers: json,
    status: 400,
    type: 'invalid-encoding',
    detail: /UTF-8/,
  },
  { name: 'an empty array', body: '[]', headers: json, status: 400, type: 'invalid-request', detail: /empty/ },
  { name: 'a JSON string', body: '"hello"', headers: json, status: 400, type: 'invalid-event', detail: /JSON object/ },
  { name: 'an unknown field', body: '{"type":"a","dat":{}}', headers: json, status: 400, type: 'invalid-event', detail: /unknown field/ },
  {
    name: 'a missing type',
    body: '[{"type":"a"},{"data":1}]',
    headers: json,
    status: 400,
    type: 'invalid-event',
    detail: /events\[1\]\.type/,
  },
  {
    name: 'data nested 41 deep',
    body: `{"type":"a","data":${deep}}`,
    headers: json,
    status: 400,
    type: 'invalid-event',
    detail: /nested deeper/,
  },
  { name: 'a body nested 100,000 deep', body: veryDeep, headers: json, status: 400, type: 'invalid-event', detail: /JSON object/ },
  {
    name: 'a bad time',
    body: '{"type":"a","time":"2026-13-01T00:00:00Z"}',
    headers: json,
    status: 400,
    type: 'invalid-event',
    detail: /time/,
  },
  {
    name: 'a stream differing from the route',
    body: '{"type":"a","stream":"elsewhere"}',
    headers: json,
    status: 400,
    type: 'invalid-event',
    detail: /route names stream/,
  },
  {
    name: 'an invalid stream name',
    path: '/v1/streams/a%20b/events',
    body: '{"type":"a"}',
    headers: json,
    status: 400,
    type: 'invalid-stream-name',
    detail: /letters, digits/,
  },
  {
    name: 'a stream name with //',
    path: '/v1/streams/a%2F%2Fb/events',
    body: '{"type":"a"}',
    headers: json,
    status: 400,
    type: 'invalid-stream-name',
    detail: /"\/\/"/,
  },
  {
    name: 'an invalid expectedVersion',
    path: '?expectedVersion=-1',
    body: '{"type":"a"}',
    headers: json,
    status: 400,
    type: 'invalid-expected-version',
    detail: /non-negative integer/,
  },
  {
    name: 'an invalid If-Match',
    body: '{"type":"a"}',
    headers: { ...json, 'if-match': 'W/"3"' },
    status: 400,
    type: 'invalid-expected-version',
    detail: /If-Match/,
  },
  {
    name: 'an invalid Idempotency-Key',
    body: '{"type":"a"}',
    headers: { ...json, 'idempotency-key': 'has space' },
    status: 400,
    type: 'invalid-request',
    detail: /Idempotency-Key/,
  },
  {
    name: '1,001 events',
    body: JSON.stringify(Array.from({ length: 1001 }, () => ({ type: 'a' }))),
    headers: json,
    status: 413,
    type: 'too-many-events',
    detail: /at most 1000/,
  },
  {
    name: 'one event over 256 KiB',
    body: JSON.stringify({ type: 'a', data: 'x'.repeat(300_000) }),
    headers: json,
    status: 413,
    type: 'payload-too-large',
    detail: /at most 262144/,
  },
  {
    name: 'a body over 4 MiB',
    body: JSON.stringify(Array.from({ length: 20 }, () => ({ type: 'a', data: 'x'.repeat(250_000) }))),
    headers: json,
    status: 413,
    type: 'payload-too-large',
    detail: /larger than 4194304/,
  },
  {
    name: 'a streamed body over 4 MiB without Content-Length',
    body: () =>
      new ReadableStream({
        start(controller) {
          const chunk = new TextEncoder().encode('x'.repeat(1 << 20));
          for (let i = 0; i < 6; i++) controller.enqueue(chunk);
          controller.close();
        },
      }),
    headers: json,
    status: 413,
    type: 'payload-too-large',
    detail: /larger than/,
  },
];

describe('bad input is refused with a problem document and writes nothing', () => {
  it.each(cases)('$name → $status $type', async (c) => {
    const before = await totalAccepted();
    const stream = freshStream('bad');
    const path =
      c.path === undefined ? `/v1/streams/${stream}/events` : c.path.startsWith('?') ? `/v1/streams/${stream}/events${c.path}` : c.path;
    const res = await call(path, { method: 'POST', headers: c.headers, body: typeof c.body === 'function' ? c.body() : c.body });
    const doc = await problem(res, c.status);
    expect(doc.type).toBe(`https://eventstore.dev/problems/${c.type}`);
    expect(doc.detail).toMatch(c.detail);
    expect(await totalAccepted()).toBe(before);
  });

  it('refuses a bad event in a multi-stream batch without writing the good ones', async () => {
    const before = await totalAccepted();
    const body = [
      { stream: freshStream(), type: 'a' },
      { stream: freshStream(), type: 'b' },
      { stream: 'bad name', type: 'c' },
    ];
    const doc = await problem(await post('/v1/events', body), 400);
    expect(doc.detail).toMatch(/events\[2\]\.stream/);
    expect(await totalAccepted()).toBe(before);
  });

  it('answers an unknown route with a 404 problem', async () => {
    const doc = await problem(await call('/v1/nothing-here'), 404);
    expect(doc.detail).toMatch(/openapi\.json/);
  });
});
