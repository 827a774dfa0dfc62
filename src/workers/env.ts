// Configuration read from the Worker's bindings once per isolate and validated when read.

import { readWriteLimits, type WriteLimits } from '../engine/limits.js';

export interface Config {
  limits: WriteLimits;
  defaultTenant: string;
  defaultShardCount: number;
}

const cache = new WeakMap<object, Config>();

export function config(env: Env): Config {
  let found = cache.get(env);
  if (!found) {
    const vars = env as unknown as Record<string, string | undefined>;
    const shards = Number(vars.DEFAULT_SHARD_COUNT ?? '8');
    if (!Number.isInteger(shards) || shards < 1 || shards > 1024) {
      throw new RangeError(`configuration DEFAULT_SHARD_COUNT must be an integer from 1 to 1024, got "${vars.DEFAULT_SHARD_COUNT}"`);
    }
    found = { limits: readWriteLimits(vars), defaultTenant: vars.DEFAULT_TENANT || 'default', defaultShardCount: shards };
    cache.set(env, found);
  }
  return found;
}
