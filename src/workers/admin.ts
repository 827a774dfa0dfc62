// Operator routes: tenants, API keys, webhook sources, and maintenance asked for by hand.
//
// Everything but tenant creation takes an `admin` key and acts on that key's tenant only. Creating a
// tenant is a deployment-level act: it takes the ADMIN_TOKEN secret (unset: the route is off, and
// `npm run admin` creates tenants in the local catalog instead).

import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { apiKeyId, hashApiKey, newApiKey, parseScopes, SCOPES } from '../engine/keys.js';
import { invalid, ProblemError } from '../engine/problem.js';
import { WEBHOOK_SOURCES, type WebhookSource } from '../engine/webhooks/index.js';
import { config } from '../config.js';
import { forgetKeys, requireScope, type App } from './auth.js';
import type { MaintainMessage } from './maintain.js';
import { forgetSources } from './webhooks.js';
import { refuseInvalid } from './http.js';
import { json, problemResponses } from './schemas.js';
import { createTenant, TENANT_ID, tenantOf } from './tenant.js';

export const adminApp = new OpenAPIHono<App>({ defaultHook: refuseInvalid });
adminApp.use('/v1/admin/keys', requireScope('admin'));
adminApp.use('/v1/admin/keys/*', requireScope('admin'));
adminApp.use('/v1/admin/sources', requireScope('admin'));
adminApp.use('/v1/admin/sources/*', requireScope('admin'));
adminApp.use('/v1/admin/rebuild', requireScope('admin'));

