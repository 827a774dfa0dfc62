// CloudEvents 1.0 over HTTP (structured, batch and binary modes) into the store's event input.
//
// Mapping (README "CloudEvents"): `id` → id, `type` → type, `source` → source, `subject` → subject,
// `time` → time, `data` (or `data_base64`, as its base64 text) → data. The stream is the `subject`
// when it is a valid stream name, else the `source` made into one (scheme dropped, characters a
// stream name cannot hold replaced by "_"). Dedupe compares `source` and `id` together, as the spec
// says they identify an event. `datacontenttype`, `dataschema` and extension attributes are not
// stored by this version (see the README's known limits).

import type { EventInput } from './envelope.js';
import { isValidStreamName } from './envelope.js';
import { invalid } from './problem.js';

export type CloudEventsMode = 'structured' | 'batch' | 'binary';

export const CE_STRUCTURED = 'application/cloudevents+json';
export const CE_BATCH = 'application/cloudevents-batch+json';

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Which CloudEvents mode a request uses, or null for the store's own JSON format. */
export function cloudEventsMode(contentType: string | undefined, headers: Record<string, string>): CloudEventsMode | null {
  const media = mediaType(contentType);
  if (media === CE_STRUCTURED) return 'structured';
  if (media === CE_BATCH) return 'batch';
  if (headers['ce-specversion'] !== undefined) return 'binary';
  return null;
}

/** The dedupe key of a CloudEvent: source and id together (never equal to a plain event's id). */
export function cloudEventKey(source: string, id: string): string {
  return `ce:${JSON.stringify([source, id])}`;
}

/** The stream of a CloudEvent: its subject if that is a stream name, else its source made into one. */
export function cloudEventStream(subject: string | undefined, source: string, where: string): string {
  if (subject !== undefined && isValidStreamName(subject)) return subject;
  const fromSource = source
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/[^A-Za-z0-9_.:@+=~/-]/g, '_')
    .replace(/\/{2,}/g, '/')
    .replace(/^\/+|\/+$/g, '')
    .slice(0, 256);
  if (isValidStreamName(fromSource)) return fromSource;
  throw invalid(
    'invalid-event',
    `${where}: neither subject nor source gives a stream name; set "subject" to one (letters, digits and _ - . : @ + = ~ /)`,
  );
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** One structured CloudEvent (an object) into an event input; `where` names it in errors. */
function fromStructured(ce: unknown, where: string): EventInput {
  if (ce === null || typeof ce !== 'object' || Array.isArray(ce))
    throw invalid('invalid-event', `${where} must be a CloudEvent JSON object`);
  const e = ce as Record<string, unknown>;
  if (e.specversion !== '1.0')
    throw invalid('invalid-event', `${where}.specversion must be "1.0", got ${JSON.stringify(e.specversion ?? null)}`);
  for (const attr of ['id', 'source', 'type'] as const) {
    if (!str(e[attr])) throw invalid('invalid-event', `${where}.${attr} is required and must be a non-empty string`);
  }
  for (const attr of ['subject', 'time', 'datacontenttype', 'dataschema'] as const) {
    if (e[attr] !== undefined && !str(e[attr])) throw invalid('invalid-event', `${where}.${attr} must be a non-empty string when present`);
  }
  if (e.data !== undefined && e.data_base64 !== undefined)
    throw invalid('invalid-event', `${where} has both data and data_base64; send one`);
  if (e.data_base64 !== undefined && typeof e.data_base64 !== 'string')
    throw invalid('invalid-event', `${where}.data_base64 must be a string`);
  const source = e.source as string;
  const input: EventInput = {
    id: e.id as string,
    type: e.type as string,
    source,
    stream: cloudEventStream(e.subject as string | undefined, source, where),
    data: e.data !== undefined ? e.data : (e.data_base64 ?? null),
  };
  if (e.subject !== undefined) input.subject = e.subject as string;
  if (e.time !== undefined) input.time = e.time as string;
  return input;
}

/** Structured mode: one CloudEvent as the JSON body. */
export function fromStructuredBody(body: unknown): EventInput[] {
  return [fromStructured(body, 'event')];
}

/** Batch mode: a JSON array of structured CloudEvents. */
export function fromBatchBody(body: unknown): EventInput[] {
  if (!Array.isArray(body)) throw invalid('invalid-request', `a ${CE_BATCH} body must be a JSON array of CloudEvents`);
  if (body.length === 0) throw invalid('invalid-request', 'the batch of CloudEvents is empty; send at least one');
  return body.map((ce, i) => fromStructured(ce, `events[${i}]`));
}

/**
 * Binary mode: the attributes are `ce-*` headers (lower-case names), the body is the data in its
 * Content-Type: JSON is parsed, text is kept as a string, anything else as base64 text.
 */
export function fromBinary(headers: Record<string, string>, contentType: string | undefined, body: Uint8Array): EventInput[] {
  const ce: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('ce-')) ce[name.slice(3)] = decodeHeader(value);
  }
  const media = mediaType(contentType);
  if (body.byteLength > 0) {
    if (media === 'application/json' || media.endsWith('+json')) {
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body);
      } catch {
        throw invalid('invalid-encoding', 'the body is not valid UTF-8; encode it as UTF-8');
      }
      try {
        ce.data = JSON.parse(text);
      } catch (error) {
        throw invalid(
          'invalid-json',
          `the body is declared ${media} but is not valid JSON: ${String((error as Error).message).slice(0, 200)}`,
        );
      }
    } else if (media.startsWith('text/')) {
      try {
        ce.data = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body);
      } catch {
        throw invalid('invalid-encoding', 'the text body is not valid UTF-8');
      }
    } else {
      let s = '';
      for (const b of body) s += String.fromCharCode(b);
      ce.data_base64 = btoa(s);
    }
  }
  return [fromStructured(ce, 'CloudEvent (ce-* headers)')];
}

/** Header values are percent-encoded where they need to be (CloudEvents HTTP binding §3.1.3.2). */
function decodeHeader(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw invalid('invalid-request', `a ce-* header value is not valid percent-encoding: "${value.slice(0, 100)}"`);
  }
}
