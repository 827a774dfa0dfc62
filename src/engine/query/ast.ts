// The query language's shapes, shared by the parser (sql.ts), the aggregates (aggregates.ts), the
// planner (plan.ts) and the executor (execute.ts). Plain data only: a plan, a spec and a partial
// result cross sub-request boundaries as JSON.
//
// The table is `events(id, stream, type, source, subject, time, received_at, shard, seq, version,
// data)` (DESIGN.md §3). `data.a.b` and `json_extract(data, '$.a.b')` both become a `path`.

import type { EventColumn } from '../parquet.js';

export { EVENT_COLUMNS, type EventColumn } from '../parquet.js';

/**
 * A SQL value as the engine carries it between steps and returns it: numbers (integers and doubles),
 * strings, booleans, null. Timestamps travel as epoch milliseconds inside the engine and are typed
 * `timestamp` by the analyser; results render them as ISO-8601 strings (`2026-11-26T14:00:00.000Z`).
 */
export type Scalar = number | string | boolean | null;

/** The static types the analyser assigns. `json` is a `data` path whose type is only known per row. */
export type SqlType = 'integer' | 'double' | 'string' | 'boolean' | 'timestamp' | 'json' | 'null';

/** Where a construct sits in the SQL text: character offsets, `end` exclusive. */
export interface Span {
  start: number;
  end: number;
}

export type BinaryOp = '=' | '<>' | '<' | '<=' | '>' | '>=' | 'and' | 'or' | '+' | '-' | '*' | '/' | '%' | '||';

export type AggregateFn =
  | 'count' // count(*) has arg null; count(x) counts non-null x; count(DISTINCT x)
  | 'sum'
  | 'avg'
  | 'min'
  | 'max'
  | 'approx_count_distinct'
  | 'approx_quantile';

export type DateUnit = 'millisecond' | 'second' | 'minute' | 'hour' | 'day' | 'week' | 'month' | 'quarter' | 'year';

/** A row-level or post-aggregation expression. */
export type Expr =
  | { kind: 'column'; name: EventColumn; span: Span }
  /** A field inside `data`: `data.post.id` → ['post', 'id']. */
  | { kind: 'path'; path: string[]; span: Span }
  /** `TIMESTAMP '…'` literals and strings compared with a timestamp carry type 'timestamp' and epoch ms. */
  | { kind: 'literal'; value: Scalar; type: SqlType; span: Span }
  | { kind: 'unary'; op: 'not' | 'neg'; arg: Expr; span: Span }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; span: Span }
  | { kind: 'in'; arg: Expr; list: Expr[]; negated: boolean; span: Span }
  | { kind: 'between'; arg: Expr; low: Expr; high: Expr; negated: boolean; span: Span }
  /** `pattern` is the SQL LIKE pattern (`%`, `_`, optional ESCAPE char folded into `escape`). */
  | { kind: 'like'; arg: Expr; pattern: string; escape: string | null; negated: boolean; caseInsensitive: boolean; span: Span }
  | { kind: 'isNull'; arg: Expr; negated: boolean; span: Span }
  | { kind: 'cast'; arg: Expr; to: Exclude<SqlType, 'json' | 'null'>; span: Span }
  /** Scalar functions: date_trunc(unit, ts), lower, upper, length, coalesce, abs, round. */
  | { kind: 'call'; name: ScalarFn; args: Expr[]; unit?: DateUnit; span: Span }
  | { kind: 'case'; whens: { when: Expr; then: Expr }[]; otherwise: Expr | null; span: Span }
  /** Only in the parser's output; the analyser replaces each with an `aggRef`. */
  | { kind: 'aggregate'; call: AggregateCall; span: Span }
  /** Post-aggregation: the value of group key `index` (spec.groupBy[index]). */
  | { kind: 'groupRef'; index: number; span: Span }
  /** Post-aggregation: the result of aggregate `index` (spec.aggregates[index]). */
  | { kind: 'aggRef'; index: number; span: Span };

export type ScalarFn = 'date_trunc' | 'lower' | 'upper' | 'length' | 'coalesce' | 'abs' | 'round';

export interface AggregateCall {
  fn: AggregateFn;
  /** null only for count(*). */
  arg: Expr | null;
  distinct: boolean;
  /** approx_quantile's q in [0, 1]. */
  q?: number;
}

export interface OrderItem {
  expr: Expr;
  desc: boolean;
  /** DuckDB's default: NULLS LAST for both directions. */
  nullsFirst: boolean;
}

/** The parser's output: the statement as written (aggregates still inline). */
export interface SelectStatement {
  items: { expr: Expr; alias: string | null; span: Span }[] | 'star';
  where: Expr | null;
  groupBy: Expr[];
  having: Expr | null;
  orderBy: OrderItem[];
  limit: number | null;
  offset: number;
}

/**
 * The analyser's output, what the planner and the executor work from. Row-level expressions
 * (`where`, `groupBy`, aggregate arguments, and, when `aggregated` is false, `outputs` and `orderBy`)
 * reference columns and paths. Post-aggregation expressions (`outputs`, `having`, `orderBy` when
 * `aggregated`) reference only `groupRef`, `aggRef` and literals.
 */
export interface QuerySpec {
  sql: string;
  aggregated: boolean;
  outputs: { name: string; expr: Expr; type: SqlType }[];
  where: Expr | null;
  groupBy: Expr[];
  aggregates: AggregateCall[];
  having: Expr | null;
  orderBy: OrderItem[];
  limit: number | null;
  offset: number;
  /**
   * The base columns the row-level expressions name directly (`data` only when `data` itself is
   * used). Paths are listed apart: per segment the planner reads a path from its shredded
   * `data.<path>` column when the segment has one, else from `data`.
   */
  columns: EventColumn[];
  /** The `data` paths the row-level expressions read, each once, as dotted names ('post.id'). */
  paths: string[];
}

/** A SQL error the caller can fix: where, and what is supported. Becomes a 400 problem document. */
export class SqlError extends Error {
  constructor(
    message: string,
    readonly span: Span,
    /** A hint: what is supported there. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'SqlError';
  }
}
