// The read side: routes that only read. For now the status of the colour pipeline.

import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { COLOURS, type Colour } from '../engine/colour.js';
import { colourSchema } from './schemas.js';
import { shardStatuses } from './shards.js';
import { tenantOf } from './tenant.js';

type App = { Bindings: Env };

const countsSchema = z.record(colourSchema, z.number().int());
const statusSchema = z
  .object({
    tenant: z.string(),
    at: z.string().describe('When the status was taken'),
    totals: countsSchema,
    oldestGreyAgeMs: z.number().nullable().describe('Age of the oldest event not yet in the master store: the publish lag'),
    shards: z.array(
      z.object({
        shard: z.number().int(),
        headSeq: z.number().int().describe('Last sequence number the shard assigned'),
        streams: z.number().int(),
        counts: countsSchema,
        oldestGreyAgeMs: z.number().nullable(),
      }),
    ),
  })
  .meta({ id: 'Status' });

export const readApp = new OpenAPIHono<App>();

readApp.openapi(
  createRoute({
    method: 'get',
    path: '/v1/status',
    tags: ['status'],
    summary: 'The colours of the status memory, per shard, and the lag',
    responses: {
      200: {
        description: 'Counts per colour and the age of the oldest grey event',
        content: { 'application/json': { schema: statusSchema } },
      },
    },
  }),
  async (c) => {
    const tenant = await tenantOf(c);
    const now = Date.now();
    const shards = (await shardStatuses(c.env, tenant)).map((s) => ({
      shard: s.shard,
      headSeq: s.headSeq,
      streams: s.streams,
      counts: s.counts,
      oldestGreyAgeMs: s.oldestGreyAt === null ? null : Math.max(0, now - s.oldestGreyAt),
    }));
    const totals = Object.fromEntries(COLOURS.map((colour) => [colour, 0])) as Record<Colour, number>;
    for (const s of shards) for (const colour of COLOURS) totals[colour] += s.counts[colour];
    const ages = shards.map((s) => s.oldestGreyAgeMs).filter((a): a is number => a !== null);
    c.header('cache-control', 'no-store');
    return c.json(
      { tenant: tenant.id, at: new Date(now).toISOString(), totals, oldestGreyAgeMs: ages.length ? Math.max(...ages) : null, shards },
      200,
    );
  },
);
