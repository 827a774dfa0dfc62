// Operator routes: maintenance work asked for by hand. (Scoped to `admin` keys once keys exist, issue 4.)

import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { MaintainMessage } from './maintain.js';
import { tenantOf } from './tenant.js';

type App = { Bindings: Env };

export const adminApp = new OpenAPIHono<App>();

adminApp.openapi(
  createRoute({
    method: 'post',
    path: '/v1/admin/rebuild',
    tags: ['admin'],
    summary: "Rebuild the tenant's replica and catalog from the master row segments",
    description:
      'Queues one rebuild per shard: every green range is read back from the master store, written again as Parquet and swapped into the catalog atomically. Readers keep seeing a complete replica throughout.',
    responses: {
      202: {
        description: 'Rebuilds queued',
        content: { 'application/json': { schema: z.object({ tenant: z.string(), shards: z.number().int() }) } },
      },
    },
  }),
  async (c) => {
    const tenant = await tenantOf(c);
    const messages = Array.from({ length: tenant.shardCount }, (_, shard) => ({
      body: { op: 'rebuild', tenant: tenant.id, shard } satisfies MaintainMessage,
    }));
    await c.env.MAINTAIN_QUEUE.sendBatch(messages);
    return c.json({ tenant: tenant.id, shards: tenant.shardCount }, 202);
  },
);
