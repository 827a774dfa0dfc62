// Stable routing of a stream to one of a tenant's shards.

const encoder = new TextEncoder();

/** FNV-1a, 32 bits, over the UTF-8 bytes: stable across runtimes and releases, cheap, well spread. */
export function fnv1a32(text: string): number {
  const bytes = encoder.encode(text);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The shard that owns a stream. Every event of a stream goes to the same shard, which is what lets
 * the shard assign stream versions and check expected versions alone. The count is pinned per
 * tenant (docs/decisions/0003-shard-routing.md): changing it would move streams.
 */
export function shardOf(stream: string, shardCount: number): number {
  if (!Number.isInteger(shardCount) || shardCount < 1) {
    throw new RangeError(`shard count must be a positive integer, got ${shardCount}`);
  }
  return fnv1a32(stream) % shardCount;
}

/** The Durable Object name of a tenant's shard: tenants never share a shard object. */
export function shardName(tenant: string, shard: number): string {
  return `${tenant}/shard/${shard}`;
}
