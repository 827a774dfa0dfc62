// The platform adapters, against requests signed by the platforms' own tools where npm has them (Octokit, Stripe,
// Standard Webhooks, noble Ed25519) and by node:crypto where it does not (Slack, Meta, X), plus a fuzz of both.

import * as ed from '@noble/ed25519';
import githubExamples from '@octokit/webhooks-examples';
import { sign as signGitHub } from '@octokit/webhooks-methods';
import fc from 'fast-check';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { eventInputSchema, isValidStreamName, prepareEvents } from '../../src/engine/envelope.js';
import { DEFAULT_LIMITS } from '../../src/engine/limits.js';
import { ProblemError } from '../../src/engine/problem.js';
import {
  handleWebhook,
  WEBHOOK_SOURCES,
  type WebhookEvent,
  type WebhookOutcome,
  type WebhookRequest,
  type WebhookSecrets,
  type WebhookSource,
} from '../../src/engine/webhooks/index.js';

// node:crypto and stripe are loaded untyped: their types would pull @types/node into a program whose types are the
// Workers runtime's (stripe's declarations reference it), letting Node globals type-check in src. Typed here for the few uses.
interface NodeCrypto {
  createHmac(
    algorithm: 'sha256',
    key: string | Uint8Array,
  ): { update(data: string | Uint8Array): { digest(encoding: 'hex' | 'base64'): string } };
}
interface StripeLike {
  webhooks: {
    generateTestHeaderString(options: { payload: string; secret: string; timestamp?: number }): string;
    constructEvent(
      payload: string,
      header: string,
      secret: string,
      tolerance?: number,
      cryptoProvider?: undefined,
      receivedAt?: number,
    ): unknown;
  };
}
const { createHmac } = (await import('node:crypto' as string)) as NodeCrypto;
const { default: Stripe } = (await import('stripe' as string)) as { default: new (key: string) => StripeLike };
const stripeClient = new Stripe('sk_test_x');

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const NOW_S = NOW / 1000;
const encoder = new TextEncoder();

function request(over: Partial<Omit<WebhookRequest, 'body'>> & { body?: string | Uint8Array } = {}): WebhookRequest {
  const body = over.body ?? '';
  return {
    method: over.method ?? 'POST',
    headers: over.headers ?? {},
    query: over.query ?? {},
    body: typeof body === 'string' ? encoder.encode(body) : body,
    now: over.now ?? NOW,
  };
}

async function refusal(promise: Promise<unknown>): Promise<ProblemError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof ProblemError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

function events(outcome: WebhookOutcome): WebhookEvent[] {
  if (outcome.kind !== 'events') throw new Error(`expected events, got ${JSON.stringify(outcome)}`);
  return outcome.events;
}

/** What the Worker does with the events: they must pass the write envelope as they are. */
function acceptedByEnvelope(list: WebhookEvent[]): void {
  const prepared = prepareEvents(list, {
    limits: DEFAULT_LIMITS,
    receivedAt: NOW,
    newId: () => {
      throw new Error('webhook events carry ids');
    },
  });
  expect(prepared.map((p) => p.id)).toEqual(list.map((e) => e.id));
}

const hmacHex = (key: string, data: string) => createHmac('sha256', key).update(data).digest('hex');
const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const textBase64 = (text: string) => toBase64(encoder.encode(text));
const hmacBase64 = (key: string, data: string) => createHmac('sha256', key).update(data).digest('base64');

// -------------------------------------------------------------------------------------------------------------------
describe('GitHub', () => {
  const secret = 'It’s a Secret to Everybody';
  type Example = Record<string, unknown> & { action?: string };
  const definitions = githubExamples as unknown as { name: string; examples: Example[] }[];

  async function delivery(name: string, payload: string, over: Record<string, string> = {}, key = secret) {
    return request({
      headers: {
        'content-type': 'application/json',
        'x-github-event': name,
        'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
        'x-github-hook-id': '292430182',
        'x-hub-signature-256': await signGitHub(key, payload),
        ...over,
      },
      body: payload,
    });
  }

  it('accepts every example of @octokit/webhooks-examples signed with @octokit/webhooks-methods, and maps it as documented', async () => {
    let count = 0;
    for (const { name, examples } of definitions) {
      for (const example of examples) {
        const payload = JSON.stringify(example);
        const [event, ...more] = events(await handleWebhook('github', await delivery(name, payload), { secret }));
        expect(more).toEqual([]);
        expect(event).toMatchObject({
          id: 'github:72d3162e-cc78-11e3-81ab-4c9367dc0958',
          type: example.action === undefined ? `github.${name}` : `github.${name}.${example.action}`,
          time: new Date(NOW).toISOString(),
          source: 'github',
          data: example,
        });
        const repo = (example.repository as { full_name?: string } | undefined)?.full_name;
        const org = (example.organization as { login?: string } | undefined)?.login;
        const installation = (example.installation as { id?: number } | undefined)?.id;
        if (repo !== undefined) expect(event!.stream).toBe(`github/${repo}`);
        else if (org !== undefined) expect(event!.stream).toBe(`github/${org}`);
        else if (installation !== undefined) expect(event!.stream).toBe(`github/installation:${installation}`);
        else expect(event!.stream).toMatch(/^github\/(enterprise:.+|hook:292430182)$/);
        acceptedByEnvelope([event!]);
        count++;
      }
    }
    expect(count).toBeGreaterThan(300);
  });

  it('sets the subject to the issue, pull request or ref', async () => {
    const first = (name: string, action?: string) =>
      definitions.find((d) => d.name === name)!.examples.find((e) => action === undefined || e.action === action)!;
    const subject = async (name: string, action?: string) =>
      events(await handleWebhook('github', await delivery(name, JSON.stringify(first(name, action))), { secret }))[0]!.subject;
    expect(await subject('issues', 'edited')).toBe('issues/1');
    expect(await subject('pull_request', 'opened')).toBe('pull/2');
    expect(await subject('push')).toBe('refs/tags/simple-tag');
    expect(await subject('star')).toBeUndefined();
  });

  it('accepts the form content type (JSON in the payload field, signature over the form)', async () => {
    const payload = JSON.stringify({ zen: 'Design for failure.', hook_id: 1, repository: { full_name: 'octo/hello' } });
    const form = `payload=${encodeURIComponent(payload)}`;
    const [event] = events(
      await handleWebhook('github', await delivery('ping', form, { 'content-type': 'application/x-www-form-urlencoded' }), { secret }),
    );
    expect(event).toMatchObject({ type: 'github.ping', stream: 'github/octo/hello', data: JSON.parse(payload) });
  });

  it('maps a redelivery (same X-GitHub-Delivery) to the same id, a new delivery to a new one', async () => {
    const payload = JSON.stringify(definitions.find((d) => d.name === 'push')!.examples[0]);
    const a = events(await handleWebhook('github', await delivery('push', payload), { secret }))[0]!;
    const b = events(await handleWebhook('github', await delivery('push', payload), { secret }))[0]!;
    const c = events(await handleWebhook('github', await delivery('push', payload, { 'x-github-delivery': 'other' }), { secret }))[0]!;
    expect(b.id).toBe(a.id);
    expect(c.id).toBe('github:other');
  });

  it('refuses a wrong secret, a tampered body and missing or malformed signatures with 401', async () => {
    const payload = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const cases: [WebhookRequest, RegExp][] = [
      [
        await delivery('ping', payload, {}, 'not the secret'),
        /X-Hub-Signature-256 does not match the body signed with the configured secret/,
      ],
      [{ ...(await delivery('ping', payload)), body: encoder.encode(payload.replace('awesome', 'AWESOME')) }, /does not match/],
      [await delivery('ping', payload, { 'x-hub-signature-256': '' }), /X-Hub-Signature-256 header is missing/],
      [await delivery('ping', payload, { 'x-hub-signature-256': 'sha1=abc' }), /must be "sha256=" and 64 hex digits/],
    ];
    const sha1Only = await delivery('ping', payload);
    delete sha1Only.headers['x-hub-signature-256'];
    sha1Only.headers['x-hub-signature'] = 'sha1=0123';
    cases.push([sha1Only, /only the SHA-1 X-Hub-Signature was sent/]);
    for (const [req, detail] of cases) {
      const e = await refusal(handleWebhook('github', req, { secret }));
      expect(e.status).toBe(401);
      expect(e.type).toBe('invalid-signature');
      expect(e.detail).toMatch(detail);
      expect(e.detail).not.toContain(secret);
    }
  });

  it('refuses missing event or delivery headers with 400, and an unconfigured secret with 401', async () => {
    const payload = JSON.stringify({ zen: 'x', hook_id: 1 });
    const noEvent = await delivery('ping', payload);
    delete noEvent.headers['x-github-event'];
    expect((await refusal(handleWebhook('github', noEvent, { secret }))).detail).toMatch(/X-GitHub-Event header is missing/);
    const noDelivery = await delivery('ping', payload);
    delete noDelivery.headers['x-github-delivery'];
    const e = await refusal(handleWebhook('github', noDelivery, { secret }));
    expect([e.status, e.detail]).toEqual([400, 'X-GitHub-Delivery header is missing; GitHub identifies every delivery with it']);
    const unconfigured = await refusal(handleWebhook('github', await delivery('ping', payload), {}));
    expect([unconfigured.status, unconfigured.type]).toEqual([401, 'webhook-not-configured']);
    expect(unconfigured.detail).toMatch(/no webhook secret is configured for source github in this tenant/);
    expect((await refusal(handleWebhook('github', await delivery('ping', '[1]'), { secret }))).status).toBe(400);
  });
});

