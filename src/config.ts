// Configuration read from the Worker's bindings once per isolate and validated when read.

import { readWriteLimits, type WriteLimits } from './engine/limits.js';

export interface PublishConfig {
  /** Grey events that make a shard ask for publishing at once. */
  minEvents: number;
  /** Otherwise, how long after the first grey event it asks. */
  delayMs: number;
  /** Most events in one row segment. */
  maxEvents: number;
  /** How long a shard with grey events waits before asking again (lost messages). */
  redriveMs: number;
}

export interface Config {
  limits: WriteLimits;
  defaultTenant: string;
  defaultShardCount: number;
  publish: PublishConfig;
}

function int(vars: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = vars[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new RangeError(`configuration ${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

const cache = new WeakMap<object, Config>();

export function config(env: Env): Config {
  let found = cache.get(env);
  if (!found) {
    const vars = env as unknown as Record<string, string | undefined>;
    found = {
      limits: readWriteLimits(vars),
      defaultTenant: vars.DEFAULT_TENANT || 'default',
      defaultShardCount: int(vars, 'DEFAULT_SHARD_COUNT', 8, 1, 1024),
      publish: {
        minEvents: int(vars, 'PUBLISH_MIN_EVENTS', 1000, 1, 100_000),
        delayMs: int(vars, 'PUBLISH_DELAY_MS', 250, 0, 600_000),
        maxEvents: int(vars, 'PUBLISH_MAX_EVENTS', 5000, 1, 20_000),
        redriveMs: int(vars, 'REDRIVE_MS', 30_000, 1000, 3_600_000),
      },
    };
    cache.set(env, found);
  }
  return found;
}
