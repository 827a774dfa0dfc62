// Helpers for integration tests: call the Worker as a client would.
import { exports } from 'cloudflare:workers';
import { expect } from 'vitest';
import { TEST_KEY } from './keys.js';

export const BASE = 'http://store.test';

export { TEST_KEY } from './keys.js';

/** Calls the Worker with `key` (the default tenant's test key unless null or an Authorization header is given). */
export function call(path: string, init: RequestInit = {}, key: string | null = TEST_KEY): Promise<Response> {
  const headers = new Headers(init.headers);
  if (key !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${key}`);
  return exports.default.fetch(new Request(BASE + path, { ...init, headers }));
}

export function post(path: string, body: unknown, headers: Record<string, string> = {}, key: string | null = TEST_KEY): Promise<Response> {
  return call(
    path,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    },
    key,
  );
}

export interface Appended {
  id: string;
  stream: string;
  version: number;
  shard: number;
  seq: number;
  status: string;
  duplicate: boolean;
}

export async function appended(res: Response): Promise<Appended[]> {
  expect(res.status, await res.clone().text()).toBe(202);
  return ((await res.json()) as { events: Appended[] }).events;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [k: string]: unknown;
}

export async function problem(res: Response, status: number): Promise<Problem> {
  expect(res.status, await res.clone().text()).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const doc = (await res.json()) as Problem;
  expect(doc.status).toBe(status);
  expect(doc.type).toMatch(/^https:\/\/eventstore\.dev\/problems\/[a-z-]+$/);
  expect(doc.detail.length).toBeGreaterThan(10);
  return doc;
}

/** Total events accepted by the tenant, across shards: what a refused request must not change. */
export async function totalAccepted(): Promise<number> {
  const res = await call('/v1/status');
  const status = (await res.json()) as { shards: { headSeq: number }[] };
  return status.shards.reduce((n, s) => n + s.headSeq, 0);
}

let counter = 0;
/** A stream name no other test uses. */
export const freshStream = (prefix = 'post') => `${prefix}-${Date.now().toString(36)}-${counter++}`;
