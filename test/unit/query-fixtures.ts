// Shared fixtures of the query engine's unit tests: webhook-like replica rows and a small builder of
// analysed QuerySpecs (hand-built, so the executor and planner are tested apart from the parser).
import type { AggregateCall, BinaryOp, DateUnit, Expr, OrderItem, QuerySpec, Scalar, SqlType } from '../../src/engine/query/ast.js';
import type { EncodedParquet, ReplicaRow } from '../../src/engine/parquet.js';
import type { PlanSegment, RowGroupStats } from '../../src/engine/query/plan.js';

/** Small deterministic PRNG (mulberry32). */
export function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const TYPES = ['post.created', 'post.liked', 'post.liked', 'post.commented', 'member.joined', 'ünïcødé.✓'];
// Code unit order and code point order disagree on these two: U+FF21 > U+1F600 in UTF-16, < in UTF-8.
export const STREAMS = ['post-1', 'post-2', 'post-Ａ', 'post-😀', 'group-7', 'group-чат', 'post-3', 'post-4'];
export const BASE_TIME = Date.UTC(2026, 10, 1, 8);

/** Webhook-like rows of one shard over a few days. */
export function generate(n: number, seed: number, shard: number, firstSeq = 1): ReplicaRow[] {
  const r = rng(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(r() * list.length)]!;
  const versions = new Map<string, number>();
  return Array.from({ length: n }, (_, i) => {
    const stream = pick(STREAMS);
    const version = (versions.get(stream) ?? 0) + 1;
    versions.set(stream, version);
    const data: Record<string, unknown> = {
      likes: Math.floor(r() * 1000),
      score: i % 10 === 0 ? null : Math.floor(r() * 400) / 4, // exact in binary: sums are exact
      mixed: i % 3 === 0 ? 'many' : 7,
      user: { name: pick(['Ada', 'Bea', 'Chen', 'Dara ✓', '😀 Eli']), verified: r() < 0.2, handle: `h${i % 5000}` },
    };
    const t = BASE_TIME + Math.floor((i * 3 * 86_400_000) / n) + seed * 1000;
    return {
      seq: firstSeq + i,
      id: `evt-${shard}-${String(i).padStart(6, '0')}`,
      stream,
      version,
      type: pick(TYPES),
      source: r() < 0.2 ? null : pick(['https://github.com', 'https://slack.com/ä']),
      subject: r() < 0.7 ? null : `subject-${i % 13}`,
      time: t,
      receivedAt: t + 500,
      data: JSON.stringify(data),
      shard,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Expr builders

const span = { start: 0, end: 0 };
export const col = (name: Extract<Expr, { kind: 'column' }>['name']): Expr => ({ kind: 'column', name, span });
export const path = (p: string): Expr => ({ kind: 'path', path: p.split('.'), span });
export function lit(value: Scalar, type?: SqlType): Expr {
  const t: SqlType =
    type ??
    (value === null
      ? 'null'
      : typeof value === 'number'
        ? Number.isInteger(value)
          ? 'integer'
          : 'double'
        : typeof value === 'string'
          ? 'string'
          : 'boolean');
  return { kind: 'literal', value, type: t, span };
}
export const ts = (iso: string): Expr => lit(Date.parse(iso), 'timestamp');
export const bin = (op: BinaryOp, left: Expr, right: Expr): Expr => ({ kind: 'binary', op, left, right, span });
export const and = (...xs: Expr[]): Expr => xs.reduce((a, b) => bin('and', a, b));
export const or = (...xs: Expr[]): Expr => xs.reduce((a, b) => bin('or', a, b));
export const not = (arg: Expr): Expr => ({ kind: 'unary', op: 'not', arg, span });
export const inList = (arg: Expr, list: Scalar[], negated = false): Expr => ({
  kind: 'in',
  arg,
  list: list.map((v) => lit(v)),
  negated,
  span,
});
export const between = (arg: Expr, low: Expr, high: Expr, negated = false): Expr => ({ kind: 'between', arg, low, high, negated, span });
export const like = (arg: Expr, pattern: string, o: { escape?: string; ci?: boolean; negated?: boolean } = {}): Expr => ({
  kind: 'like',
  arg,
  pattern,
  escape: o.escape ?? null,
  negated: o.negated ?? false,
  caseInsensitive: o.ci ?? false,
  span,
});
export const isNull = (arg: Expr, negated = false): Expr => ({ kind: 'isNull', arg, negated, span });
export const fn = (name: Extract<Expr, { kind: 'call' }>['name'], ...args: Expr[]): Expr => ({ kind: 'call', name, args, span });
export const trunc = (unit: DateUnit, arg: Expr): Expr => ({ kind: 'call', name: 'date_trunc', unit, args: [lit(unit), arg], span });
export const cast = (arg: Expr, to: Extract<Expr, { kind: 'cast' }>['to']): Expr => ({ kind: 'cast', arg, to, span });
export const g = (index: number): Expr => ({ kind: 'groupRef', index, span });
export const a = (index: number): Expr => ({ kind: 'aggRef', index, span });
export const agg = (fnName: AggregateCall['fn'], arg: Expr | null, distinct = false, q?: number): AggregateCall => ({
  fn: fnName,
  arg,
  distinct,
  ...(q === undefined ? {} : { q }),
});
export const asc = (expr: Expr, desc = false, nullsFirst = false): OrderItem => ({ expr, desc, nullsFirst });

function walk(e: Expr | null, columns: Set<string>, paths: Set<string>): void {
  if (!e) return;
  if (e.kind === 'column') columns.add(e.name);
  if (e.kind === 'path') paths.add(e.path.join('.'));
  for (const v of Object.values(e)) {
    if (v && typeof v === 'object' && 'kind' in v) walk(v as Expr, columns, paths);
    if (Array.isArray(v))
      for (const x of v) {
        if (x && typeof x === 'object' && 'kind' in x) walk(x as Expr, columns, paths);
        if (x && typeof x === 'object' && 'when' in x) {
          walk(x.when as Expr, columns, paths);
          walk(x.then as Expr, columns, paths);
        }
      }
  }
}

/** A QuerySpec with columns and paths filled in from its row-level expressions. */
export function spec(s: {
  outputs: { name: string; expr: Expr; type: SqlType }[];
  where?: Expr | null;
  groupBy?: Expr[];
  aggregates?: AggregateCall[];
  having?: Expr | null;
  orderBy?: OrderItem[];
  limit?: number | null;
  offset?: number;
}): QuerySpec {
  const aggregated = (s.aggregates?.length ?? 0) > 0 || (s.groupBy?.length ?? 0) > 0;
  const columns = new Set<string>();
  const paths = new Set<string>();
  walk(s.where ?? null, columns, paths);
  for (const e of s.groupBy ?? []) walk(e, columns, paths);
  for (const x of s.aggregates ?? []) walk(x.arg, columns, paths);
  if (!aggregated) {
    for (const o of s.outputs) walk(o.expr, columns, paths);
    for (const o of s.orderBy ?? []) walk(o.expr, columns, paths);
  }
  return {
    sql: '',
    aggregated,
    outputs: s.outputs,
    where: s.where ?? null,
    groupBy: s.groupBy ?? [],
    aggregates: s.aggregates ?? [],
    having: s.having ?? null,
    orderBy: s.orderBy ?? [],
    limit: s.limit ?? null,
    offset: s.offset ?? 0,
    columns: [...columns] as QuerySpec['columns'],
    paths: [...paths],
  };
}

/**
 * The catalog row the planner sees for a file of `rows` (one shard, seq order) encoded as `encoded`,
 * with per-row-group statistics when given (and not empty).
 */
export function planSegmentOf(
  key: string,
  rows: readonly ReplicaRow[],
  encoded: EncodedParquet,
  rowGroupStats?: RowGroupStats[],
): PlanSegment {
  return {
    key,
    kind: 'replica',
    shard: rows[0]!.shard,
    date: null,
    firstSeq: rows[0]!.seq,
    lastSeq: rows[rows.length - 1]!.seq,
    minTime: encoded.stats.time!.min as number,
    maxTime: encoded.stats.time!.max as number,
    rows: rows.length,
    bytes: encoded.bytes.length,
    stats: {
      columns: encoded.stats,
      shredded: encoded.shredded,
      rowGroups: encoded.rowGroups,
      ...(rowGroupStats && rowGroupStats.length > 0 ? { rowGroupStats } : {}),
    },
  };
}