// -------------------------------------------------------------------------------------------------------------------
describe('Slack', () => {
  const secret = '8f742231b10e8888abcd99yyyzzz85a5';
  function signed(body: string, over: { timestamp?: number; key?: string; headers?: Record<string, string>; now?: number } = {}) {
    const ts = String(over.timestamp ?? NOW_S);
    return request({
      headers: {
        'content-type': over.headers?.['content-type'] ?? 'application/json',
        'x-slack-request-timestamp': ts,
        'x-slack-signature': `v0=${hmacHex(over.key ?? secret, `v0:${ts}:${body}`)}`,
        ...over.headers,
      },
      body,
      now: over.now ?? NOW,
    });
  }
  const callback = {
    token: 'XXYYZZ',
    team_id: 'T0001',
    api_app_id: 'A0001',
    event: { type: 'message', channel: 'C2147483705', user: 'U2147483697', text: 'Hello world', ts: '1355517523.000005' },
    type: 'event_callback',
    event_id: 'Ev08MFMKH6',
    event_time: 1355517523,
  };

  it('answers url_verification with the challenge as text, after checking the signature', async () => {
    const body = JSON.stringify({
      token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl',
      challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P',
      type: 'url_verification',
    });
    expect(await handleWebhook('slack', signed(body), { secret })).toEqual({
      kind: 'respond',
      status: 200,
      contentType: 'text/plain; charset=utf-8',
      body: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P',
    });
    expect((await refusal(handleWebhook('slack', signed(body, { key: 'wrong' }), { secret }))).status).toBe(401);
  });

  it('maps an event_callback to stream, type, id and time, without the verification token', async () => {
    const [event] = events(await handleWebhook('slack', signed(JSON.stringify(callback)), { secret }));
    const { token: _token, ...kept } = callback;
    expect(event).toEqual({
      id: 'slack:Ev08MFMKH6',
      stream: 'slack/T0001/C2147483705',
      type: 'slack.message',
      time: '2012-12-14T20:38:43.000Z',
      source: 'slack',
      subject: 'U2147483697',
      data: kept,
    });
    acceptedByEnvelope([event!]);
    const edited = { ...callback, event: { type: 'message', subtype: 'message_changed', channel: 'C1' } };
    expect(events(await handleWebhook('slack', signed(JSON.stringify(edited)), { secret }))[0]).toMatchObject({
      type: 'slack.message.message_changed',
    });
    const teamWide = { ...callback, event: { type: 'team_join', user: { id: 'U9' } } };
    expect(events(await handleWebhook('slack', signed(JSON.stringify(teamWide)), { secret }))[0]).toMatchObject({
      stream: 'slack/T0001/team',
      subject: 'U9',
    });
  });

  it('maps a retry (X-Slack-Retry-Num, new timestamp) to the same id', async () => {
    const body = JSON.stringify(callback);
    const first = events(await handleWebhook('slack', signed(body), { secret }))[0]!;
    const retry = signed(body, {
      timestamp: NOW_S + 60,
      now: NOW + 61_000,
      headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
    });
    expect(events(await handleWebhook('slack', retry, { secret }))[0]!.id).toBe(first.id);
  });

  it('refuses stale and future timestamps (five minutes either way), wrong secrets, tampering and missing headers', async () => {
    const body = JSON.stringify(callback);
    const stale = await refusal(handleWebhook('slack', signed(body, { timestamp: NOW_S - 412 }), { secret }));
    expect([stale.status, stale.type, stale.detail]).toEqual([
      401,
      'stale-request',
      'X-Slack-Request-Timestamp is 412 s old; the tolerance is 300 s',
    ]);
    const future = await refusal(handleWebhook('slack', signed(body, { timestamp: NOW_S + 301 }), { secret }));
    expect(future.detail).toBe('X-Slack-Request-Timestamp is 301 s in the future; the tolerance is 300 s');
    expect(events(await handleWebhook('slack', signed(body, { timestamp: NOW_S - 300 }), { secret }))).toHaveLength(1);
    const wrong = await refusal(handleWebhook('slack', signed(body, { key: 'other' }), { secret }));
    expect(wrong.detail).toMatch(/X-Slack-Signature does not match v0:\{X-Slack-Request-Timestamp\}:\{body\}/);
    const tampered = { ...signed(body), body: encoder.encode(body.replace('Hello', 'Hullo')) };
    expect((await refusal(handleWebhook('slack', tampered, { secret }))).status).toBe(401);
    // The timestamp is signed: moving it breaks the signature even inside the window.
    const moved = signed(body);
    moved.headers['x-slack-request-timestamp'] = String(NOW_S - 1);
    expect((await refusal(handleWebhook('slack', moved, { secret }))).type).toBe('invalid-signature');
    for (const name of ['x-slack-signature', 'x-slack-request-timestamp']) {
      const req = signed(body);
      delete req.headers[name];
      const e = await refusal(handleWebhook('slack', req, { secret }));
      expect([e.status, e.detail]).toEqual([401, expect.stringMatching(/header is missing/)]);
    }
    expect((await refusal(handleWebhook('slack', signed(body), {}))).type).toBe('webhook-not-configured');
  });

  it('stores slash commands and interactivity payloads and answers them 200 with an empty body', async () => {
    const command =
      'token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&channel_id=C2147483705&user_id=U2147483697&command=%2Fweather&text=94070&trigger_id=13345224609.738474920.8088930838d88f008e0';
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const outcome = await handleWebhook('slack', signed(command, { headers: form }), { secret });
    expect(outcome).toMatchObject({ kind: 'events', respond: { status: 200, body: '' } });
    expect(events(outcome)[0]).toMatchObject({
      id: 'slack:13345224609.738474920.8088930838d88f008e0',
      stream: 'slack/T0001/C2147483705',
      type: 'slack.command',
      subject: '/weather',
      data: { command: '/weather', text: '94070', user_id: 'U2147483697' },
    });
    expect((events(outcome)[0]!.data as Record<string, unknown>).token).toBeUndefined();
    const payload = {
      type: 'block_actions',
      team: { id: 'T0001' },
      user: { id: 'U1' },
      channel: { id: 'C9' },
      trigger_id: '1.2.abc',
      token: 't',
      actions: [],
    };
    const interaction = events(
      await handleWebhook('slack', signed(`payload=${encodeURIComponent(JSON.stringify(payload))}`, { headers: form }), { secret }),
    )[0]!;
    expect(interaction).toMatchObject({
      id: 'slack:1.2.abc',
      stream: 'slack/T0001/C9',
      type: 'slack.interaction.block_actions',
      subject: 'U1',
    });
    acceptedByEnvelope([interaction]);
  });
});

