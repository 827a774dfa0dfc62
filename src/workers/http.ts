// HTTP plumbing shared by the Workers: bounded body reading and RFC 9457 problem responses.

import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ProblemError, problemDocument, type ProblemType } from '../engine/problem.js';
import { ConfigError } from '../config.js';

export const PROBLEM_JSON = 'application/problem+json';

export function problemResponse(error: ProblemError, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(error.toDocument()), {
    status: error.status,
    headers: { 'content-type': PROBLEM_JSON, ...headers },
  });
}

const HTTP_TYPES: Record<number, ProblemType> = {
  400: 'invalid-request',
  404: 'not-found',
  405: 'method-not-allowed',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
};

/** The single error handler: every refusal leaves as a problem document, never an HTML page. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof ProblemError) {
    if (err.status === 503) return problemResponse(err, { 'retry-after': '1' });
    if (err.status === 429) return problemResponse(err, { 'retry-after': String(err.extensions?.retryAfterSeconds ?? 1) });
    if (err.status === 401 && err.type === 'unauthorized')
      return problemResponse(err, { 'www-authenticate': 'Bearer realm="event-store"' });
    return problemResponse(err);
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const type = HTTP_TYPES[status] ?? (status >= 500 ? 'internal' : 'invalid-request');
    return problemResponse(new ProblemError(status, type, err.message || 'the request was refused'));
  }
  if (err instanceof ConfigError) {
    console.error(JSON.stringify({ msg: 'misconfigured', error: err.message }));
    return problemResponse(new ProblemError(500, 'internal', `the store is misconfigured: ${err.message}; fix it in wrangler.toml`));
  }
  console.error(JSON.stringify({ msg: 'unhandled error', path: c.req.path, error: String(err), stack: err.stack }));
  return problemResponse(new ProblemError(500, 'internal', 'an unexpected error occurred; it was logged'));
}

export function notFound(c: Context): Response {
  return new Response(JSON.stringify(problemDocument(404, 'not-found', `no route for ${c.req.method} ${c.req.path}; see /openapi.json`)), {
    status: 404,
    headers: { 'content-type': PROBLEM_JSON },
  });
}

/** JSON media types we read: application/json and any application/*+json, UTF-8 only. */
export function assertJsonContentType(header: string | undefined, accepted = 'application/json'): void {
  const [type = '', ...params] = (header ?? '').split(';');
  const media = type.trim().toLowerCase();
  if (media !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(media)) {
    throw new ProblemError(415, 'unsupported-media-type', `Content-Type must be ${accepted}; got "${(header ?? '(none)').slice(0, 100)}"`);
  }
  for (const p of params) {
    const [k, v] = p.split('=').map((s) => s.trim().toLowerCase());
    if (k === 'charset' && v !== 'utf-8' && v !== '"utf-8"' && v !== 'utf8') {
      throw new ProblemError(415, 'unsupported-media-type', `only charset=utf-8 is accepted; got charset=${v}`);
    }
  }
}

/** Reads at most `maxBytes` of the body, without buffering more than that, whatever Content-Length says. */
export async function readBodyBytes(request: Request, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new ProblemError(413, 'payload-too-large', `the body is larger than ${maxBytes} bytes; split it into smaller requests`, {
      limit: maxBytes,
    });
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decodes strict UTF-8 and parses JSON, with errors that say what is wrong with the body. */
export function parseJsonBody(bytes: Uint8Array): unknown {
  if (bytes.byteLength === 0) throw new ProblemError(400, 'invalid-json', 'the body is empty; send a JSON event or an array of events');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new ProblemError(400, 'invalid-encoding', 'the body is not valid UTF-8; encode it as UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ProblemError(400, 'invalid-json', `the body is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
}

export async function readJsonBody(c: Context, maxBytes: number): Promise<unknown> {
  assertJsonContentType(c.req.header('content-type'));
  return parseJsonBody(await readBodyBytes(c.req.raw, maxBytes));
}

/**
 * The OpenAPI apps' answer to a request their schemas refuse: a problem document naming each
 * offending field, like every other refusal (zod-openapi's own answer is plain JSON).
 */
export function refuseInvalid(result: { success: boolean; error?: unknown; target?: string }): void {
  if (result.success) return;
  const issues = ((result.error as { issues?: { path: PropertyKey[]; message: string }[] } | undefined)?.issues ?? []).slice(0, 10);
  const where = result.target === 'json' ? 'body' : (result.target ?? 'request');
  const detail = issues.length
    ? issues.map((i) => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ')
    : `the ${where} does not match the schema in /openapi.json`;
  throw new ProblemError(400, 'invalid-request', detail.slice(0, 1000));
}
