// The write limits, validated once when the configuration is read, not when first used.

export interface WriteLimits {
  /** Largest request body accepted, in bytes. */
  maxRequestBytes: number;
  /** Largest serialized `data` of one event, in UTF-8 bytes. */
  maxEventBytes: number;
  /** Most events in one request. */
  maxEventsPerRequest: number;
  /** Deepest nesting of arrays and objects inside `data`. */
  maxDataDepth: number;
}

export const DEFAULT_LIMITS: WriteLimits = {
  maxRequestBytes: 4 * 1024 * 1024,
  maxEventBytes: 256 * 1024,
  maxEventsPerRequest: 1000,
  maxDataDepth: 32,
};

function positiveInt(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new RangeError(`configuration ${name} must be an integer from 1 to ${max}, got "${raw}"`);
  }
  return n;
}

/** Reads the limits from Worker vars; throws on a value that is not a sane positive integer. */
export function readWriteLimits(vars: Partial<Record<string, string>>): WriteLimits {
  const limits = {
    maxRequestBytes: positiveInt('MAX_REQUEST_BYTES', vars.MAX_REQUEST_BYTES, DEFAULT_LIMITS.maxRequestBytes, 32 * 1024 * 1024),
    // A shard row may hold 2 MB; keep one event well inside it.
    maxEventBytes: positiveInt('MAX_EVENT_BYTES', vars.MAX_EVENT_BYTES, DEFAULT_LIMITS.maxEventBytes, 1024 * 1024),
    maxEventsPerRequest: positiveInt('MAX_EVENTS_PER_REQUEST', vars.MAX_EVENTS_PER_REQUEST, DEFAULT_LIMITS.maxEventsPerRequest, 10_000),
    maxDataDepth: positiveInt('MAX_DATA_DEPTH', vars.MAX_DATA_DEPTH, DEFAULT_LIMITS.maxDataDepth, 256),
  };
  if (limits.maxEventBytes > limits.maxRequestBytes) {
    throw new RangeError(`MAX_EVENT_BYTES (${limits.maxEventBytes}) exceeds MAX_REQUEST_BYTES (${limits.maxRequestBytes})`);
  }
  return limits;
}