// -------------------------------------------------------------------------------------------------------------------
describe('Meta', () => {
  const secret = 'meta-app-secret';
  const verifyToken = 'my-verify-token';
  const signed = (body: string, key = secret) => request({ headers: { 'x-hub-signature-256': `sha256=${hmacHex(key, body)}` }, body });
  const handshake = (query: Record<string, string>) => request({ method: 'GET', query });

  it('answers the hub.challenge handshake only with the right verify token', async () => {
    const query = { 'hub.mode': 'subscribe', 'hub.verify_token': verifyToken, 'hub.challenge': '1158201444' };
    expect(await handleWebhook('meta', handshake(query), { verifyToken })).toEqual({
      kind: 'respond',
      status: 200,
      contentType: 'text/plain; charset=utf-8',
      body: '1158201444',
    });
    const wrong = await refusal(handleWebhook('meta', handshake({ ...query, 'hub.verify_token': 'guess' }), { verifyToken }));
    expect([wrong.status, wrong.detail]).toEqual([401, 'hub.verify_token does not match the configured verify token']);
    const { 'hub.verify_token': _omitted, ...noToken } = query;
    expect((await refusal(handleWebhook('meta', handshake(noToken), { verifyToken }))).detail).toBe('hub.verify_token is missing');
    expect((await refusal(handleWebhook('meta', handshake({ ...query, 'hub.mode': 'unsubscribe' }), { verifyToken }))).status).toBe(400);
    expect((await refusal(handleWebhook('meta', handshake(query), { secret }))).type).toBe('webhook-not-configured');
  });

  const feed = (id: string, time: number, values: object[]) => ({ id, time, changes: values.map((value) => ({ field: 'feed', value })) });
  const pageBody = {
    object: 'page',
    entry: [
      feed('1234567890', 1700000000, [
        { item: 'post', verb: 'add', post_id: '1234567890_1' },
        { item: 'reaction', verb: 'add', post_id: '1234567890_1', reaction_type: 'like' },
      ]),
      {
        id: '1234567890',
        time: 1700000001123,
        messaging: [
          { sender: { id: 'PSID1' }, recipient: { id: '1234567890' }, timestamp: 1700000001000, message: { mid: 'm_1', text: 'hi' } },
        ],
      },
    ],
  };

  it('maps each change and messaging item to one event whose data is the delivery with that one item', async () => {
    const list = events(await handleWebhook('meta', signed(JSON.stringify(pageBody)), { secret }));
    expect(list.map((e) => [e.stream, e.type, e.subject, e.time])).toEqual([
      ['meta/page/1234567890', 'meta.page.feed', 'feed', '2023-11-14T22:13:20.000Z'],
      ['meta/page/1234567890', 'meta.page.feed', 'feed', '2023-11-14T22:13:20.000Z'],
      ['meta/page/1234567890', 'meta.page.messaging.message', 'PSID1', '2023-11-14T22:13:21.000Z'],
    ]);
    expect(list[1]!.data).toEqual({
      object: 'page',
      entry: [
        {
          id: '1234567890',
          time: 1700000000,
          changes: [{ field: 'feed', value: { item: 'reaction', verb: 'add', post_id: '1234567890_1', reaction_type: 'like' } }],
        },
      ],
    });
    expect(list.every((e) => /^meta:[0-9a-f]{32}$/.test(e.id))).toBe(true);
    expect(new Set(list.map((e) => e.id)).size).toBe(3);
    acceptedByEnvelope(list);
  });

  it('maps a redelivery, however batched, to the same ids', async () => {
    const all = events(await handleWebhook('meta', signed(JSON.stringify(pageBody)), { secret })).map((e) => e.id);
    const again = events(await handleWebhook('meta', signed(JSON.stringify(pageBody)), { secret })).map((e) => e.id);
    const alone = events(
      await handleWebhook('meta', signed(JSON.stringify({ object: 'page', entry: [pageBody.entry[1]] })), { secret }),
    ).map((e) => e.id);
    expect(again).toEqual(all);
    expect(alone).toEqual([all[2]]);
  });

  it('maps WhatsApp (no entry time) with the message timestamp', async () => {
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '102290129340398',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { phone_number_id: '106540352242922' },
                messages: [{ from: '16505551234', id: 'wamid.ID', timestamp: '1749416383', type: 'text', text: { body: 'hi' } }],
              },
            },
          ],
        },
      ],
    };
    const [event] = events(await handleWebhook('meta', signed(JSON.stringify(body)), { secret }));
    expect(event).toMatchObject({
      stream: 'meta/whatsapp_business_account/102290129340398',
      type: 'meta.whatsapp_business_account.messages',
      time: '2025-06-08T20:59:43.000Z',
    });
  });

  it('refuses a wrong app secret, tampering and a missing signature with 401, a body without object with 400', async () => {
    const body = JSON.stringify(pageBody);
    expect((await refusal(handleWebhook('meta', signed(body, 'other'), { secret }))).detail).toMatch(/X-Hub-Signature-256 does not match/);
    expect(
      (await refusal(handleWebhook('meta', { ...signed(body), body: encoder.encode(body.replace('hi', 'ho')) }, { secret }))).status,
    ).toBe(401);
    expect((await refusal(handleWebhook('meta', request({ body }), { secret }))).detail).toMatch(/X-Hub-Signature-256 header is missing/);
    expect((await refusal(handleWebhook('meta', signed('{"entry":[]}'), { secret }))).status).toBe(400);
    expect(events(await handleWebhook('meta', signed('{"object":"page","entry":[]}'), { secret }))).toEqual([]);
  });
});

