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

/** How the pipeline's steps are started (docs/decisions/0008-pipeline-trigger.md). */
export type PipelineTrigger = 'batch' | 'notify';

export interface ReplicateConfig {
  /** Blue events that make a shard ask for replication at once (batch trigger). */
  minEvents: number;
  /** Otherwise, how long after the first blue event it asks (batch trigger). */
  delayMs: number;
  /** Most events one replicate step turns green (whole row segments, at least one). */
  maxEvents: number;
}

export interface CompactConfig {
  /** Live small segments of one partition that start a compaction. */
  minSegments: number;
  /** Most rows of one compacted segment (bounds the compactor's memory). */
  maxRows: number;
  /** How long a retired segment stays readable in R2 for readers that planned before the swap. */
  graceMs: number;
}

/** How the query Worker fans scans out (docs/decisions/0014-query-fan-out.md). */
export type QueryFanOut = 'scanner' | 'inline';

export interface QueryConfig {
  fanOut: QueryFanOut;
  /** Most bytes of replica segments one query may read (after pruning). */
  maxBytes: number;
  /** Most groups one query may build. */
  maxGroups: number;
  /** Most bytes of aggregate state (groups, distinct sets, sketches) one scan or the merge may hold. */
  maxStateBytes: number;
  /** Most events not yet green a `strong` query may add from the shards. */
  maxHotRows: number;
  /** How long a synchronous query may take; an async one gets `asyncTimeoutMs`. */
  timeoutMs: number;
  asyncTimeoutMs: number;
  /** Segments per sub-request at most, and sub-requests per query at most. */
  segmentsPerScan: number;
  maxSubrequests: number;
  /** Byte ranges of a segment closer than this are read with one R2 request (docs/decisions/0016-range-reads.md). */
  rangeGapBytes: number;
  /** How long an async query's result is kept. */
  resultTtlMs: number;
  /** Memory for cached per-segment partial results, per isolate. */
  cacheBytes: number;
}

export interface Config {
  limits: WriteLimits;
  defaultShardCount: number;
  trigger: PipelineTrigger;
  publish: PublishConfig;
  replicate: ReplicateConfig;
  compact: CompactConfig;
  /** How long green events stay in the shard object before they are evicted (red). */
  hotWindowMs: number;
  /** How long a write with ?wait= waits for its colour before answering with what it reached. */
  waitTimeoutMs: number;
  /** Requests per second an API key may make unless its own rate says otherwise (bursts of twice that). */
  keyRatePerSecond: number;
  query: QueryConfig;
}

function int(vars: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = vars[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new RangeError(`configuration ${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

function trigger(raw: string | undefined): PipelineTrigger {
  if (raw === undefined || raw === '') return 'notify';
  if (raw === 'batch' || raw === 'notify') return raw;
  throw new RangeError(`configuration PIPELINE_TRIGGER must be "batch" or "notify", got "${raw}"`);
}

function fanOut(raw: string | undefined): QueryFanOut {
  if (raw === undefined || raw === '') return 'scanner';
  if (raw === 'scanner' || raw === 'inline') return raw;
  throw new RangeError(`configuration QUERY_FAN_OUT must be "scanner" or "inline", got "${raw}"`);
}

/** A Worker var out of its bounds: the operator's to fix, said plainly in every answer until fixed. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const cache = new WeakMap<object, Config>();

export function config(env: Env): Config {
  let found = cache.get(env);
  if (!found) {
    try {
      found = read(env);
    } catch (error) {
      throw error instanceof RangeError ? new ConfigError(error.message) : error;
    }
    cache.set(env, found);
  }
  return found;
}

function read(env: Env): Config {
  const vars = env as unknown as Record<string, string | undefined>;
  return {
    limits: readWriteLimits(vars),
    defaultShardCount: int(vars, 'DEFAULT_SHARD_COUNT', 8, 1, 1024),
    publish: {
      minEvents: int(vars, 'PUBLISH_MIN_EVENTS', 1000, 1, 100_000),
      delayMs: int(vars, 'PUBLISH_DELAY_MS', 250, 0, 600_000),
      maxEvents: int(vars, 'PUBLISH_MAX_EVENTS', 5000, 1, 20_000),
      redriveMs: int(vars, 'REDRIVE_MS', 30_000, 1000, 3_600_000),
    },
    trigger: trigger(vars.PIPELINE_TRIGGER),
    replicate: {
      minEvents: int(vars, 'REPLICATE_MIN_EVENTS', 5000, 1, 1_000_000),
      delayMs: int(vars, 'REPLICATE_DELAY_MS', 1000, 0, 600_000),
      maxEvents: int(vars, 'REPLICATE_MAX_EVENTS', 20_000, 1, 100_000),
    },
    compact: {
      minSegments: int(vars, 'COMPACT_MIN_SEGMENTS', 8, 2, 1000),
      maxRows: int(vars, 'COMPACT_MAX_ROWS', 20_000, 2, 200_000),
      graceMs: int(vars, 'COMPACT_GRACE_MS', 600_000, 0, 86_400_000),
    },
    hotWindowMs: int(vars, 'HOT_WINDOW_MS', 3_600_000, 0, 30 * 86_400_000),
    waitTimeoutMs: int(vars, 'WAIT_TIMEOUT_MS', 10_000, 100, 60_000),
    keyRatePerSecond: int(vars, 'KEY_RATE_PER_SECOND', 200, 1, 1_000_000),
    query: {
      fanOut: fanOut(vars.QUERY_FAN_OUT),
      maxBytes: int(vars, 'QUERY_MAX_BYTES', 8 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
      maxGroups: int(vars, 'QUERY_MAX_GROUPS', 100_000, 1, 10_000_000),
      maxHotRows: int(vars, 'QUERY_MAX_HOT_ROWS', 200_000, 0, 10_000_000),
      maxStateBytes: int(vars, 'QUERY_MAX_STATE_BYTES', 24 * 1024 ** 2, 1024, 64 * 1024 ** 2),
      timeoutMs: int(vars, 'QUERY_TIMEOUT_MS', 30_000, 100, 600_000),
      asyncTimeoutMs: int(vars, 'QUERY_ASYNC_TIMEOUT_MS', 300_000, 100, 3_600_000),
      segmentsPerScan: int(vars, 'QUERY_SEGMENTS_PER_SCAN', 8, 1, 1000),
      maxSubrequests: int(vars, 'QUERY_MAX_SUBREQUESTS', 32, 1, 1000),
      rangeGapBytes: int(vars, 'QUERY_RANGE_GAP_BYTES', 262_144, 0, 1024 ** 3),
      resultTtlMs: int(vars, 'QUERY_RESULT_TTL_MS', 3_600_000, 1000, 30 * 86_400_000),
      cacheBytes: int(vars, 'QUERY_CACHE_BYTES', 24 * 1024 ** 2, 0, 64 * 1024 ** 2),
    },
  };
}
