// Event ids: UUIDv7 (RFC 9562) when the caller gives none, with clock and randomness passed in.

export type Clock = () => number;
export type RandomFill = (bytes: Uint8Array) => Uint8Array;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Makes a UUIDv7 generator. Ids from one generator sort in creation order, even within one
 * millisecond (the 12-bit `rand_a` field is a counter seeded randomly each millisecond, RFC 9562
 * §6.2 method 1), so ids minted for one batch keep the batch order.
 */
export function uuidv7Generator(now: Clock, fill: RandomFill): () => string {
  let lastMs = -1;
  let counter = 0;
  const bytes = new Uint8Array(16);
  return () => {
    let ms = now();
    if (ms > lastMs) {
      lastMs = ms;
      fill(bytes);
      counter = ((bytes[6]! & 0x0f) << 8) | bytes[7]!;
      counter &= 0x7ff; // leave head-room so a busy millisecond rarely overflows
    } else {
      ms = lastMs; // the clock went back or stood still: stay monotonic
      counter++;
      if (counter > 0xfff) {
        lastMs++;
        ms = lastMs;
        counter = 0;
      }
      fill(bytes);
    }
    bytes[0] = (ms / 2 ** 40) & 0xff;
    bytes[1] = (ms / 2 ** 32) & 0xff;
    bytes[2] = (ms >>> 24) & 0xff;
    bytes[3] = (ms >>> 16) & 0xff;
    bytes[4] = (ms >>> 8) & 0xff;
    bytes[5] = ms & 0xff;
    bytes[6] = 0x70 | (counter >>> 8);
    bytes[7] = counter & 0xff;
    bytes[8] = 0x80 | (bytes[8]! & 0x3f);
    return formatUuid(bytes);
  };
}

/** The generator the Workers use: wall clock and Web Crypto randomness. */
export function systemUuidv7(): () => string {
  return uuidv7Generator(Date.now, (b) => crypto.getRandomValues(b));
}

function formatUuid(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += HEX[bytes[i]!];
  }
  return s;
}

/**
 * Ids for a retried request that carries an `Idempotency-Key` but no event ids: a UUIDv8 built from
 * a digest of the key (at least 16 bytes) and the event's index, so the retry mints the same ids
 * and dedupe recognises it.
 */
export function idempotentIds(keyDigest: Uint8Array): (index: number) => string {
  if (keyDigest.byteLength < 16) throw new RangeError(`key digest has ${keyDigest.byteLength} bytes, need 16`);
  return (index) => {
    const bytes = keyDigest.slice(0, 16);
    bytes[12]! ^= (index >>> 24) & 0xff;
    bytes[13]! ^= (index >>> 16) & 0xff;
    bytes[14]! ^= (index >>> 8) & 0xff;
    bytes[15]! ^= index & 0xff;
    bytes[6] = 0x80 | (bytes[6]! & 0x0f);
    bytes[8] = 0x80 | (bytes[8]! & 0x3f);
    return formatUuid(bytes);
  };
}
