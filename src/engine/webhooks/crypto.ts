// The cryptography of the adapters, on the global WebCrypto (the same API in workerd and in Node 24), plus strict codecs.

const encoder = new TextEncoder();

export const utf8 = (text: string): Uint8Array => encoder.encode(text);

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.byteLength;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Imported HMAC keys by secret: a source's secret signs every delivery, and importing it each time
 * cost the webhook route more than the signature itself. Bounded: cleared when full.
 */
const hmacKeys = new Map<string, CryptoKey>();
const HMAC_KEYS_MAX = 1000;

/** HMAC-SHA256 of `message` under `key` (text keys are taken as their UTF-8 bytes, as every platform here does). */
export async function hmacSha256(key: Uint8Array | string, message: Uint8Array): Promise<Uint8Array> {
  const id = typeof key === 'string' ? `t:${key}` : `b:${bytesToHex(key)}`;
  // The key itself is kept, never a pending promise: a promise begun by one request must not be
  // awaited by another in workerd.
  let cryptoKey = hmacKeys.get(id);
  if (!cryptoKey) {
    const raw = typeof key === 'string' ? utf8(key) : key;
    cryptoKey = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    if (hmacKeys.size >= HMAC_KEYS_MAX) hmacKeys.clear();
    hmacKeys.set(id, cryptoKey);
  }
  return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, message));
}

export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

/**
 * Compares two byte strings in time that depends only on their lengths, never on where they differ: the
 * lengths compared here are those of digests and signatures, which are public, so only the content is hidden.
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * True when any candidate equals `expected`. Every candidate is compared, so the time does not tell
 * which one matched (Stripe and Standard Webhooks send several signatures during a secret rotation).
 */
export function matchesAny(expected: Uint8Array, candidates: readonly Uint8Array[]): boolean {
  let found = false;
  for (const c of candidates) found = timingSafeEqual(expected, c) || found;
  return found;
}

/** Secret text compared without leaking its length or content: both sides are hashed first. */
export async function secretTextEquals(given: string, configured: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256(utf8(given)), sha256(utf8(configured))]);
  return timingSafeEqual(a, b);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX[b]!;
  return s;
}

/** Decodes hex of exactly `length` bytes (either case); null for anything else. */
export function hexToBytes(hex: string, length: number): Uint8Array | null {
  if (hex.length !== length * 2 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Decodes standard base64 (padding optional); null when the text is not base64 or not `length` bytes (when given). */
export function base64ToBytes(text: string, length?: number): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return null;
  }
  if (length !== undefined && binary.length !== length) return null;
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * Ed25519 verification through WebCrypto's standard `Ed25519` algorithm (Node 24, and workerd, which also
 * knows the older `NODE-ED25519`). Any failure to verify, including a key WebCrypto refuses, is `false`:
 * workerd throws on a signature of the wrong length where Node answers false, so callers check lengths first
 * and this stays total.
 */
export async function verifyEd25519(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): Promise<boolean> {
  try {
    const key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
    return await crypto.subtle.verify('Ed25519', key, signature, message);
  } catch {
    return false;
  }
}

/**
 * An event id for a platform that gives none: `<prefix>:` and 32 hex digits (128 bits) of the SHA-256 of the
 * parts as JSON. The parts are what identifies the fact, so the same delivery always maps to the same id.
 */
export async function digestId(prefix: string, parts: readonly unknown[]): Promise<string> {
  const digest = await sha256(utf8(JSON.stringify(parts)));
  return `${prefix}:${bytesToHex(digest.subarray(0, 16))}`;
}
