// What every adapter shares: reading headers and bodies strictly, the problems they raise, and the builders
// that turn platform values into valid stream names, types, ids and times.

import { assertStreamName } from '../envelope.js';
import { invalid, ProblemError } from '../problem.js';
import type { WebhookEvent, WebhookRequest, WebhookSecrets, WebhookSource } from './types.js';

/** The replay window of Slack, Stripe and Standard Webhooks: five minutes. */
export const TOLERANCE_S = 300;

/**
 * Deepest JSON nesting parsed: the largest MAX_DATA_DEPTH the store allows, and far below what
 * would exhaust the stack of the recursive steps that follow (a reviver, JSON.stringify for digests).
 */
export const MAX_JSON_DEPTH = 256;

export type JsonObject = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------------
// Problems

/** The request does not prove it comes from the platform: 401, never a hint about the secret. */
export const signatureProblem = (detail: string) => new ProblemError(401, 'invalid-signature', detail);

export function notConfigured(source: WebhookSource, what: string): ProblemError {
  return new ProblemError(
    401,
    'webhook-not-configured',
    `no ${what} is configured for source ${source} in this tenant, so no delivery can be verified; set it on the source`,
  );
}

/** The configured secret, or a 401 naming what is missing. An empty or non-text value counts as missing. */
export function configured(secrets: WebhookSecrets, field: keyof WebhookSecrets, source: WebhookSource, what: string): string {
  const value: unknown = secrets[field];
  if (typeof value !== 'string' || value === '') throw notConfigured(source, what);
  return value;
}

/** Method refused: 405 with the methods that are accepted, for the `Allow` header. */
export function methodNotAllowed(method: string, label: string, allow: string): ProblemError {
  return new ProblemError(
    405,
    'method-not-allowed',
    `${String(method).slice(0, 16)} is not accepted for ${label} webhooks; they accept ${allow.replace(', ', ' and ')}`,
    { allow },
  );
}

// ---------------------------------------------------------------------------------------------------------
// Request

/** A header (names are lower case), or undefined when absent. */
export function header(request: WebhookRequest, name: string): string | undefined {
  const v = Object.hasOwn(request.headers, name) ? request.headers[name] : undefined;
  return typeof v === 'string' ? v : undefined;
}

/** A query parameter, or undefined when absent. */
export function queryParam(request: WebhookRequest, name: string): string | undefined {
  const v = Object.hasOwn(request.query, name) ? request.query[name] : undefined;
  return typeof v === 'string' ? v : undefined;
}

/** A header the signature scheme needs: missing means unauthenticated, 401. */
export function requiredSignatureHeader(request: WebhookRequest, name: string, display: string, label: string): string {
  const v = header(request, name);
  if (v === undefined || v.trim() === '') throw signatureProblem(`${display} header is missing; ${label} signs every delivery with it`);
  return v.trim();
}

/** A Unix time in seconds from a signed header or field; malformed means the signature cannot be checked, 401. */
export function unixSeconds(value: string, display: string): number {
  if (!/^\d{1,12}$/.test(value)) throw signatureProblem(`${display} "${value.slice(0, 40)}" is not a Unix time in seconds`);
  return Number(value);
}

/**
 * The replay window: refuses a signed timestamp more than `TOLERANCE_S` old, and, when the platform says so,
 * more than `TOLERANCE_S` ahead. Called after the signature held, so "stale" always means a genuine but old delivery.
 */
