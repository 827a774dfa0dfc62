// Per-segment partial results, cached. Replica segments are immutable (compaction writes new keys),
// so the partial of (segment, query shape) never goes stale: a repeated query reads nothing again,
// and a query over a growing log scans only the segments that are new since.

import type { Expr, QuerySpec } from './ast.js';
import type { Partial } from './execute.js';

/**
 * What a segment's partial depends on: the row filter, the group keys and the aggregates, and for a
 * query without aggregates its outputs, order and how many rows it keeps. Spans and the SQL text
 * are left out, so the same query written differently shares its partials.
 */
export function fingerprint(spec: QuerySpec): string {
  const strip = (_key: string, value: unknown) => (_key === 'span' ? undefined : value);
  const shape = spec.aggregated
    ? { a: true, w: spec.where, g: spec.groupBy, x: spec.aggregates }
    : {
        a: false,
        w: spec.where,
        o: spec.outputs.map((o) => o.expr as Expr),
        s: spec.orderBy,
        k: spec.limit === null ? null : spec.limit + spec.offset,
      };
  return JSON.stringify(shape, strip);
}

/** What a partial of only the top groups (`topPartial`) also depends on: HAVING, ORDER BY, OFFSET and LIMIT. */
export function fingerprintTop(spec: QuerySpec): string {
  const strip = (_key: string, value: unknown) => (_key === 'span' ? undefined : value);
  return JSON.stringify({ h: spec.having, o: spec.orderBy, l: spec.limit, f: spec.offset }, strip);
}

/** A least-recently-used map of partials bounded by their JSON size. */
export class PartialCache {
  private readonly entries = new Map<string, { partial: Partial; bytes: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): Partial | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.partial;
  }

  /** Keeps `partial` unless it alone is over a quarter of the budget. */
  set(key: string, partial: Partial, bytes: number): void {
    if (bytes > this.maxBytes / 4) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.entries.delete(key);
    }
    this.entries.set(key, { partial, bytes });
    this.bytes += bytes;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.bytes;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
