// API keys: their format, their hash, their scopes, and the per-key request rate.
//
// A key is `esk_` + 32 random bytes in base64url: 256 bits, so the store keeps only its SHA-256
// (no salt or slow hash is needed for a random secret of that size) and looks keys up by it.

export const SCOPES = ['write', 'read', 'query', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const KEY_PREFIX = 'esk_';
const KEY_PATTERN = /^esk_[A-Za-z0-9_-]{43}$/;

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A new key from 32 random bytes (passed in, so tests can fix them). */
export function newApiKey(random: Uint8Array): string {
  if (random.length !== 32) throw new RangeError('an API key takes 32 random bytes');
  return KEY_PREFIX + base64url(random);
}

/** Whether a bearer token has the shape of a key (checked before any lookup). */
export function looksLikeApiKey(token: string): boolean {
  return KEY_PATTERN.test(token);
}

/** SHA-256 of the key, lower-case hex: what the catalog stores and looks up. */
export async function hashApiKey(key: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The public id of a key, safe to show and log: the first 12 hex digits of its hash. */
export function apiKeyId(hash: string): string {
  return `key_${hash.slice(0, 12)}`;
}

/** Parses a scope list ("write,read" or an array); throws a RangeError naming what is wrong. */
export function parseScopes(input: string | readonly string[]): Scope[] {
  const list = typeof input === 'string' ? input.split(',').map((s) => s.trim()) : [...input];
  if (list.length === 0 || list.every((s) => s === '')) throw new RangeError(`give at least one scope of ${SCOPES.join(', ')}`);
  const out = new Set<Scope>();
  for (const s of list) {
    if (!(SCOPES as readonly string[]).includes(s)) throw new RangeError(`unknown scope "${s}"; scopes are ${SCOPES.join(', ')}`);
    out.add(s as Scope);
  }
  return SCOPES.filter((s) => out.has(s));
}

/**
 * A token bucket: `rate` requests per second on average, bursts up to `burst`. `take` answers 0
 * when a request may go, else the seconds until one may (for Retry-After).
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  take(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / this.rate);
  }
}
