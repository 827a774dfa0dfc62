// Platform webhooks end to end in workerd: a source created through the admin API, deliveries
// signed with the platforms' tools, stored once, refused when the signature or the time is wrong.
import { sign } from '@octokit/webhooks-methods';
import * as ed from '@noble/ed25519';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { call, post, problem } from './helpers.js';

async function source(platform: string, secrets: Record<string, string>): Promise<string> {
  const res = await post('/v1/admin/sources', { platform, secrets });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { url: string }).url;
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return hex(new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text))));
}

describe('webhooks', () => {
  it('stores a GitHub delivery signed with @octokit/webhooks-methods once, and refuses a wrong signature', async () => {
    const url = await source('github', { secret: 'gh-secret' });
    const delivery = crypto.randomUUID();
    const body = JSON.stringify({ action: 'opened', number: 7, repository: { full_name: 'acme/widgets', owner: { login: 'acme' } } });
    const headers = (signature: string) => ({
      'content-type': 'application/json',
      'x-github-event': 'pull_request',
      'x-github-delivery': delivery,
      'x-hub-signature-256': signature,
    });
    const first = await call(url, { method: 'POST', headers: headers(await sign('gh-secret', body)), body }, null);
    expect(first.status, await first.clone().text()).toBe(200);
    const [stored] = ((await first.json()) as { events: { id: string; stream: string; duplicate: boolean }[] }).events;
    expect(stored).toMatchObject({ id: `github:${delivery}`, stream: 'github/acme/widgets', duplicate: false });
    const again = await call(url, { method: 'POST', headers: headers(await sign('gh-secret', body)), body }, null);
    expect(((await again.json()) as { events: { duplicate: boolean }[] }).events[0]!.duplicate).toBe(true);
    await problem(await call(url, { method: 'POST', headers: headers(await sign('other-secret', body)), body }, null), 401);
    await problem(await call(url, { method: 'POST', headers: headers(await sign('gh-secret', body + ' ')), body }, null), 401);
  });

  it('answers Slack url_verification, checks the v0 signature and its 5-minute window', async () => {
    const url = await source('slack', { secret: 'slack-signing' });
    const signed = async (body: string, ts: number) => ({
      'content-type': 'application/json',
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': `v0=${await hmacHex('slack-signing', `v0:${ts}:${body}`)}`,
    });
    const now = Math.floor(Date.now() / 1000);
    const challenge = JSON.stringify({ type: 'url_verification', challenge: 'c-123', token: 'x' });
    const res = await call(url, { method: 'POST', headers: await signed(challenge, now), body: challenge }, null);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('c-123');
    const event = JSON.stringify({
      type: 'event_callback',
      team_id: 'T1',
      event_id: `Ev${now}`,
      event_time: now,
      event: { type: 'message', channel: 'C1', text: 'hi' },
    });
    const ok = await call(url, { method: 'POST', headers: await signed(event, now), body: event }, null);
    expect(ok.status).toBe(200);
    const stale = await problem(await call(url, { method: 'POST', headers: await signed(event, now - 600), body: event }, null), 401);
    expect(stale.type).toMatch(/stale-request$/);
  });

  it('answers a Discord PING with PONG when the Ed25519 signature holds', async () => {
    const secretKey = ed.utils.randomSecretKey();
    const publicKey = hex(await ed.getPublicKeyAsync(secretKey));
    const url = await source('discord', { publicKey });
    const body = JSON.stringify({ type: 1, id: '1', application_id: '2', token: 't', version: 1 });
    const ts = String(Math.floor(Date.now() / 1000));
    const signature = hex(await ed.signAsync(new TextEncoder().encode(ts + body), secretKey));
    const res = await call(
      url,
      {
        method: 'POST',
        headers: { 'x-signature-ed25519': signature, 'x-signature-timestamp': ts, 'content-type': 'application/json' },
        body,
      },
      null,
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 1 });
    const bad = await call(
      url,
      {
        method: 'POST',
        headers: { 'x-signature-ed25519': '00'.repeat(64), 'x-signature-timestamp': ts, 'content-type': 'application/json' },
        body,
      },
      null,
    );
    await problem(bad, 401);
  });

  it('answers the Meta subscription handshake only with the right verify token', async () => {
    const url = await source('meta', { secret: 'app-secret', verifyToken: 'vt-1' });
    const ok = await call(`${url}?hub.mode=subscribe&hub.verify_token=vt-1&hub.challenge=987`, {}, null);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('987');
    await problem(await call(`${url}?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=987`, {}, null), 401);
  });

  it('refuses unknown sources and never answers 5xx to junk', async () => {
    await problem(await call('/v1/webhooks/github-0000000000000000', { method: 'POST', body: '{}' }, null), 404);
    await problem(await call('/v1/webhooks/nope', { method: 'POST', body: '{}' }, null), 404);
    const url = await source('stripe', { secret: 'whsec_test' });
    for (const body of ['', 'not json', '{}', '[]', '\u0000']) {
      const res = await call(url, { method: 'POST', headers: { 'stripe-signature': 't=1,v1=00' }, body }, null);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });

  it('answers fuzzed deliveries to every platform with 4xx only, and stores none of them', async () => {
    const urls = [
      await source('github', { secret: 's' }),
      await source('slack', { secret: 's' }),
      await source('meta', { secret: 's', verifyToken: 'vt' }),
      await source('x', { secret: 's' }),
      await source('discord', { publicKey: 'ab'.repeat(32) }),
      await source('stripe', { secret: 'whsec_s' }),
      await source('standard', { secret: 'whsec_c2VjcmV0' }),
    ];
    const headerNames = [
      'x-hub-signature-256',
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
      'content-type',
    ];
    const before = await (await call('/v1/status')).json();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...urls),
        fc.constantFrom('GET', 'POST'),
        fc.dictionary(
          fc.constantFrom(...headerNames),
          fc.oneof(fc.string(), fc.constant('sha256=00'), fc.constant('t=1,v1=00'), fc.constant('v1,AAAA')),
        ),
        fc.oneof(fc.string(), fc.json(), fc.constant('{"type":1}'), fc.constant('{"type":"url_verification","challenge":"x"}')),
        fc.dictionary(fc.constantFrom('hub.mode', 'hub.verify_token', 'hub.challenge', 'crc_token'), fc.string()),
        async (url, method, headers, body, query) => {
          const qs = new URLSearchParams(query).toString();
          let res: Response;
          try {
            res = await call(`${url}${qs ? `?${qs}` : ''}`, { method, headers, body: method === 'POST' ? body : undefined }, null);
          } catch (error) {
            expect(String(error)).toMatch(/header|invalid/i); // not a valid HTTP request at all
            return;
          }
          if (res.status === 200) {
            // The X CRC answers any crc_token by design (it signs the token, never a body); nothing is stored.
            expect([url.includes('/x-'), method, await res.clone().text()]).toEqual([
              true,
              'GET',
              expect.stringMatching(/^\{"response_token":"sha256=/),
            ]);
            return;
          }
          expect(res.status, await res.clone().text()).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          if (res.status !== 405) expect(res.headers.get('content-type')).toBe('application/problem+json');
        },
      ),
      { numRuns: 300 },
    );
    expect(await (await call('/v1/status')).json()).toMatchObject({ totals: (before as { totals: unknown }).totals });
  }, 60_000);
});
