// Response and parameter schemas shared by the OpenAPI document of the Workers.

import { z } from 'zod';
import { COLOURS } from '../engine/colour.js';
import { eventInputSchema } from '../engine/envelope.js';

export const problemSchema = z
  .object({
    type: z.string().describe('Stable URI naming the kind of problem'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().describe('What was wrong and what to change'),
  })
  .catchall(z.unknown())
  .meta({ id: 'Problem' });

export const colourSchema = z.enum(COLOURS as [string, ...string[]]).meta({ id: 'Colour' });

export const appendedEventSchema = z
  .object({
    id: z.string(),
    stream: z.string(),
    version: z.number().int().describe('Position in the stream, from 1'),
    shard: z.number().int(),
    seq: z.number().int().describe('Position in the shard: the master write order, from 1'),
    status: colourSchema,
    duplicate: z.boolean().describe('true when the id was seen before; the position is the original one'),
  })
  .meta({ id: 'AppendedEvent' });

export const appendResponseSchema = z
  .object({
    events: z.array(appendedEventSchema),
    wait: z
      .object({
        colour: z.enum(['blue', 'green']),
        reached: z.boolean().describe('false when the wait timed out; `status` says where each event is'),
        ms: z.number().int(),
      })
      .optional()
      .describe('Present when the request asked to wait for a colour'),
  })
  .meta({ id: 'AppendResponse' });

export const writeBodySchema = z
  .union([eventInputSchema, z.array(eventInputSchema).min(1).max(1000)])
  .meta({ id: 'EventsWrite', description: 'One event or an array of 1 to 1,000 events' });

/** An OpenAPI response of `schema` as JSON. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

export const problemResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      String(status),
      { description: 'A problem document (RFC 9457)', content: { 'application/problem+json': { schema: problemSchema } } },
    ]),
  );

export const eventSchema = z
  .object({
    id: z.string(),
    stream: z.string(),
    version: z.number().int(),
    shard: z.number().int(),
    seq: z.number().int(),
    type: z.string(),
    source: z.string().nullable(),
    subject: z.string().nullable(),
    time: z.string(),
    receivedAt: z.string(),
    data: z.unknown(),
    status: colourSchema.describe('Where the event is: grey, blue, green, or red (left the hot window; read from the master store)'),
  })
  .meta({ id: 'Event' });