// -------------------------------------------------------------------------------------------------------------------
describe('X', () => {
  const secret = 'x-consumer-secret';
  const signed = (body: string, key = secret) =>
    request({ headers: { 'x-twitter-webhooks-signature': `sha256=${hmacBase64(key, body)}` }, body });

  it('answers the CRC with the response_token computed independently by node:crypto', async () => {
    const token = 'NjQ2ODg4NTItOGI3ZC00MGRlLTg0ZjEtNWYzOGU2YjA3ZmU2';
    const outcome = await handleWebhook('x', request({ method: 'GET', query: { crc_token: token, nonce: 'abc' } }), { secret });
    expect(outcome).toEqual({
      kind: 'respond',
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({ response_token: `sha256=${hmacBase64(secret, token)}` }),
    });
    expect((await refusal(handleWebhook('x', request({ method: 'GET' }), { secret }))).detail).toMatch(
      /crc_token query parameter is missing/,
    );
  });

  it('never answers a CRC for a token that could be a delivery body (the answer would be its signature)', async () => {
    const forged = JSON.stringify({ for_user_id: '1', tweet_create_events: [{ id_str: '1', text: 'forged' }] });
    const e = await refusal(handleWebhook('x', request({ method: 'GET', query: { crc_token: forged } }), { secret }));
    expect(e.status).toBe(400);
  });

  // A body as X sends it: numeric ids beyond 2^53 next to their id_str.
  const body =
    '{"for_user_id":"2244994945","tweet_create_events":[{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id":1050118621198921728,"id_str":"1050118621198921728","text":"hello","timestamp_ms":"1539202764000","user":{"id":2244994945,"id_str":"2244994945"}}],' +
    '"follow_events":[{"type":"unfollow","created_timestamp":"1517588749178","target":{"id":"3058"},"source":{"id":"4000"}}],' +
    '"direct_message_events":[{"type":"message_create","id":"954491830116155396","created_timestamp":"1516403560557","message_create":{"sender_id":"4000","message_data":{"text":"Hi"}}}],"users":{"4000":{"id":"4000","name":"Ada"}}}';

  it('maps each item of each *_events array to one event, keeping 64-bit ids exact', async () => {
    const list = events(await handleWebhook('x', signed(body), { secret }));
    expect(list.map((e) => [e.id.replace(/[0-9a-f]{32}$/, '<digest>'), e.stream, e.type, e.time])).toEqual([
      ['x:2244994945:tweet_create:1050118621198921728', 'x/2244994945', 'x.tweet_create', '2018-10-10T20:19:24.000Z'],
      ['x:2244994945:follow:<digest>', 'x/2244994945', 'x.follow.unfollow', '2018-02-02T16:25:49.178Z'],
      ['x:2244994945:direct_message:954491830116155396', 'x/2244994945', 'x.direct_message.message_create', '2018-01-19T23:12:40.557Z'],
    ]);
    const tweet = (list[0]!.data as { tweet_create_events: { id: unknown }[] }).tweet_create_events[0]!;
    expect(tweet.id).toBe('1050118621198921728');
    expect(list[2]!.data).toMatchObject({
      for_user_id: '2244994945',
      users: { '4000': { name: 'Ada' } },
      direct_message_events: [{ id: '954491830116155396' }],
    });
    expect(list[2]!.data).not.toHaveProperty('tweet_create_events');
    acceptedByEnvelope(list);
  });

  it('maps a redelivery to the same ids, and the same tweet seen by another user to another id', async () => {
    const ids = events(await handleWebhook('x', signed(body), { secret })).map((e) => e.id);
    expect(events(await handleWebhook('x', signed(body), { secret })).map((e) => e.id)).toEqual(ids);
    const other = body.replace('"for_user_id":"2244994945"', '"for_user_id":"783214"');
    expect(events(await handleWebhook('x', signed(other), { secret }))[0]!.id).toBe('x:783214:tweet_create:1050118621198921728');
  });

  it('refuses a wrong secret, tampering and missing or malformed signatures with 401', async () => {
    expect((await refusal(handleWebhook('x', signed(body, 'other'), { secret }))).detail).toBe(
      'x-twitter-webhooks-signature does not match the body signed with the configured consumer secret',
    );
    expect(
      (await refusal(handleWebhook('x', { ...signed(body), body: encoder.encode(body.replace('hello', 'HELLO')) }, { secret }))).status,
    ).toBe(401);
    expect((await refusal(handleWebhook('x', request({ body }), { secret }))).detail).toMatch(/header is missing/);
    const hex = request({ headers: { 'x-twitter-webhooks-signature': `sha256=${hmacHex(secret, body)}` }, body });
    expect((await refusal(handleWebhook('x', hex, { secret }))).detail).toMatch(/base64 of 32 bytes/);
    expect((await refusal(handleWebhook('x', request({ method: 'GET', query: { crc_token: 'abc' } }), {}))).type).toBe(
      'webhook-not-configured',
    );
  });
});

// -------------------------------------------------------------------------------------------------------------------
const { secretKey: discordSecretKey, publicKey: discordPublicKey } = await ed.keygenAsync();

