// The write side: the ingest Worker's routes. Nothing here reads events back.

import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import { assertStreamName, prepareEvents, STREAM_NAME_RULE, type PreparedEvent } from '../engine/envelope.js';
import { idempotentIds, systemUuidv7 } from '../engine/ids.js';
import { invalid } from '../engine/problem.js';
import { ANY, parseExpectedVersion, type ExpectedVersion } from '../engine/version.js';
import { config } from '../config.js';
import { cloudEventKey, cloudEventsMode, fromBatchBody, fromBinary, fromStructuredBody } from '../engine/cloudevents.js';
import { parseJsonBody, readBodyBytes, readJsonBody, refuseInvalid } from './http.js';
import { appendResponseSchema, problemResponses, writeBodySchema } from './schemas.js';
import { appendToShards, waitForColour } from './shards.js';
import { requireScope, type App } from './auth.js';
import { tenantOf } from './tenant.js';

const newUuid = systemUuidv7();
const encoder = new TextEncoder();

/** Ids for events the caller sent without one: derived from Idempotency-Key when given, else UUIDv7. */
async function idMinter(header: string | undefined): Promise<(index: number) => string> {
  if (header === undefined) return () => newUuid();
  if (!/^[\x21-\x7e]{1,255}$/.test(header)) {
    throw invalid('invalid-request', 'Idempotency-Key must be 1-255 printable ASCII characters without spaces');
  }
  return idempotentIds(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(header))));
}

/** `?wait=blue|green`: answer once the events reached that colour (or the wait timed out). */
function parseWait(raw: string | undefined): 'blue' | 'green' | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'blue' || raw === 'green') return raw;
  throw invalid(
    'invalid-request',
    `wait must be "blue" (in the master store) or "green" (queryable in the replica), got "${raw.slice(0, 40)}"`,
  );
}

async function ingest(c: Context<App>, stream: string | undefined, expected: ExpectedVersion) {
  const { limits } = config(c.env);
  const wait = parseWait(c.req.query('wait'));
  const receivedAt = Date.now();
  const tenant = tenantOf(c);
  const contentType = c.req.header('content-type');
  const mode = stream === undefined ? cloudEventsMode(contentType, c.req.header()) : null;
  const newId = await idMinter(c.req.header('idempotency-key'));
  let events: PreparedEvent[];
  if (mode === null) {
    const body = await readJsonBody(c, limits.maxRequestBytes);
    events = prepareEvents(body, { limits, receivedAt, newId, ...(stream === undefined ? {} : { stream }) });
  } else {
    const bytes = await readBodyBytes(c.req.raw, limits.maxRequestBytes);
    const inputs =
      mode === 'binary'
        ? fromBinary(c.req.header(), contentType, bytes)
        : mode === 'structured'
          ? fromStructuredBody(parseJsonBody(bytes))
          : fromBatchBody(parseJsonBody(bytes));
    events = prepareEvents(mode === 'batch' ? inputs : inputs[0], {
      limits,
      receivedAt,
      newId,
      keyOf: (id, e) => cloudEventKey(e.source!, id),
    });
  }
  const appended = await appendToShards(c.env, tenant, events, expected, wait !== undefined);
  if (wait === undefined) return c.json({ events: appended }, 202);
  const started = Date.now();
  const waited = await waitForColour(c.env, tenant, appended, wait, config(c.env).waitTimeoutMs);
  return c.json({ events: waited.events, wait: { colour: wait, reached: waited.reached, ms: Date.now() - started } }, 202);
}

const streamParam = z.string().describe(STREAM_NAME_RULE);
const waitParam = z
  .enum(['blue', 'green'])
  .optional()
  .describe(
    'Answer only once the events are in the master store (blue) or queryable in the replica (green), or WAIT_TIMEOUT_MS passed; `wait.reached` says which. The events are durable either way.',
  );
const writeBody = { content: { 'application/json': { schema: writeBodySchema } }, required: true };
const accepted = {
  202: {
    description: 'Durable in its shard (grey); positions in request order',
    content: { 'application/json': { schema: appendResponseSchema } },
  },
};

export const ingestApp = new OpenAPIHono<App>({ defaultHook: refuseInvalid });

/**
 * The CloudEvents webhook abuse-protection handshake (HTTP 1.1 Web Hooks for Event Delivery, §4):
 * a sender asks whether it may deliver here before it does. It grants nothing (deliveries still
 * need a write key), so it is answered without one.
 */
ingestApp.options('/v1/events', (c) => {
  const origin = c.req.header('webhook-request-origin');
  if (!origin) return c.body(null, 204, { allow: 'POST, OPTIONS' });
  if (!/^[\x21-\x7e]{1,255}$/.test(origin)) throw invalid('invalid-request', 'WebHook-Request-Origin must be a host name');
  return c.body(null, 200, {
    allow: 'POST, OPTIONS',
    'webhook-allowed-origin': origin,
    'webhook-allowed-rate': String(config(c.env).keyRatePerSecond * 60),
  });
});
// POST only: a `use` would also guard the read side's GET routes under the same paths.
ingestApp.post('/v1/streams/*', requireScope('write'));
ingestApp.post('/v1/events', requireScope('write'));

ingestApp.openAPIRegistry.registerPath(
  createRoute({
    method: 'post',
    path: '/v1/streams/{stream}/events',
    tags: ['write'],
    summary: 'Append one event or up to 1,000 events to one stream',
    description:
      'All events are stored, or none. `expectedVersion` (query) or `If-Match` makes the append conditional: a version number (0 = the stream must not exist), `any`, `no_stream` or `exists` (`*` in If-Match). Repeated ids are not stored again and are answered with `duplicate: true` and their original position. Events without an id get a UUIDv7, or with an `Idempotency-Key` header ids derived from it, so a retried request is recognised.',
    request: {
      params: z.object({ stream: streamParam }),
      query: z.object({ expectedVersion: z.string().optional(), wait: waitParam }),
      headers: z.object({ 'if-match': z.string().optional(), 'idempotency-key': z.string().optional() }),
      body: writeBody,
    },
    responses: { ...accepted, ...problemResponses(400, 409, 413, 415) },
  }),
);
ingestApp.post('/v1/streams/:stream{.+}/events', async (c) => {
  const stream = c.req.param('stream');
  assertStreamName(stream);
  const expected = parseExpectedVersion(c.req.query('expectedVersion'), c.req.header('if-match'));
  return ingest(c, stream, expected);
});

ingestApp.openAPIRegistry.registerPath(
  createRoute({
    method: 'post',
    path: '/v1/events',
    tags: ['write'],
    summary: 'Append a batch of up to 1,000 events of many streams',
    description:
      "The high-throughput path: each event names its `stream`. Events are split by shard and each shard stores its part atomically; the answer comes once every part is durable. Also takes CloudEvents 1.0: structured (`application/cloudevents+json`), batch (`application/cloudevents-batch+json`) and binary (`ce-*` headers) modes; a CloudEvent's stream is its `subject` (or its `source` made into a stream name) and `source` + `id` is its dedupe key.",
    request: { query: z.object({ wait: waitParam }), headers: z.object({ 'idempotency-key': z.string().optional() }), body: writeBody },
    responses: { ...accepted, ...problemResponses(400, 401, 403, 413, 415, 429, 503) },
  }),
);
ingestApp.post('/v1/events', (c) => ingest(c, undefined, ANY));
