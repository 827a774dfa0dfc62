// The event envelope of the write API: its schema, its rules, and the prepared form a shard stores.

import { z } from 'zod';
import type { WriteLimits } from './limits.js';
import { invalid, ProblemError } from './problem.js';

/** Printable ASCII without spaces: ids are compared byte for byte, so no look-alikes. */
const ID_PATTERN = /^[\x21-\x7e]+$/;
/** No control characters in short text fields. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const TEXT_PATTERN = /^[^\x00-\x1f\x7f]+$/;

export const STREAM_NAME_RULE =
  'a stream name is 1-256 characters of letters, digits and _ - . : @ + = ~ /, not starting or ending with "/" and without "//"';
const STREAM_PATTERN = /^[A-Za-z0-9_.:@+=~-](?:[A-Za-z0-9_.:@+=~/-]{0,254}[A-Za-z0-9_.:@+=~-])?$/;

export function isValidStreamName(stream: string): boolean {
  return STREAM_PATTERN.test(stream) && !stream.includes('//');
}

export function assertStreamName(stream: string, where = 'stream'): void {
  if (!isValidStreamName(stream)) {
    throw new ProblemError(400, 'invalid-stream-name', `${where} "${stream.slice(0, 300)}" is not valid: ${STREAM_NAME_RULE}`);
  }
}

export const eventIdSchema = z.string().min(1).max(256).regex(ID_PATTERN, 'must be printable ASCII without spaces');
export const eventTypeSchema = z.string().min(1).max(256).regex(TEXT_PATTERN, 'must not contain control characters');

/** One event as a caller writes it. Unknown fields are refused: a typo like `dat` must not lose data. */
export const eventInputSchema = z.strictObject({
  id: eventIdSchema.optional().describe('Unique id; a repeated id is not stored again. UUIDv7 when absent.'),
  type: eventTypeSchema.describe('What happened, e.g. "post.created".'),
  // Any JSON value (the body was parsed as JSON); its depth is checked by a bounded walk below.
  data: z.unknown().optional().describe('Any JSON value; the fact itself. null when absent.'),
  time: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('RFC 3339 time the fact happened; the receipt time when absent. Stored to the millisecond.'),
  source: z.string().min(1).max(1024).regex(TEXT_PATTERN, 'must not contain control characters').optional(),
  subject: z.string().min(1).max(1024).regex(TEXT_PATTERN, 'must not contain control characters').optional(),
  stream: z.string().optional().describe('The stream; required on POST /v1/events, optional (and equal) on the stream route.'),
});
export type EventInput = z.infer<typeof eventInputSchema>;

/**
 * An event ready for its shard: validated, identified, timed, its data serialized once.
 * `key` is what dedupe compares: the id (CloudEvents will add their source to it).
 */
export interface PreparedEvent {
  key: string;
  id: string;
  stream: string;
  type: string;
  source: string | null;
  subject: string | null;
  /** Epoch milliseconds. */
  time: number;
  /** The `data` value as JSON text. */
  data: string;
}

export interface PrepareContext {
  limits: WriteLimits;
  /** Receipt time, epoch ms: the default `time`. */
  receivedAt: number;
  /** Mints the id of the event at `index` when the caller gave none. */
  newId: (index: number) => string;
  /** The stream named by the route, when there is one. */
  stream?: string;
  /** What dedupe compares, from the event's id and input; the id itself unless said otherwise. */
  keyOf?: (id: string, input: EventInput) => string;
}

/** UTF-8 length without allocating an encoded copy. */
export function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      i++; // a surrogate pair: 4 bytes for its 2 UTF-16 units
      n += 2;
    } else n += 2;
  }
  return n;
}

/** Deepest nesting of arrays/objects in a JSON value, stopping as soon as `limit` is passed. */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const walk = (v: unknown, depth: number): boolean => {
    if (v === null || typeof v !== 'object') return false;
    if (depth > limit) return true;
    if (Array.isArray(v)) {
      for (const item of v) if (walk(item, depth + 1)) return true;
    } else {
      for (const key in v) if (walk((v as Record<string, unknown>)[key], depth + 1)) return true;
    }
    return false;
  };
  return walk(value, 1);
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

