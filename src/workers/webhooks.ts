// Platform webhooks: POST /v1/webhooks/{source} (deliveries) and GET (handshakes), verified with the
// platform's own scheme and the source's secrets, then stored like any write. No API key: the
// signature is the credential, and the source id names the tenant.

import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import { prepareEvents } from '../engine/envelope.js';
import { ProblemError } from '../engine/problem.js';
import { handleWebhook, type WebhookSecrets, type WebhookSource } from '../engine/webhooks/index.js';
import { config } from '../config.js';
import type { App } from './auth.js';
import { readBodyBytes, refuseInvalid } from './http.js';
import { appendResponseSchema, problemResponses } from './schemas.js';
import { appendToShards } from './shards.js';
import { loadTenant } from './tenant.js';

interface SourceRow {
  tenant: string;
  platform: WebhookSource;
  secrets: WebhookSecrets;
}

/** Sources looked up recently: a changed secret or a deleted source takes effect within SOURCE_CACHE_MS. */
const sources = new Map<string, { row: SourceRow | null; until: number }>();
const SOURCE_CACHE_MS = 30_000;

/** Forgets cached sources, so a deleted or changed source takes effect at once in this isolate. */
export function forgetSources(): void {
  sources.clear();
}

async function lookUp(env: Env, id: string): Promise<SourceRow | null> {
  const now = Date.now();
  const cached = sources.get(id);
  if (cached && cached.until > now) return cached.row;
  const found = await env.CATALOG.prepare('SELECT tenant, platform, secrets FROM sources WHERE id = ?')
    .bind(id)
    .first<{ tenant: string; platform: WebhookSource; secrets: string }>();
  const row = found ? { ...found, secrets: JSON.parse(found.secrets) as WebhookSecrets } : null;
  if (sources.size > 10_000) sources.clear();
  sources.set(id, { row, until: now + (row ? SOURCE_CACHE_MS : 2_000) });
  return row;
}

/** The platform's expected answer (a 204 or 304 carries no body, as Fetch requires). */
function reply(r: { status: number; contentType: string; body: string }): Response {
  if (r.status === 204 || r.status === 304) return new Response(null, { status: r.status });
  return new Response(r.body, { status: r.status, headers: { 'content-type': r.contentType } });
}

async function deliver(c: Context<App>) {
  const id = c.req.param('source') ?? '';
  const source = /^[a-z]+-[0-9a-f]{16}$/.test(id) ? await lookUp(c.env, id) : null;
  if (!source) throw new ProblemError(404, 'not-found', `no webhook source "${id.slice(0, 60)}"; create one with POST /v1/admin/sources`);
  const { limits } = config(c.env);
  const receivedAt = Date.now();
  const body = c.req.method === 'POST' ? await readBodyBytes(c.req.raw, limits.maxRequestBytes) : new Uint8Array(0);
  const headers: Record<string, string> = {};
  c.req.raw.headers.forEach((value, name) => (headers[name.toLowerCase()] = value));
  const outcome = await handleWebhook(
    source.platform,
    { method: c.req.method === 'POST' ? 'POST' : 'GET', headers, query: c.req.query(), body, now: receivedAt },
    source.secrets,
  );
  if (outcome.kind === 'respond') return reply(outcome);
  if (outcome.events.length === 0) return c.json({ events: [] }, 200);
  const tenant = await loadTenant(c.env, source.tenant);
  const events = prepareEvents(outcome.events, {
    limits,
    receivedAt,
    newId: () => {
      throw new Error('webhook events always carry an id');
    },
  });
  const appended = await appendToShards(c.env, tenant, events, { kind: 'any' });
  // Only now that the events are durable: the platform treats this answer as the delivery's receipt.
  if (outcome.respond) return reply(outcome.respond);
  // 200, not 202: Slack and Meta document 200 as the acknowledgement of a delivery.
  return c.json({ events: appended }, 200);
}

export const webhookApp = new OpenAPIHono<App>({ defaultHook: refuseInvalid });

const sourceParam = z.object({ source: z.string().describe('The source id from POST /v1/admin/sources, e.g. github-0123456789abcdef') });
webhookApp.openAPIRegistry.registerPath(
  createRoute({
    method: 'post',
    path: '/v1/webhooks/{source}',
    tags: ['webhooks'],
    summary: "A platform's webhook delivery, verified with its own signature scheme",
    description:
      'GitHub, Slack, Meta, X, Discord, Stripe and Standard Webhooks, each with its real signature, replay window and handshake (docs/webhooks.md has the mapping of each delivery to stream, type, id and time). No API key: the signature is the credential. A redelivery maps to the same event id and is stored once.',
    request: { params: sourceParam },
    responses: {
      200: {
        description: "Stored (grey): the events' positions, or the platform's expected reply (a handshake, Discord's interaction answer)",
        content: { 'application/json': { schema: appendResponseSchema } },
      },
      204: { description: 'Stored, for platforms that expect no body (Discord Webhook Events)' },
      ...problemResponses(400, 401, 404, 413),
    },
  }),
);
webhookApp.openAPIRegistry.registerPath(
  createRoute({
    method: 'get',
    path: '/v1/webhooks/{source}',
    tags: ['webhooks'],
    summary: 'Subscription handshakes (Meta hub.challenge, X CRC)',
    request: { params: sourceParam },
    responses: { 200: { description: 'The challenge answer' }, ...problemResponses(400, 401, 404) },
  }),
);
webhookApp.post('/v1/webhooks/:source', deliver);
webhookApp.get('/v1/webhooks/:source', deliver);