describe('Discord', () => {
  const secretKey = discordSecretKey;
  const config = { publicKey: toHex(discordPublicKey) };
  async function signed(body: string, over: { timestamp?: string; key?: Uint8Array } = {}) {
    const timestamp = over.timestamp ?? String(NOW_S);
    const signature = await ed.signAsync(encoder.encode(timestamp + body), over.key ?? secretKey);
    return request({ headers: { 'x-signature-ed25519': toHex(signature), 'x-signature-timestamp': timestamp }, body });
  }

  it('answers PING with PONG when signed with the application key (@noble/ed25519)', async () => {
    const ping = JSON.stringify({ id: '1', application_id: '2', type: 1, token: 't', version: 1 });
    expect(await handleWebhook('discord', await signed(ping), config)).toEqual({
      kind: 'respond',
      status: 200,
      contentType: 'application/json',
      body: '{"type":1}',
    });
  });

  it('stores an application command and defers the answer; the snowflake gives the time', async () => {
    const interaction = {
      id: '1290370523404148787',
      application_id: '1290370306122424380',
      type: 2,
      data: { id: '1', name: 'deploy', type: 1 },
      guild_id: '613425648685547541',
      channel_id: '697138785317814292',
      member: { user: { id: '53908232506183680' } },
      token: 'A_UNIQUE_TOKEN',
      version: 1,
    };
    const outcome = await handleWebhook('discord', await signed(JSON.stringify(interaction)), config);
    expect(outcome).toEqual({
      kind: 'events',
      events: [
        {
          id: 'discord:1290370523404148787',
          stream: 'discord/613425648685547541/697138785317814292',
          type: 'discord.application_command',
          time: '2024-09-30T17:51:46.704Z', // (id >> 22) + 1420070400000 ms
          source: 'discord',
          subject: 'deploy',
          data: interaction,
        },
      ],
      respond: { status: 200, contentType: 'application/json', body: '{"type":5}' },
    });
    acceptedByEnvelope(events(outcome));
    const component = { ...interaction, type: 3, data: { custom_id: 'approve', component_type: 2 } };
    const answered = await handleWebhook('discord', await signed(JSON.stringify(component)), config);
    expect(answered).toMatchObject({
      respond: { body: '{"type":6}' },
      events: [{ type: 'discord.message_component', subject: 'approve' }],
    });
    // Replayed within the hour: same id, stored once.
    expect(
      events(await handleWebhook('discord', await signed(JSON.stringify(interaction), { timestamp: String(NOW_S + 3600) }), config))[0]!.id,
    ).toBe('discord:1290370523404148787');
  });

  it('acknowledges Webhook Events with 204 and stores type 1 events with a content id', async () => {
    const ping = JSON.stringify({ version: 1, application_id: '1234560123453231555', type: 0 });
    expect(await handleWebhook('discord', await signed(ping), config)).toMatchObject({ kind: 'respond', status: 204 });
    const delivery = {
      version: 1,
      application_id: '1234560123453231555',
      type: 1,
      event: {
        type: 'APPLICATION_AUTHORIZED',
        timestamp: '2024-10-18T14:42:53.064834',
        data: { integration_type: 1, user: { id: '1' }, scopes: ['applications.commands'] },
      },
    };
    const outcome = await handleWebhook('discord', await signed(JSON.stringify(delivery)), config);
    expect(outcome).toMatchObject({ kind: 'events', respond: { status: 204, body: '' } });
    const [event] = events(outcome);
    expect(event).toMatchObject({
      stream: 'discord/app/1234560123453231555',
      type: 'discord.application_authorized',
      time: '2024-10-18T14:42:53.064Z',
      data: delivery,
    });
    expect(event!.id).toMatch(/^discord:[0-9a-f]{32}$/);
    expect(
      events(await handleWebhook('discord', await signed(JSON.stringify(delivery), { timestamp: String(NOW_S + 5) }), config))[0]!.id,
    ).toBe(event!.id);
  });

  it('refuses a signature by another key, tampering, a moved timestamp and missing headers with 401', async () => {
    const body = JSON.stringify({ id: '1', application_id: '2', type: 1, token: 't', version: 1 });
    const otherKey = ed.utils.randomSecretKey();
    const e = await refusal(handleWebhook('discord', await signed(body, { key: otherKey }), config));
    expect([e.status, e.detail]).toEqual([
      401,
      'X-Signature-Ed25519 does not verify over X-Signature-Timestamp + body with the configured public key',
    ]);
    expect(
      (await refusal(handleWebhook('discord', { ...(await signed(body)), body: encoder.encode(body.replace('"t"', '"u"')) }, config)))
        .status,
    ).toBe(401);
    const moved = await signed(body);
    moved.headers['x-signature-timestamp'] = String(NOW_S + 1);
    expect((await refusal(handleWebhook('discord', moved, config))).status).toBe(401);
    for (const name of ['x-signature-ed25519', 'x-signature-timestamp']) {
      const req = await signed(body);
      delete req.headers[name];
      expect((await refusal(handleWebhook('discord', req, config))).detail).toMatch(/header is missing/);
    }
    const short = await signed(body);
    short.headers['x-signature-ed25519'] = 'abcd';
    expect((await refusal(handleWebhook('discord', short, config))).detail).toBe('X-Signature-Ed25519 must be 128 hex digits');
    expect((await refusal(handleWebhook('discord', await signed(body), {}))).type).toBe('webhook-not-configured');
    expect((await refusal(handleWebhook('discord', await signed(body), { publicKey: 'zz' }))).detail).toMatch(/64 hex digits/);
  });
});