/** Turns zod issues into one readable detail plus RFC 9457-style `errors` with JSON pointers into the body. */
function formatIssues(error: z.ZodError, where: string, index: number | null) {
  const errors = error.issues.slice(0, 20).map((issue) => {
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; allowed: id, type, data, time, source, subject, stream`
        : issue.message;
    const segments = [...(index === null ? [] : [String(index)]), ...issue.path.map(String)];
    return { pointer: '/' + segments.join('/'), detail: `${where}${fieldPath(issue.path)}: ${message}` };
  });
  const more = error.issues.length > errors.length ? ` (and ${error.issues.length - errors.length} more)` : '';
  return { detail: errors.map((e) => e.detail).join('; ') + more, errors };
}

/**
 * Validates a write body (one event object or an array of them) and prepares each event.
 * Throws a ProblemError naming the first offending event and field; nothing is partial.
 */
export function prepareEvents(body: unknown, ctx: PrepareContext): PreparedEvent[] {
  const { limits } = ctx;
  const list = Array.isArray(body) ? body : [body];
  if (Array.isArray(body) && body.length === 0) {
    throw invalid('invalid-request', 'the array of events is empty; send at least one event');
  }
  if (list.length > limits.maxEventsPerRequest) {
    throw new ProblemError(
      413,
      'too-many-events',
      `${list.length} events in one request; at most ${limits.maxEventsPerRequest} are accepted, split the batch`,
      { limit: limits.maxEventsPerRequest },
    );
  }
  const prepared: PreparedEvent[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const where = Array.isArray(body) ? `events[${i}]` : 'event';
    const raw = list[i];
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw invalid('invalid-event', `${where} must be a JSON object with at least "type"`);
    }
    const parsed = eventInputSchema.safeParse(raw);
    if (!parsed.success) {
      const { detail, errors } = formatIssues(parsed.error, where, Array.isArray(body) ? i : null);
      throw invalid('invalid-event', detail, { errors });
    }
    const e = parsed.data;
    let stream: string;
    if (ctx.stream !== undefined) {
      if (e.stream !== undefined && e.stream !== ctx.stream) {
        throw invalid(
          'invalid-event',
          `${where}.stream is "${e.stream.slice(0, 300)}" but the route names stream "${ctx.stream}"; omit it or make them equal`,
        );
      }
      stream = ctx.stream;
    } else {
      if (e.stream === undefined) {
        throw invalid('invalid-event', `${where}.stream is missing; every event on POST /v1/events names its stream`);
      }
      assertStreamName(e.stream, `${where}.stream`);
      stream = e.stream;
    }
    const value = e.data === undefined ? null : e.data;
    if (jsonDepthExceeds(value, limits.maxDataDepth)) {
      throw invalid('invalid-event', `${where}.data is nested deeper than ${limits.maxDataDepth} levels; flatten it`);
    }
    const data = JSON.stringify(value);
    const bytes = utf8Length(data);
    if (bytes > limits.maxEventBytes) {
      throw new ProblemError(
        413,
        'payload-too-large',
        `${where}.data is ${bytes} bytes as JSON; one event may carry at most ${limits.maxEventBytes}`,
        { limit: limits.maxEventBytes },
      );
    }
    let time = ctx.receivedAt;
    if (e.time !== undefined) {
      time = Date.parse(e.time);
      if (!Number.isFinite(time)) throw invalid('invalid-event', `${where}.time "${e.time}" is not a representable RFC 3339 time`);
    }
    const id = e.id ?? ctx.newId(i);
    prepared[i] = {
      key: ctx.keyOf ? ctx.keyOf(id, e) : id,
      id,
      stream,
      type: e.type,
      source: e.source ?? null,
      subject: e.subject ?? null,
      time,
      data,
    };
  }
  return prepared;
}