export function checkWindow(seconds: number, now: number, display: string, future: boolean): void {
  const age = Math.floor(now / 1000) - seconds;
  if (age > TOLERANCE_S) {
    throw new ProblemError(401, 'stale-request', `${display} is ${age} s old; the tolerance is ${TOLERANCE_S} s`, {
      age,
      tolerance: TOLERANCE_S,
    });
  }
  if (future && -age > TOLERANCE_S) {
    throw new ProblemError(401, 'stale-request', `${display} is ${-age} s in the future; the tolerance is ${TOLERANCE_S} s`, {
      age,
      tolerance: TOLERANCE_S,
    });
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The body as text; only called once the signature held. */
export function bodyText(request: WebhookRequest, label: string): string {
  if (request.body.byteLength === 0) throw invalid('invalid-request', `the body is empty; ${label} deliveries carry a body`);
  try {
    return utf8Decoder.decode(request.body);
  } catch {
    throw new ProblemError(400, 'invalid-encoding', `the body is not valid UTF-8; ${label} sends UTF-8 JSON`);
  }
}

/** True when the request says it carries an HTML form (GitHub's form content type, Slack's commands and interactivity). */
export function isForm(request: WebhookRequest): boolean {
  return /^\s*application\/x-www-form-urlencoded\b/i.test(header(request, 'content-type') ?? '');
}

/** An HTML form as an object: one string per field, an array of strings for a repeated field. */
export function parseForm(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    const seen = Object.hasOwn(out, name) ? out[name] : undefined;
    if (seen === undefined) out[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else out[name] = [seen, value];
  }
  return out;
}

/** Deepest nesting of `[`/`{` outside strings, stopping past `limit`; a linear scan of the text, no recursion. */
function jsonTextDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;

/**
 * Keeps integers that a double cannot hold (X's 64-bit numeric ids) as their exact decimal text: a number
 * would silently change their last digits. Uses the reviver's `context.source` (ES2025 JSON.parse source
 * text access, in V8 since 11.4: Node 21+, workerd); where it is missing the value stays a number.
 */
const keepBigIntegers: Reviver = (_key, value, context) => {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && /^-?\d+$/.test(context.source)) {
    return context.source;
  }
  return value;
};

/** Parses JSON text with the depth bound and exact big integers; 400 `invalid-json` naming `where`. */
export function parseJson(text: string, where: string): unknown {
  if (jsonTextDepthExceeds(text, MAX_JSON_DEPTH)) throw invalid('invalid-json', `${where} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    // Only bodies with a 16-digit run can hold such an integer; the others skip the slower reviver.
    return /\d{16}/.test(text) ? JSON.parse(text, keepBigIntegers as (key: string, value: unknown) => unknown) : JSON.parse(text);
  } catch (e) {
    const reason = e instanceof SyntaxError ? e.message.slice(0, 200) : 'unreadable';
    throw invalid('invalid-json', `${where} is not valid JSON: ${reason}`);
  }
}

/** Parses JSON text that must be an object. */
export function parseJsonObject(text: string, where: string, label: string): JsonObject {
  const value = parseJson(text, where);
  const o = obj(value);
  if (!o) throw invalid('invalid-request', `${where} is ${describe(value)}; ${label} sends a JSON object`);
  return o;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a JSON array';
  return `a JSON ${typeof value}`;
}

// ---------------------------------------------------------------------------------------------------------
// Reading parsed values

/** The value when it is a plain JSON object. */
export function obj(v: unknown): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : undefined;
}

/** The value when it is a non-empty string. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A field of an object, own properties only (so `constructor` and friends read as absent). */
export function field(o: JsonObject | undefined, name: string): unknown {
  return o !== undefined && Object.hasOwn(o, name) ? o[name] : undefined;
}

/** An identifier that platforms send as a string or a number: its text, when it is a non-empty string or a safe integer. */
export function idText(v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? String(v) : undefined;
  return str(v);
}

/** A copy of `o` without the named fields. */
export function without(o: JsonObject, names: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(o)) if (!names.includes(key)) out[key] = o[key];
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Building the event

const EVENT_ID = /^[\x21-\x7e]{1,200}$/;

/** A platform's own delivery or event id, which the event id is built from: 1-200 printable ASCII characters. */
export function platformId(v: unknown, display: string, label: string): string {
  const text = idText(v);
  if (text === undefined) throw invalid('invalid-request', `${display} is missing; ${label} identifies every delivery with it`);
  if (!EVENT_ID.test(text)) throw invalid('invalid-request', `${display} "${text.slice(0, 60)}" is not 1-200 printable ASCII characters`);
  return text;
}

/**
 * A stream name from segments: characters outside the stream alphabet become `_`, an empty segment is `_`,
 * and the whole is cut to 256 characters. Platform names (repositories, channels, ids) pass unchanged.
 */
export function streamOf(...segments: string[]): string {
  let stream = segments.map((s) => s.replace(/[^A-Za-z0-9_.:@+=~-]/g, '_').slice(0, 200) || '_').join('/');
  if (stream.length > 256) stream = stream.slice(0, 256).replace(/\/+$/, '');
  assertStreamName(stream, 'the mapped stream');
  return stream;
}

// eslint-disable-next-line no-control-regex -- replacing control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/g;

/** An event type from parts joined by `.`: control characters become `_`, cut to 256. */
export function typeOf(...parts: string[]): string {
  return parts.join('.').replace(CONTROL, '_').slice(0, 256);
}

/** A subject from a platform value: text without control characters, at most 1,024 characters; undefined when empty. */
export function subjectOf(v: unknown): string | undefined {
  const text = idText(v);
  return text === undefined ? undefined : text.replace(CONTROL, '_').slice(0, 1024);
}

/** Latest time the store represents (9999-12-31T23:59:59.999Z): RFC 3339 has four-digit years. */
const MAX_TIME_MS = 253402300799999;

/** RFC 3339 (UTC, milliseconds) of epoch ms, or undefined when the value is not a representable time. */
export function isoFromMs(ms: number): string | undefined {
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIME_MS ? new Date(Math.floor(ms)).toISOString() : undefined;
}

/**
 * A Unix time sent as a number or numeric text, in seconds or in milliseconds told apart by magnitude:
 * 1e11 seconds is the year 5138 and 1e11 ms is 1973, so no real time is ambiguous.
 */
export function isoFromEpoch(v: unknown): string | undefined {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\d{1,16}(\.\d+)?$/.test(v)) n = Number(v);
  else return undefined;
  return isoFromMs(n >= 1e11 ? n : n * 1000);
}

/** An ISO 8601 date-time text; one without a zone designator is taken as UTC (Discord's event timestamps). */
export function isoFromText(v: unknown): string | undefined {
  const text = str(v);
  if (text === undefined || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text)) return undefined;
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : text + 'Z';
  return isoFromMs(Date.parse(zoned));
}

/** Assembles an event, leaving out the optional fields that have no value (the envelope refuses empty ones). */
export function eventOf(e: {
  id: string;
  stream: string;
  type: string;
  time: string | undefined;
  source: string;
  subject?: string | undefined;
  data: unknown;
}): WebhookEvent {
  const out: WebhookEvent = { id: e.id, stream: e.stream, type: e.type, source: e.source, data: e.data };
  if (e.time !== undefined) out.time = e.time;
  if (e.subject !== undefined && e.subject !== '') out.subject = e.subject;
  return out;
}