// -------------------------------------------------------------------------------------------------------------------
describe('Stripe', () => {
  const secret = 'whsec_test_secret';
  const event = {
    id: 'evt_1NG8Du2eZvKYlo2CUI79vXWy',
    object: 'event',
    api_version: '2022-11-15',
    created: 1686089970,
    data: {
      object: {
        id: 'pi_3NG8Dt2eZvKYlo2C0mCp1xTS',
        object: 'payment_intent',
        amount: 2000,
        currency: 'usd',
        customer: 'cus_NY2m4u0sCmyb3w',
        status: 'succeeded',
      },
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'payment_intent.succeeded',
  };
  const payload = JSON.stringify(event, null, 2);
  const signed = (body: string, over: { timestamp?: number; key?: string; header?: (h: string) => string } = {}) => {
    const header = stripeClient.webhooks.generateTestHeaderString({
      payload: body,
      secret: over.key ?? secret,
      timestamp: over.timestamp ?? NOW_S,
    });
    return request({ headers: { 'stripe-signature': over.header ? over.header(header) : header }, body });
  };

  it('accepts a delivery signed by stripe.webhooks.generateTestHeaderString and maps it as documented', async () => {
    const [mapped] = events(await handleWebhook('stripe', signed(payload), { secret }));
    expect(mapped).toEqual({
      id: 'stripe:evt_1NG8Du2eZvKYlo2CUI79vXWy',
      stream: 'stripe/payment_intent/pi_3NG8Dt2eZvKYlo2C0mCp1xTS',
      type: 'stripe.payment_intent.succeeded',
      time: '2023-06-06T22:19:30.000Z',
      source: 'stripe',
      subject: 'cus_NY2m4u0sCmyb3w',
      data: event,
    });
    acceptedByEnvelope([mapped!]);
  });

  it('accepts when any of several v1 signatures matches (secret rotation)', async () => {
    const rotated = signed(payload, { header: (h) => h.replace(',v1=', `,v1=${'0'.repeat(64)},v0=abc,v1=`) });
    expect(rotated.headers['stripe-signature']!.match(/v1=/g)).toHaveLength(2);
    expect(events(await handleWebhook('stripe', rotated, { secret }))).toHaveLength(1);
  });

  it('maps a retry (same event, new timestamp) to the same id', async () => {
    const first = events(await handleWebhook('stripe', signed(payload), { secret }))[0]!;
    const retry = events(
      await handleWebhook('stripe', { ...signed(payload, { timestamp: NOW_S + 3600 }), now: NOW + 3600_000 }, { secret }),
    )[0]!;
    expect(retry.id).toBe(first.id);
  });

  it('refuses stale timestamps past 300 s as the stripe library does, and accepts future ones as it does', async () => {
    const stale = await refusal(handleWebhook('stripe', signed(payload, { timestamp: NOW_S - 412 }), { secret }));
    expect([stale.status, stale.type, stale.detail]).toEqual([
      401,
      'stale-request',
      'Stripe-Signature timestamp is 412 s old; the tolerance is 300 s',
    ]);
    expect(() =>
      stripeClient.webhooks.constructEvent(
        payload,
        signed(payload, { timestamp: NOW_S - 412 }).headers['stripe-signature']!,
        secret,
        300,
        undefined,
        NOW,
      ),
    ).toThrow(/tolerance/);
    expect(events(await handleWebhook('stripe', signed(payload, { timestamp: NOW_S - 300 }), { secret }))).toHaveLength(1);
    const future = signed(payload, { timestamp: NOW_S + 600 });
    expect(events(await handleWebhook('stripe', future, { secret }))).toHaveLength(1);
    expect(stripeClient.webhooks.constructEvent(payload, future.headers['stripe-signature']!, secret, 300, undefined, NOW)).toEqual(event);
  });

  it('refuses a wrong secret, tampering, and a missing or incomplete header with 401', async () => {
    const cases: [WebhookRequest, string | RegExp][] = [
      [
        signed(payload, { key: 'whsec_other' }),
        /^Stripe-Signature has no v1 signature matching \{t\}\.\{body\} signed with the configured endpoint secret \(1 tried\)$/,
      ],
      [{ ...signed(payload), body: encoder.encode(payload.replace('2000', '1')) }, /no v1 signature matching/],
      [request({ body: payload }), 'Stripe-Signature header is missing; Stripe signs every delivery with it'],
      [signed(payload, { header: (h) => h.replace(/^t=\d+,/, '') }), 'Stripe-Signature has no t=<Unix seconds> timestamp'],
      [
        signed(payload, { header: (h) => h.replace('v1=', 'v0=') }),
        'Stripe-Signature has no v1= signature (only the v1 scheme is accepted)',
      ],
      [
        signed(payload, { header: (h) => h.replace(/^t=\d+/, 't=soon') }),
        'Stripe-Signature timestamp "soon" is not a Unix time in seconds',
      ],
      [signed(payload, { header: (h) => h.replace(/^t=\d+/, `t=${NOW_S - 1}`) }), /no v1 signature matching/],
    ];
    for (const [req, detail] of cases) {
      const e = await refusal(handleWebhook('stripe', req, { secret }));
      expect(e.status).toBe(401);
      expect(e.detail).toMatch(detail);
      expect(e.detail).not.toContain(secret);
    }
    expect((await refusal(handleWebhook('stripe', signed(payload), {}))).detail).toMatch(
      /no endpoint secret is configured for source stripe/,
    );
  });
});

// -------------------------------------------------------------------------------------------------------------------
describe('Standard Webhooks', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const message = {
    type: 'user.created',
    timestamp: '2022-11-03T20:26:10.344522Z',
    data: { id: 'user_29w83sxmDNGwOuEthce5gg56FcC', email: 'ada@example.com' },
  };
  const payload = JSON.stringify(message);
  const signed = (body: string, over: { id?: string; timestamp?: number; key?: string; signature?: (s: string) => string } = {}) => {
    const id = over.id ?? 'msg_p5jXN8AQM9LWM0D4loKWxJek';
    const ts = over.timestamp ?? NOW_S;
    const signature = new StandardWebhook(over.key ?? secret).sign(id, new Date(ts * 1000), body);
    return request({
      headers: {
        'webhook-id': id,
        'webhook-timestamp': String(ts),
        'webhook-signature': over.signature ? over.signature(signature) : signature,
      },
      body,
    });
  };

  it('accepts a message signed by the standardwebhooks library and maps it as documented', async () => {
    const [event] = events(await handleWebhook('standard', signed(payload), { secret }));
    expect(event).toEqual({
      id: 'standard:msg_p5jXN8AQM9LWM0D4loKWxJek',
      stream: 'standard/user/user_29w83sxmDNGwOuEthce5gg56FcC',
      type: 'user.created',
      time: '2022-11-03T20:26:10.344Z',
      source: 'standard',
      data: message,
    });
    acceptedByEnvelope([event!]);
    const prefixed = events(await handleWebhook('standard', signed(payload), { secret, streamPrefix: 'clerk' }))[0]!;
    expect(prefixed.stream).toBe('clerk/user/user_29w83sxmDNGwOuEthce5gg56FcC');
    const text = events(await handleWebhook('standard', signed('plain text'), { secret }))[0]!;
    expect(text).toMatchObject({
      type: 'webhook',
      stream: 'standard/message',
      data: { raw: 'plain text' },
      time: new Date(NOW).toISOString(),
    });
  });

  it('accepts any matching v1 among several signatures, ignores v1a', async () => {
    const many = signed(payload, { signature: (s) => `v1a,${'A'.repeat(88)} v1,${toBase64(new Uint8Array(32))} ${s}` });
    expect(events(await handleWebhook('standard', many, { secret }))).toHaveLength(1);
    const onlyV1a = signed(payload, { signature: () => `v1a,${'A'.repeat(88)}` });
    expect((await refusal(handleWebhook('standard', onlyV1a, { secret }))).detail).toMatch(/no v1,<base64> signature/);
  });

  it('maps a redelivery (same webhook-id, new timestamp) to the same id', async () => {
    const a = events(await handleWebhook('standard', signed(payload), { secret }))[0]!;
    const b = events(
      await handleWebhook('standard', { ...signed(payload, { timestamp: NOW_S + 900 }), now: NOW + 900_000 }, { secret }),
    )[0]!;
    expect(b.id).toBe(a.id);
  });

  it('refuses stale and future timestamps, wrong secrets, tampering, missing headers and a bad configured secret', async () => {
    const stale = await refusal(handleWebhook('standard', signed(payload, { timestamp: NOW_S - 301 }), { secret }));
    expect([stale.status, stale.type, stale.detail]).toEqual([
      401,
      'stale-request',
      'webhook-timestamp is 301 s old; the tolerance is 300 s',
    ]);
    const future = await refusal(handleWebhook('standard', signed(payload, { timestamp: NOW_S + 400 }), { secret }));
    expect(future.detail).toBe('webhook-timestamp is 400 s in the future; the tolerance is 300 s');
    const wrong = await refusal(handleWebhook('standard', signed(payload, { key: 'whsec_' + textBase64('another key') }), { secret }));
    expect(wrong.detail).toMatch(/webhook-signature has no v1 signature matching \{webhook-id\}\.\{webhook-timestamp\}\.\{body\}/);
    expect(
      (await refusal(handleWebhook('standard', { ...signed(payload), body: encoder.encode(payload.replace('ada', 'eve')) }, { secret })))
        .status,
    ).toBe(401);
    // The id is signed: a replay under a new webhook-id does not verify.
    const renamed = signed(payload);
    renamed.headers['webhook-id'] = 'msg_other';
    expect((await refusal(handleWebhook('standard', renamed, { secret }))).type).toBe('invalid-signature');
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const req = signed(payload);
      delete req.headers[name];
      expect((await refusal(handleWebhook('standard', req, { secret }))).detail).toBe(
        `${name} header is missing; Standard Webhooks signs every delivery with it`,
      );
    }
    const bad = await refusal(handleWebhook('standard', signed(payload), { secret: 'whsec_not base64!' }));
    expect([bad.status, bad.type]).toEqual([401, 'webhook-not-configured']);
    expect(bad.detail).not.toContain('not base64!');
  });
});

// -------------------------------------------------------------------------------------------------------------------
describe('routing', () => {
  it('refuses GET where the platform has no handshake, other methods and unknown platforms', async () => {
    const get = await refusal(handleWebhook('stripe', request({ method: 'GET' }), { secret: 's' }));
    expect([get.status, get.detail, get.extensions]).toEqual([
      405,
      'GET is not accepted for Stripe webhooks; they accept POST',
      { allow: 'POST' },
    ]);
    const put = await refusal(handleWebhook('meta', { ...request(), method: 'PUT' as 'POST' }, {}));
    expect([put.status, put.extensions]).toEqual([405, { allow: 'GET, POST' }]);
    const unknown = await refusal(handleWebhook('gitlab' as WebhookSource, request(), {}));
    expect(unknown.status).toBe(404);
    expect((await refusal(handleWebhook('constructor' as WebhookSource, request(), {}))).status).toBe(404);
  });
});