/** Creates a key of `tenant` and answers it (the only time it is ever shown). */
export async function issueKey(env: Env, tenant: string, scopes: readonly string[], name: string | null, ratePerSecond: number | null) {
  const key = newApiKey(crypto.getRandomValues(new Uint8Array(32)));
  const hash = await hashApiKey(key);
  const id = apiKeyId(hash);
  await env.CATALOG.prepare(
    'INSERT INTO api_keys (hash, id, tenant, scopes, name, rate_per_second, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  )
    .bind(hash, id, tenant, JSON.stringify(scopes), name, ratePerSecond, Date.now())
    .run();
  return { key, id, tenant, scopes: [...scopes], name };
}

const keyInput = z.object({
  scopes: z.array(z.enum(SCOPES)).min(1).describe('What the key may do: write, read, query, admin'),
  name: z.string().max(100).optional(),
  ratePerSecond: z
    .number()
    .int()
    .positive()
    .max(1_000_000)
    .optional()
    .describe('Requests per second (bursts of twice that); default KEY_RATE_PER_SECOND'),
});
const issuedKey = z
  .object({
    key: z.string().describe('Shown once; only its hash is kept'),
    id: z.string(),
    tenant: z.string(),
    scopes: z.array(z.string()),
    name: z.string().nullable(),
  })
  .meta({ id: 'IssuedKey' });

adminApp.openapi(
  createRoute({
    method: 'post',
    path: '/v1/admin/tenants',
    tags: ['admin'],
    summary: 'Create a tenant and its first admin key (needs the ADMIN_TOKEN secret)',
    request: {
      body: {
        content: {
          'application/json': {
            schema: z.object({ id: z.string().regex(TENANT_ID), shardCount: z.number().int().min(1).max(1024).optional() }),
          },
        },
        required: true,
      },
    },
    responses: { 201: json(issuedKey, 'The tenant and its admin key'), ...problemResponses(400, 401, 409) },
  }),
  async (c) => {
    const token = c.env.ADMIN_TOKEN;
    if (!token)
      throw new ProblemError(
        401,
        'unauthorized',
        'tenant creation over HTTP is off: set the ADMIN_TOKEN secret, or run `npm run admin -- create-tenant` locally',
      );
    const given = new TextEncoder().encode(c.req.header('authorization') ?? '');
    const expected = new TextEncoder().encode(`Bearer ${token}`);
    if (given.byteLength !== expected.byteLength || !crypto.subtle.timingSafeEqual(given, expected)) {
      throw new ProblemError(401, 'unauthorized', 'creating a tenant needs "Authorization: Bearer <ADMIN_TOKEN>"');
    }
    const { id, shardCount } = c.req.valid('json');
    if (!(await createTenant(c.env, id, shardCount ?? config(c.env).defaultShardCount))) {
      throw new ProblemError(409, 'invalid-request', `tenant "${id}" exists already`);
    }
    return c.json(await issueKey(c.env, id, ['write', 'read', 'query', 'admin'], 'first admin key', null), 201);
  },
);

adminApp.openapi(
  createRoute({
    method: 'post',
    path: '/v1/admin/keys',
    tags: ['admin'],
    summary: "Create an API key of the caller's tenant",
    request: { body: { content: { 'application/json': { schema: keyInput } }, required: true } },
    responses: { 201: json(issuedKey, 'The new key, shown once'), ...problemResponses(400, 401, 403) },
  }),
  async (c) => {
    const input = c.req.valid('json');
    const tenant = tenantOf(c);
    return c.json(await issueKey(c.env, tenant.id, parseScopes(input.scopes), input.name ?? null, input.ratePerSecond ?? null), 201);
  },
);

adminApp.openapi(
  createRoute({
    method: 'get',
    path: '/v1/admin/keys',
    tags: ['admin'],
    summary: "The caller's tenant's keys (never the keys themselves)",
    responses: {
      200: json(
        z.object({
          keys: z.array(
            z.object({
              id: z.string(),
              scopes: z.array(z.string()),
              name: z.string().nullable(),
              createdAt: z.string(),
              revoked: z.boolean(),
            }),
          ),
        }),
        'Keys',
      ),
    },
  }),
  async (c) => {
    const { results } = await c.env.CATALOG.prepare(
      'SELECT id, scopes, name, created_at, revoked_at FROM api_keys WHERE tenant = ? ORDER BY created_at',
    )
      .bind(tenantOf(c).id)
      .all<{ id: string; scopes: string; name: string | null; created_at: number; revoked_at: number | null }>();
    const keys = results.map((k) => ({
      id: k.id,
      scopes: JSON.parse(k.scopes) as string[],
      name: k.name,
      createdAt: new Date(k.created_at).toISOString(),
      revoked: k.revoked_at !== null,
    }));
    return c.json({ keys }, 200);
  },
);

adminApp.openapi(
  createRoute({
    method: 'delete',
    path: '/v1/admin/keys/{id}',
    tags: ['admin'],
    summary: 'Revoke a key (it stops working within 30 s)',
    request: { params: z.object({ id: z.string() }) },
    responses: { 204: { description: 'Revoked' }, ...problemResponses(404) },
  }),
  async (c) => {
    const { id } = c.req.valid('param');
    const result = await c.env.CATALOG.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND tenant = ? AND revoked_at IS NULL')
      .bind(Date.now(), id, tenantOf(c).id)
      .run();
    if (result.meta.changes === 0) throw new ProblemError(404, 'not-found', `no active key ${id.slice(0, 40)} in this tenant`);
    forgetKeys();
    return c.body(null, 204);
  },
);

const sourceInput = z.object({
  platform: z.enum(WEBHOOK_SOURCES as [WebhookSource, ...WebhookSource[]]),
  secrets: z
    .object({
      secret: z
        .string()
        .min(1)
        .max(1000)
        .optional()
        .describe('Signing secret (GitHub, Slack, Meta app secret, X consumer secret, Stripe, Standard Webhooks whsec_…)'),
      verifyToken: z.string().min(1).max(1000).optional().describe('Meta: the hub.verify_token of the subscription handshake'),
      publicKey: z
        .string()
        .regex(/^[0-9a-fA-F]{64}$/)
        .optional()
        .describe('Discord: the application public key (hex)'),
    })
    .strict(),
});
const sourceOutput = z.object({ id: z.string(), platform: z.string(), url: z.string(), createdAt: z.string() }).meta({ id: 'Source' });

adminApp.openapi(
  createRoute({
    method: 'post',
    path: '/v1/admin/sources',
    tags: ['admin'],
    summary: 'Create a webhook source: a URL of this tenant for one platform, with its secrets',
    request: { body: { content: { 'application/json': { schema: sourceInput } }, required: true } },
    responses: { 201: json(sourceOutput, 'The source; its secrets are never returned'), ...problemResponses(400, 401, 403) },
  }),
  async (c) => {
    const { platform, secrets } = c.req.valid('json');
    const needs: Record<WebhookSource, (keyof typeof secrets)[]> = {
      github: ['secret'],
      slack: ['secret'],
      meta: ['secret', 'verifyToken'],
      x: ['secret'],
      discord: ['publicKey'],
      stripe: ['secret'],
      standard: ['secret'],
    };
    const missing = needs[platform].filter((k) => !secrets[k]);
    if (missing.length > 0) throw invalid('invalid-request', `a ${platform} source needs secrets.${missing.join(' and secrets.')}`);
    const tenant = tenantOf(c);
    const random = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
    const id = `${platform}-${random}`;
    const now = Date.now();
    await c.env.CATALOG.prepare('INSERT INTO sources (id, tenant, platform, secrets, created_at) VALUES (?, ?, ?, ?, ?)')
      .bind(id, tenant.id, platform, JSON.stringify(secrets), now)
      .run();
    return c.json({ id, platform, url: `/v1/webhooks/${id}`, createdAt: new Date(now).toISOString() }, 201);
  },
);

adminApp.openapi(
  createRoute({
    method: 'get',
    path: '/v1/admin/sources',
    tags: ['admin'],
    summary: "The caller's tenant's webhook sources (without secrets)",
    responses: { 200: json(z.object({ sources: z.array(sourceOutput) }), 'Sources') },
  }),
  async (c) => {
    const { results } = await c.env.CATALOG.prepare('SELECT id, platform, created_at FROM sources WHERE tenant = ? ORDER BY created_at')
      .bind(tenantOf(c).id)
      .all<{ id: string; platform: string; created_at: number }>();
    return c.json(
      {
        sources: results.map((s) => ({
          id: s.id,
          platform: s.platform,
          url: `/v1/webhooks/${s.id}`,
          createdAt: new Date(s.created_at).toISOString(),
        })),
      },
      200,
    );
  },
);

adminApp.openapi(
  createRoute({
    method: 'delete',
    path: '/v1/admin/sources/{id}',
    tags: ['admin'],
    summary: 'Delete a webhook source (its URL stops accepting deliveries)',
    request: { params: z.object({ id: z.string() }) },
    responses: { 204: { description: 'Deleted' }, ...problemResponses(404) },
  }),
  async (c) => {
    const { id } = c.req.valid('param');
    const result = await c.env.CATALOG.prepare('DELETE FROM sources WHERE id = ? AND tenant = ?').bind(id, tenantOf(c).id).run();
    if (result.meta.changes === 0) throw new ProblemError(404, 'not-found', `no source ${id.slice(0, 60)} in this tenant`);
    forgetSources();
    return c.body(null, 204);
  },
);

adminApp.openapi(
  createRoute({
    method: 'post',
    path: '/v1/admin/rebuild',
    tags: ['admin'],
    summary: "Rebuild the tenant's replica and catalog from the master row segments",
    description:
      'Queues one rebuild per shard: every green range is read back from the master store, written again as Parquet and swapped into the catalog atomically. Readers keep seeing a complete replica throughout.',
    responses: { 202: json(z.object({ tenant: z.string(), shards: z.number().int() }), 'Rebuilds queued') },
  }),
  async (c) => {
    const tenant = tenantOf(c);
    const messages = Array.from({ length: tenant.shardCount }, (_, shard) => ({
      body: { op: 'rebuild', tenant: tenant.id, shard } satisfies MaintainMessage,
    }));
    await c.env.MAINTAIN_QUEUE.sendBatch(messages);
    return c.json({ tenant: tenant.id, shards: tenant.shardCount }, 202);
  },
);