// -------------------------------------------------------------------------------------------------------------------
describe('fuzz', () => {
  const secrets: Record<WebhookSource, WebhookSecrets> = {
    github: { secret: 'fuzz-github-secret' },
    slack: { secret: 'fuzz-slack-secret' },
    meta: { secret: 'fuzz-meta-secret', verifyToken: 'fuzz-verify-token' },
    x: { secret: 'fuzz-x-secret' },
    discord: { publicKey: '' },
    stripe: { secret: 'whsec_fuzz-stripe-secret' },
    standard: { secret: 'whsec_' + textBase64('standard key') },
  };
  const discordKey = discordSecretKey;
  secrets.discord.publicKey = toHex(discordPublicKey);

  /** The only acceptable results: a valid outcome whose events pass the envelope, or a ProblemError with a 4xx status. */
  async function settle(source: WebhookSource, req: WebhookRequest): Promise<WebhookOutcome | ProblemError> {
    try {
      const outcome = await handleWebhook(source, req, secrets[source]);
      if (outcome.kind === 'events') {
        for (const e of outcome.events) {
          expect(eventInputSchema.safeParse(e).success, JSON.stringify(e).slice(0, 500)).toBe(true);
          expect(isValidStreamName(e.stream)).toBe(true);
        }
      } else {
        expect(outcome.status).toBeGreaterThanOrEqual(200);
        expect(outcome.status).toBeLessThan(300);
      }
      return outcome;
    } catch (e) {
      if (!(e instanceof ProblemError)) throw e;
      expect(e.status).toBeGreaterThanOrEqual(400);
      expect(e.status).toBeLessThan(500);
      for (const s of Object.values(secrets)) for (const v of Object.values(s)) expect(e.detail).not.toContain(v);
      return e;
    }
  }

  const headerNames = [
    'content-type',
    'x-hub-signature-256',
    'x-hub-signature',
    'x-github-event',
    'x-github-delivery',
    'x-slack-signature',
    'x-slack-request-timestamp',
    'x-twitter-webhooks-signature',
    'x-signature-ed25519',
    'x-signature-timestamp',
    'stripe-signature',
    'webhook-id',
    'webhook-timestamp',
    'webhook-signature',
  ];
  const headerValue = fc.oneof(
    fc.string(),
    fc.constantFrom('sha256=', 'v0=', 't=1,v1=', 'v1,', 'application/x-www-form-urlencoded', 'application/json', String(NOW_S)),
    fc.string().map((s) => `sha256=${s}`),
    fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `sha256=${h}`),
  );
  const anyBody = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.json().map((s) => encoder.encode(s)),
    fc.string().map((s) => encoder.encode(s)),
  );

  it('arbitrary headers, bodies, queries and methods give a valid outcome or a 4xx ProblemError, nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...WEBHOOK_SOURCES),
        fc.constantFrom('GET', 'POST', 'PUT'),
        fc.dictionary(fc.oneof(fc.constantFrom(...headerNames), fc.string()), headerValue),
        fc.dictionary(
          fc.oneof(fc.constantFrom('hub.mode', 'hub.verify_token', 'hub.challenge', 'crc_token'), fc.string()),
          fc.oneof(fc.string(), fc.constantFrom('subscribe', 'fuzz-verify-token')),
        ),
        anyBody,
        async (source, method, headers, query, body) => {
          await settle(source, { method: method as 'POST', headers, query, body, now: NOW });
        },
      ),
      { numRuns: 500 },
    );
  });

  // Correctly signed random bodies reach the parsers and mappers: the platforms' vocabulary with arbitrary values.
  const vocabulary = [
    'type', 'id', 'action', 'event', 'event_id', 'event_time', 'team_id', 'channel', 'user', 'subtype', 'challenge', 'object', 'entry',
    'changes', 'messaging', 'field', 'value', 'time', 'timestamp', 'sender', 'for_user_id', 'tweet_create_events', 'follow_events',
    'user_event', 'id_str', 'timestamp_ms', 'created_timestamp', 'token', 'guild_id', 'channel_id', 'application_id', 'data', 'name',
    'custom_id', 'created', 'repository', 'full_name', 'organization', 'login', 'installation', 'number', 'issue', 'pull_request', 'ref',
    'related_object', 'customer', 'trigger_id', 'payload', 'command', 'messages', 'statuses',
  ]; // prettier-ignore
  const leaf = fc.oneof(
    fc.jsonValue({ maxDepth: 1 }),
    fc.constantFrom(
      'event_callback',
      'url_verification',
      'page',
      'feed',
      'message',
      0,
      1,
      2,
      3,
      4,
      5,
      1700000000,
      '1700000000123',
      '1290370523404148787',
      -1,
      1e300,
    ),
    fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n }).map((n) => Number(n)),
  );
  const shaped = fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.dictionary(fc.constantFrom(...vocabulary), tie('node'), { maxKeys: 6 }),
      fc.array(tie('node'), { maxLength: 3 }),
    ),
  })).node;
  // Bodies shaped like each platform's, every field optional and sometimes of the wrong type, so the mappers' paths are reached.
  const loose = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ weight: 4, arbitrary: arb }, { weight: 1, arbitrary: leaf });
  const rec = (shape: Record<string, fc.Arbitrary<unknown>>) => fc.record(shape, { requiredKeys: [] });
  const list = (item: fc.Arbitrary<unknown>) => fc.array(loose(item), { maxLength: 3 });
  const text = fc.oneof(
    fc.string({ minLength: 1 }),
    fc.string({ unit: 'grapheme', minLength: 1 }),
    fc.constantFrom('a/b', '..', 'x y', '\n', '{', 'Ev1', 'evt_1', 'C1'),
  );
  const snowflake = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String);
  const epoch = fc.oneof(fc.integer({ min: 0, max: 2e9 }), fc.integer({ min: 0, max: 4e12 }).map(String), fc.double(), fc.constant(1e20));
  const isoText = fc.oneof(
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    fc.constant('2024-10-18T14:42:53.064834'),
    text,
  );
  const platformBodies: Record<WebhookSource, fc.Arbitrary<unknown>> = {
    github: rec({
      action: loose(text),
      repository: loose(rec({ full_name: loose(text) })),
      organization: loose(rec({ login: loose(text) })),
      installation: loose(rec({ id: loose(fc.integer()) })),
      enterprise: loose(rec({ slug: loose(text) })),
      issue: loose(rec({ number: loose(fc.integer()) })),
      pull_request: loose(rec({ number: loose(fc.integer()) })),
      ref: loose(text),
    }),
    slack: rec({
      type: loose(fc.constantFrom('event_callback', 'url_verification', 'app_rate_limited')),
      challenge: loose(text),
      token: text,
      team_id: loose(text),
      enterprise_id: loose(text),
      event_id: loose(text),
      event_time: loose(epoch),
      event: loose(
        rec({
          type: loose(text),
          subtype: loose(text),
          channel: loose(fc.oneof(text, rec({ id: loose(text) }))),
          user: loose(fc.oneof(text, rec({ id: loose(text) }))),
          item: loose(rec({ channel: loose(text) })),
        }),
      ),
    }),
    meta: rec({
      object: loose(text),
      entry: loose(
        list(
          rec({
            id: loose(fc.oneof(text, fc.integer())),
            time: loose(epoch),
            changes: loose(
              list(rec({ field: loose(text), value: loose(rec({ messages: loose(list(rec({ timestamp: loose(epoch) }))) })) })),
            ),
            messaging: loose(
              list(rec({ sender: loose(rec({ id: loose(text) })), timestamp: loose(epoch), message: shaped, postback: shaped })),
            ),
            standby: loose(list(shaped)),
          }),
        ),
      ),
    }),
    x: rec({
      for_user_id: loose(fc.oneof(snowflake, text)),
      tweet_create_events: loose(
        list(
          rec({
            id: loose(fc.oneof(snowflake.map(Number), snowflake)),
            id_str: loose(snowflake),
            timestamp_ms: loose(epoch),
            type: loose(text),
          }),
        ),
      ),
      follow_events: loose(list(rec({ type: loose(text), created_timestamp: loose(epoch) }))),
      tweet_delete_events: loose(list(rec({ status: loose(rec({ id: loose(snowflake) })), timestamp_ms: loose(epoch) }))),
      user_event: loose(rec({ revoke: shaped })),
      'Weird Key_events': loose(list(shaped)),
      users: shaped,
    }),
    discord: rec({
      type: loose(fc.integer({ min: 0, max: 6 })),
      id: loose(fc.oneof(snowflake, text)),
      token: loose(text),
      version: fc.constant(1),
      application_id: loose(snowflake),
      guild_id: loose(snowflake),
      channel_id: loose(snowflake),
      channel: loose(rec({ id: loose(snowflake) })),
      data: loose(rec({ name: loose(text), custom_id: loose(text) })),
      event: loose(rec({ type: loose(text), timestamp: loose(isoText), data: shaped })),
    }),
    stripe: rec({
      id: loose(text),
      type: loose(text),
      created: loose(fc.oneof(epoch, isoText)),
      data: loose(rec({ object: loose(rec({ object: loose(text), id: loose(text), customer: loose(text) })) })),
      related_object: loose(rec({ type: loose(text), id: loose(text) })),
    }),
    standard: rec({ type: loose(text), timestamp: loose(isoText), data: loose(rec({ id: loose(fc.oneof(text, fc.integer())) })) }),
  };
  const slackForm = rec({
    command: loose(text),
    payload: loose(
      fc.oneof(
        platformBodies.slack.map((v) => JSON.stringify(v)),
        rec({
          type: loose(text),
          trigger_id: loose(text),
          team: loose(rec({ id: loose(text) })),
          user: loose(rec({ id: loose(text) })),
        }).map((v) => JSON.stringify(v)),
      ),
    ),
    team_id: loose(text),
    channel_id: loose(text),
    trigger_id: loose(text),
    token: loose(text),
    ssl_check: fc.constant('1'),
  }).map((fields) => new URLSearchParams(Object.entries(fields).map(([k, v]) => [k, String(v)])).toString());

  /** A body for the source and whether it is sent as a form (GitHub's `payload=` field, Slack's commands and interactivity). */
  const bodyFor = (source: WebhookSource): fc.Arbitrary<{ body: string; form: boolean }> =>
    fc.oneof(
      { weight: 6, arbitrary: platformBodies[source].map((v) => ({ body: JSON.stringify(v) ?? 'null', form: false })) },
      { weight: 1, arbitrary: shaped.map((v) => ({ body: JSON.stringify(v) ?? 'null', form: false })) },
      { weight: 1, arbitrary: fc.oneof(fc.string(), fc.json()).map((body) => ({ body, form: false })) },
      {
        weight: source === 'github' || source === 'slack' ? 3 : 1,
        arbitrary:
          source === 'slack'
            ? slackForm.map((body) => ({ body, form: true }))
            : platformBodies[source].map((v) => ({ body: `payload=${encodeURIComponent(JSON.stringify(v) ?? '')}`, form: true })),
      },
    );

  async function signFor(source: WebhookSource, body: string, now: number): Promise<WebhookRequest> {
    const ts = String(Math.floor(now / 1000));
    const bytes = encoder.encode(body);
    const base = { method: 'POST' as const, query: {}, body: bytes, now };
    const key = secrets[source].secret ?? '';
    switch (source) {
      case 'github':
        return {
          ...base,
          headers: { 'x-hub-signature-256': `sha256=${hmacHex(key, body)}`, 'x-github-event': 'push', 'x-github-delivery': 'd-1' },
        };
      case 'slack':
        return { ...base, headers: { 'x-slack-signature': `v0=${hmacHex(key, `v0:${ts}:${body}`)}`, 'x-slack-request-timestamp': ts } };
      case 'meta':
        return { ...base, headers: { 'x-hub-signature-256': `sha256=${hmacHex(key, body)}` } };
      case 'x':
        return { ...base, headers: { 'x-twitter-webhooks-signature': `sha256=${hmacBase64(key, body)}` } };
      case 'discord': {
        const signature = await ed.signAsync(encoder.encode(ts + body), discordKey);
        return { ...base, headers: { 'x-signature-ed25519': toHex(signature), 'x-signature-timestamp': ts } };
      }
      case 'stripe':
        return {
          ...base,
          headers: {
            'stripe-signature': stripeClient.webhooks.generateTestHeaderString({ payload: body, secret: key, timestamp: Number(ts) }),
          },
        };
      case 'standard':
        return {
          ...base,
          headers: {
            'webhook-id': 'msg_1',
            'webhook-timestamp': ts,
            'webhook-signature': new StandardWebhook(key).sign('msg_1', new Date(Number(ts) * 1000), body),
          },
        };
    }
  }

  it('signed arbitrary bodies give valid events or a 4xx ProblemError, and a redelivery maps to the same ids', async () => {
    const seen: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...WEBHOOK_SOURCES).chain((source) => fc.tuple(fc.constant(source), bodyFor(source))),
        async ([source, { body, form }]) => {
          const send = async (now: number) => {
            const req = await signFor(source, body, now);
            if (form) req.headers['content-type'] = 'application/x-www-form-urlencoded';
            return settle(source, req);
          };
          const first = await send(NOW);
          const second = await send(NOW + 60_000);
          const outcome = first instanceof ProblemError ? `${first.status}` : first.kind;
          seen[`${source} ${outcome}`] = (seen[`${source} ${outcome}`] ?? 0) + 1;
          if (first instanceof ProblemError) {
            expect(second).toBeInstanceOf(ProblemError);
            expect((second as ProblemError).detail).toBe(first.detail);
          } else {
            expect(second).not.toBeInstanceOf(ProblemError);
            if (first.kind === 'events' && !(second instanceof ProblemError) && second.kind === 'events') {
              expect(second.events.map((e) => e.id)).toEqual(first.events.map((e) => e.id));
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
    // The fuzz reached the mappers of every platform, not only their refusals.
    for (const source of WEBHOOK_SOURCES) expect(seen[`${source} events`] ?? 0, source).toBeGreaterThan(20);
  });

  it('bodies nested beyond the parse bound are a 400, not a stack overflow', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    for (const source of WEBHOOK_SOURCES) {
      const e = await settle(source, await signFor(source, deep, NOW));
      expect(e).toBeInstanceOf(ProblemError);
    }
    const deepObject = '{"a":'.repeat(300) + '1' + '}'.repeat(300);
    expect(await settle('stripe', await signFor('stripe', deepObject, NOW))).toMatchObject({ status: 400, type: 'invalid-json' });
  });
});
