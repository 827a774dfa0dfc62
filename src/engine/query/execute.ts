// The query executor: scans batches into a partial result, merges partials, and finishes them.
//
// A scan sub-request runs `scanBatch` over each batch of its segments (Parquet row groups through
// `scanParquet`, hot rows through `scanRows`) into one `PartialBuilder`, and returns its `Partial`:
// plain JSON, either aggregate states per group or (for queries without aggregates) the candidate
// output rows. The coordinator folds partials with `mergePartials` in any order and calls `finish`
// for the answer: post-aggregation outputs, HAVING, ORDER BY (NULLS LAST unless told, strings by
// code point), OFFSET and LIMIT, timestamps rendered as ISO-8601.
//
// The hot loop stays on integers: WHERE becomes a selection vector (Int32Array of row indexes);
// group keys become per-batch integer codes (a dictionary column's codes as they are, several keys
// combined arithmetically, numbers through one Map per batch), so strings are looked at once per
// distinct key and batch; rows are bucketed by group with a counting sort and each aggregate is fed
// a group's rows through its typed-array entry point (`addNumbers`, `addDictionary`, `addCount`).

import { ParquetFile } from 'parquet-wasm/esm';
import { tableFromIPC } from 'apache-arrow';
import { fileOfRanges, type ReplicaRow } from '../parquet.js';
import type { AggregateCall, Expr, OrderItem, QuerySpec, Scalar, SqlType } from './ast.js';
import { staticType } from './analyse.js';
import { accumulatorFromState, aggregateResultType, createAccumulator, type Accumulator, type AggState } from './aggregates.js';
import {
  anyVector,
  batchFromArrow,
  batchFromRows,
  batchOf,
  compareValues,
  Evaluator,
  formatTimestamp,
  valueAt,
  type Batch,
  type ColumnVector,
} from './expr.js';

// ---------------------------------------------------------------------------------------------
// Shapes

/** Counters a scan reports. */
export interface ScanCounters {
  rowsScanned: number;
  rowsMatched: number;
  batches: number;
}

/**
 * A partial result as it crosses a sub-request boundary (JSON-safe). `groups` for aggregated
 * queries (each group's key values and one state per spec aggregate), `rows` otherwise (each row the
 * output values followed by the ORDER BY values).
 */
export type Partial = ({ groups: [keys: Scalar[], states: AggState[]][] } | { rows: Scalar[][] }) &
  ScanCounters & {
    /**
     * The NaN and ±Infinity among the group keys or rows (`version / 0` as a key), which JSON cannot
     * hold: [group or row index, value index, the number as text]. In `groups`/`rows` they may read null.
     */
    nonFinite?: [number, number, 'NaN' | 'Infinity' | '-Infinity'][];
  };

/** Where `lists` hold non-finite numbers, for `Partial.nonFinite`; undefined when nowhere. */
function nonFiniteOf(lists: readonly (readonly Scalar[])[]): Partial['nonFinite'] {
  let out: NonNullable<Partial['nonFinite']> | undefined;
  lists.forEach((list, i) =>
    list.forEach((v, k) => {
      if (typeof v === 'number' && !Number.isFinite(v)) (out ??= []).push([i, k, String(v) as 'NaN' | 'Infinity' | '-Infinity']);
    }),
  );
  return out;
}

/** `lists` with the non-finite numbers of `nonFinite` put back (copies of the lists it touches). */
function withNonFinite(lists: Scalar[][], nonFinite: Partial['nonFinite']): Scalar[][] {
  if (!nonFinite || nonFinite.length === 0) return lists;
  const out = lists.slice();
  for (const [i, k, text] of nonFinite) {
    if (out[i] === lists[i]) out[i] = lists[i]!.slice();
    out[i]![k] = Number(text);
  }
  return out;
}

/** The answer of a query. */
export interface QueryResult {
  columns: { name: string; type: SqlType }[];
  rows: Scalar[][];
}

/** Bounds a scan or merge enforces. */
export interface ExecuteLimits {
  /** Most groups one partial may hold. */
  maxGroups?: number;
  /** Most candidate rows a non-aggregated query without LIMIT may collect. */
  maxRows?: number;
}

/** A query went past one of the ExecuteLimits; becomes a 4xx problem document. */
export class QueryLimitError extends Error {
  constructor(
    readonly limit: 'groups' | 'rows',
    readonly max: number,
    readonly actual: number,
  ) {
    super(`the query needs more than ${max} ${limit} (the limit); narrow it with WHERE or fewer GROUP BY keys`);
    this.name = 'QueryLimitError';
  }
}

export const DEFAULT_LIMITS: Required<ExecuteLimits> = { maxGroups: 1_000_000, maxRows: 100_000 };

// ---------------------------------------------------------------------------------------------
// Types of the spec's expressions

/** The static argument type of each aggregate (json for data paths, whether shredded or not). */
function aggregateArgTypes(spec: QuerySpec): SqlType[] {
  return spec.aggregates.map((a) => (a.arg ? staticType(a.arg) : 'null'));
}

/** Types of groupRef/aggRef, for post-aggregation evaluation. */
function refTypes(spec: QuerySpec): { groups: SqlType[]; aggregates: SqlType[] } {
  const argTypes = aggregateArgTypes(spec);
  return {
    groups: spec.groupBy.map((g) => staticType(g)),
    aggregates: spec.aggregates.map((a, i) => (a.fn === 'count' && a.arg === null ? 'integer' : aggregateResultType(a, argTypes[i]!))),
  };
}

// ---------------------------------------------------------------------------------------------
// Ordering

/** Type rank for ordering values of different kinds (booleans, numbers, strings). */
const RANK: Record<string, number> = { boolean: 0, number: 1, string: 2 };

/** Orders two values for ORDER BY: NULLs by `nullsFirst`, then ascending or descending. */
export function compareForOrder(a: Scalar, b: Scalar, item: Pick<OrderItem, 'desc' | 'nullsFirst'>): number {
  if (a === null || b === null) {
    if (a === b) return 0;
    return (a === null) === item.nullsFirst ? -1 : 1;
  }
  let c = compareValues(a, b);
  if (c === null) c = RANK[typeof a]! - RANK[typeof b]!;
  return item.desc ? -c : c;
}

function rowComparator(items: readonly OrderItem[], at: number): (a: Scalar[], b: Scalar[]) => number {
  return (a, b) => {
    for (let k = 0; k < items.length; k++) {
      const c = compareForOrder(a[at + k]!, b[at + k]!, items[k]!);
      if (c !== 0) return c;
    }
    return 0;
  };
}

// ---------------------------------------------------------------------------------------------
// The live partial

interface Group {
  keys: Scalar[];
  accs: Accumulator[];
}

/** One Arrow-style validity bitmap (LSB first) from per-row validity bytes (each 0 or 1), eight rows a step. */
function toBitmap(valid: Uint8Array | null): Uint8Array | null {
  if (!valid) return null;
  const n = valid.length;
  const out = new Uint8Array((n + 7) >> 3);
  const whole = n >> 3;
  for (let b = 0, i = 0; b < whole; b++, i += 8) {
    out[b] =
      (valid[i]! & 1) |
      ((valid[i + 1]! & 1) << 1) |
      ((valid[i + 2]! & 1) << 2) |
      ((valid[i + 3]! & 1) << 3) |
      ((valid[i + 4]! & 1) << 4) |
      ((valid[i + 5]! & 1) << 5) |
      ((valid[i + 6]! & 1) << 6) |
      ((valid[i + 7]! & 1) << 7);
  }
  for (let i = whole << 3; i < n; i++) out[i >> 3]! |= (valid[i]! & 1) << (i & 7);
  return out;
}

/** A JSON key for a group's values (numbers and strings stay distinct: 1 vs "1"). */
function groupKey(keys: readonly Scalar[]): string {
  if (keys.length === 1) return typeof keys[0] === 'string' ? `s${keys[0]}` : `v${String(keys[0])}`;
  // JSON writes NaN and ±Infinity as null: tag them (as arrays, which no key value is).
  const special = (v: Scalar) => typeof v === 'number' && !Number.isFinite(v);
  return JSON.stringify(keys.some(special) ? keys.map((v) => (special(v) ? [String(v)] : v)) : keys);
}

/**
 * The live state of a scan: accumulators per group, or candidate rows. Not JSON; `toPartial()` is.
 */
export class PartialBuilder {
  readonly counters: ScanCounters = { rowsScanned: 0, rowsMatched: 0, batches: 0 };
  private readonly groupIndex = new Map<string, number>();
  /** Groups of one key by its value (a Map tells 1 from '1', and NaN and ±0 are each one key, as groupKey does). */
  private readonly singleIndex = new Map<Scalar, number>();
  readonly groups: Group[] = [];
  rows: Scalar[][] = [];
  private readonly argTypes: SqlType[];
  private readonly limits: Required<ExecuteLimits>;
  /** For non-aggregated queries: rows to keep (limit + offset), or null for all. */
  private readonly keep: number | null;
  private readonly order: ((a: Scalar[], b: Scalar[]) => number) | null;

  constructor(
    readonly spec: QuerySpec,
    limits: ExecuteLimits = {},
  ) {
    this.argTypes = aggregateArgTypes(spec);
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.keep = spec.limit === null ? null : spec.limit + spec.offset;
    this.order = spec.orderBy.length > 0 ? rowComparator(spec.orderBy, spec.outputs.length) : null;
    // A query with aggregates and no GROUP BY answers one row even over no rows.
    if (spec.aggregated && spec.groupBy.length === 0) this.group([]);
  }

  /** The group of these key values, created on first sight (and counted against maxGroups). */
  group(keys: Scalar[]): number {
    if (keys.length === 1) {
      let g = this.singleIndex.get(keys[0]!);
      if (g === undefined) this.singleIndex.set(keys[0]!, (g = this.newGroup(keys)));
      return g;
    }
    const k = groupKey(keys);
    let g = this.groupIndex.get(k);
    if (g === undefined) this.groupIndex.set(k, (g = this.newGroup(keys)));
    return g;
  }

  private newGroup(keys: Scalar[]): number {
    const g = this.groups.length;
    if (g >= this.limits.maxGroups) throw new QueryLimitError('groups', this.limits.maxGroups, g + 1);
    const calls = this.spec.aggregates;
    const accs = new Array<Accumulator>(calls.length);
    for (let i = 0; i < calls.length; i++) accs[i] = createAccumulator(calls[i]!, this.argTypes[i]!);
    this.groups.push({ keys, accs });
    return g;
  }

  /** Whether a non-aggregated query without ORDER BY already has all the rows it needs. */
  get satisfied(): boolean {
    return !this.spec.aggregated && this.order === null && this.keep !== null && this.rows.length >= this.keep;
  }

  /** Adds candidate rows (output values then ORDER BY values), keeping only what the answer can use. */
  addRows(rows: Scalar[][]): void {
    for (const r of rows) this.rows.push(r);
    this.trimRows(false);
  }

  private trimRows(final: boolean): void {
    const keep = this.keep;
    if (keep === null) {
      if (this.rows.length > this.limits.maxRows) throw new QueryLimitError('rows', this.limits.maxRows, this.rows.length);
      return;
    }
    if (this.order === null) {
      if (this.rows.length > keep) this.rows.length = keep;
    } else if (this.rows.length > 2 * keep + 1024 || (final && this.rows.length > keep)) {
      this.rows.sort(this.order);
      this.rows.length = keep;
    }
  }

  /** Bytes the states hold, roughly (for the caller's memory budget). */
  stateSize(): number {
    let n = 0;
    for (const g of this.groups) {
      n += 16 + g.keys.reduce<number>((s, k) => s + (typeof k === 'string' ? 2 * k.length : 8), 0);
      for (const a of g.accs) n += a.size();
    }
    for (const r of this.rows) n += 16 + r.reduce<number>((s, k) => s + (typeof k === 'string' ? 2 * k.length : 8), 0);
    return n;
  }

  /**
   * The partial, as JSON-safe data the builder does not change afterwards (states and the row list
   * are copies). `only`: just these groups (indexes into `groups`).
   */
  toPartial(only?: readonly number[]): Partial {
    if (this.spec.aggregated) {
      const groups = only ? only.map((i) => this.groups[i]!) : this.groups;
      const nonFinite = nonFiniteOf(groups.map((g) => g.keys));
      return {
        groups: groups.map((g) => [g.keys, g.accs.map((a) => a.state())]),
        ...this.counters,
        ...(nonFinite ? { nonFinite } : {}),
      };
    }
    this.trimRows(true);
    const nonFinite = nonFiniteOf(this.rows);
    return { rows: this.rows.slice(), ...this.counters, ...(nonFinite ? { nonFinite } : {}) };
  }

  /** A builder holding a partial's content (to merge more into it). */
  static from(spec: QuerySpec, p: Partial, limits?: ExecuteLimits): PartialBuilder {
    const b = new PartialBuilder(spec, limits);
    b.absorb(p);
    return b;
  }

  /** Merges a partial into this builder. */
  absorb(p: Partial): void {
    this.counters.rowsScanned += p.rowsScanned;
    this.counters.rowsMatched += p.rowsMatched;
    this.counters.batches += p.batches;
    if ('groups' in p) {
      if (!this.spec.aggregated) throw new TypeError('a grouped partial for a query without aggregates');
      const keys = withNonFinite(
        p.groups.map((g) => g[0]),
        p.nonFinite,
      );
      p.groups.forEach(([, states], j) => {
        const g = this.groups[this.group(keys[j]!)]!;
        states.forEach((s, i) => g.accs[i]!.merge(accumulatorFromState(s)));
      });
    } else {
      if (this.spec.aggregated) throw new TypeError('a row partial for an aggregated query');
      this.addRows(withNonFinite(p.rows, p.nonFinite));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Scanning

/** Per-batch integer codes of one group-by key for the selected rows, and their values. */
function keyCodes(v: ColumnVector, sel: Int32Array, n: number): { codes: Int32Array; values: Scalar[] } {
  const codes = new Int32Array(n);
  if (v.kind === 'dict') {
    const nullCode = v.dictionary.length;
    const { codes: c, valid } = v;
    if (valid) for (const i of sel) codes[i] = valid[i] ? c[i]! : nullCode;
    else for (const i of sel) codes[i] = c[i]!;
    return { codes, values: [...v.dictionary, null] };
  }
  if (v.kind === 'const') return { codes, values: [v.value] };
  const values: Scalar[] = [];
  if (v.kind === 'num') {
    const index = new Map<number, number>();
    let nullCode = -1;
    const { values: x, valid } = v;
    // Runs of one value (time buckets over rows in time order) skip the Map.
    let lastVal = NaN;
    let lastCode = -1;
    for (const i of sel) {
      if (valid && !valid[i]) {
        if (nullCode < 0) {
          nullCode = values.length;
          values.push(null);
        }
        codes[i] = nullCode;
        continue;
      }
      const val = x[i]!;
      if (val === lastVal) {
        codes[i] = lastCode;
        continue;
      }
      let c = index.get(val);
      if (c === undefined) {
        c = values.length;
        index.set(val, c);
        values.push(val);
      }
      codes[i] = c;
      lastVal = val;
      lastCode = c;
    }
    return { codes, values };
  }
  const index = new Map<Scalar, number>();
  for (const i of sel) {
    const val = valueAt(v, i);
    let c = index.get(val);
    if (c === undefined) {
      c = values.length;
      index.set(val, c);
      values.push(val);
    }
    codes[i] = c;
  }
  return { codes, values };
}

/** Feeds one aggregate's argument for some rows into an accumulator, by the argument's vector kind. */
function feed(acc: Accumulator, call: AggregateCall, arg: ColumnVector | null, bitmap: Uint8Array | null, rows: Int32Array): void {
  if (call.arg === null) return acc.addCount(rows.length);
  const v = arg!;
  switch (v.kind) {
    case 'num':
      return acc.addNumbers(v.values, bitmap, rows);
    case 'dict':
      return acc.addDictionary(v.dictionary, v.codes, bitmap, rows);
    case 'const':
      for (let j = 0; j < rows.length; j++) acc.add(v.value);
      return;
    default:
      for (const i of rows) acc.add(valueAt(v, i));
  }
}

/**
 * Scans one batch into `into`: WHERE, group keys, aggregates, or (without aggregates) candidate
 * output rows. `into.toPartial()` afterwards is the partial.
 */
export function scanBatch(spec: QuerySpec, batch: Batch, into: PartialBuilder): void {
  const n = batch.length;
  into.counters.rowsScanned += n;
  into.counters.batches++;
  if (n === 0 || into.satisfied) return;
  const ev = new Evaluator(batch);
  const sel = ev.filter(spec.where);
  into.counters.rowsMatched += sel.length;
  if (sel.length === 0) return;
  if (!spec.aggregated) return collectRows(spec, ev, sel, into);

  const args = spec.aggregates.map((a) => (a.arg ? ev.evaluate(a.arg) : null));
  // One bitmap per distinct argument vector (avg, sum, min and max of one column share it).
  const packed = new Map<Uint8Array, Uint8Array | null>();
  const bitmaps = args.map((v) => {
    if (!v || (v.kind !== 'num' && v.kind !== 'dict') || !v.valid) return null;
    if (!packed.has(v.valid)) packed.set(v.valid, toBitmap(v.valid));
    return packed.get(v.valid)!;
  });

  if (spec.groupBy.length === 0) {
    const g = into.groups[0]!;
    spec.aggregates.forEach((a, k) => feed(g.accs[k]!, a, args[k]!, bitmaps[k]!, sel));
    return;
  }

  // One dictionary key and only count(*): count rows per code, one addCount per code seen.
  if (spec.groupBy.length === 1 && spec.aggregates.every((a) => a.fn === 'count' && a.arg === null)) {
    const v = ev.evaluate(spec.groupBy[0]!);
    if (v.kind === 'dict') return countByCode(v, sel, into);
  }

  // Local group ids: the keys' per-batch codes combined (mixed radix), then made dense.
  const keys = spec.groupBy.map((e) => keyCodes(ev.evaluate(e), sel, n));
  let local: Int32Array;
  let localKeys: Scalar[][];
  if (keys.length === 1) {
    local = keys[0]!.codes;
    localKeys = keys[0]!.values.map((v) => [v]);
  } else {
    const radix = keys.map((k) => k.values.length);
    const combined = new Float64Array(n);
    for (const i of sel) {
      let c = 0;
      for (let k = keys.length - 1; k >= 0; k--) c = c * radix[k]! + keys[k]!.codes[i]!;
      combined[i] = c;
    }
    local = new Int32Array(n);
    const dense = new Map<number, number>();
    localKeys = [];
    for (const i of sel) {
      const c = combined[i]!;
      let d = dense.get(c);
      if (d === undefined) {
        dense.set(c, (d = localKeys.length));
        localKeys.push(keys.map((k) => k.values[k.codes[i]!]!));
      }
      local[i] = d;
    }
  }

  // One group in the batch (a time bucket of a file cut per day): its rows are the selection.
  const m = localKeys.length;
  if (m === 1) {
    const group = into.groups[into.group(localKeys[0]!)]!;
    spec.aggregates.forEach((a, k) => feed(group.accs[k]!, a, args[k]!, bitmaps[k]!, sel));
    return;
  }
  // Rows bucketed by local group (counting sort), each bucket a view of one array.
  const counts = new Int32Array(m + 1);
  for (const i of sel) counts[local[i]! + 1]!++;
  for (let g = 0; g < m; g++) counts[g + 1]! += counts[g]!;
  const starts = counts.slice(0, m);
  const ordered = new Int32Array(sel.length);
  for (const i of sel) ordered[starts[local[i]!]!++] = i;
  for (let g = 0; g < m; g++) {
    const lo = counts[g]!;
    const hi = counts[g + 1]!;
    if (hi === lo) continue;
    const rows = ordered.subarray(lo, hi);
    const group = into.groups[into.group(localKeys[g]!)]!;
    spec.aggregates.forEach((a, k) => feed(group.accs[k]!, a, args[k]!, bitmaps[k]!, rows));
  }
}

/** count(*)s grouped by one dictionary column: a counter per code (and one for NULL), then per group. */
function countByCode(v: ColumnVector & { kind: 'dict' }, sel: Int32Array, into: PartialBuilder): void {
  const { codes, dictionary, valid } = v;
  const m = dictionary.length;
  const counts = new Int32Array(m + 1);
  if (valid) for (let j = 0; j < sel.length; j++) counts[valid[sel[j]!] ? codes[sel[j]!]! : m]!++;
  else for (let j = 0; j < sel.length; j++) counts[codes[sel[j]!]!]!++;
  for (let c = 0; c <= m; c++) {
    const k = counts[c]!;
    if (k === 0) continue;
    for (const acc of into.groups[into.group([c === m ? null : dictionary[c]!])]!.accs) acc.addCount(k);
  }
}

/** Without aggregates: the selected rows' outputs and ORDER BY values, up to what LIMIT needs. */
function collectRows(spec: QuerySpec, ev: Evaluator, sel: Int32Array, into: PartialBuilder): void {
  const exprs: Expr[] = [...spec.outputs.map((o) => o.expr), ...spec.orderBy.map((o) => o.expr)];
  const vectors = exprs.map((e) => ev.evaluate(e));
  const keep = spec.orderBy.length === 0 && spec.limit !== null ? spec.limit + spec.offset - into.rows.length : Infinity;
  const rows: Scalar[][] = [];
  for (const i of sel) {
    if (rows.length >= keep) break;
    rows.push(vectors.map((v) => valueAt(v, i)));
  }
  into.addRows(rows);
}

/** Scans hot rows (from the shard objects) into `into`, in batches of the replica's row-group size. */
export function scanRows(spec: QuerySpec, rows: readonly ReplicaRow[], into: PartialBuilder, batchSize = 10_000): void {
  for (let at = 0; at < rows.length && !into.satisfied; at += batchSize) {
    scanBatch(spec, batchFromRows(rows.slice(at, at + batchSize)), into);
  }
}

/** Rows per read and record batch from Parquet (at least a row group's 10,000): bounds what one read decodes. */
const SCAN_BATCH_ROWS = 65_536;

/**
 * Scans a replica Parquet file into `into`: only `columns`, only `rowGroups` (null: all), up to
 * SCAN_BATCH_ROWS rows per read (parquet-wasm's memory grows to what one read needs and never shrinks). parquet-wasm
 * must be initialised (`initParquet`). `ParquetFile` is used because `readParquet` ignores `columns`.
 */
export async function scanParquet(
  spec: QuerySpec,
  file: Uint8Array | Blob,
  into: PartialBuilder,
  options: { columns: string[]; rowGroups: number[] | null },
): Promise<void> {
  const pf = await ParquetFile.fromFile(file instanceof Uint8Array ? fileOfRanges(file.byteLength, [{ offset: 0, bytes: file }]) : file);
  try {
    const meta = pf.metadata();
    const groups = options.rowGroups ?? Array.from({ length: meta.numRowGroups() }, (_, i) => i);
    // Row groups in reads of up to SCAN_BATCH_ROWS rows: each read is a round of promises between
    // JavaScript and wasm and an IPC stream, so small row groups are read together.
    const reads: number[][] = [];
    let rows = 0;
    for (const rg of groups) {
      const group = meta.rowGroup(rg);
      const n = group.numRows();
      group.free();
      const last = reads[reads.length - 1];
      if (last && rows + n <= SCAN_BATCH_ROWS) {
        last.push(rg);
        rows += n;
      } else {
        reads.push([rg]);
        rows = n;
      }
    }
    meta.free();
    for (const rowGroups of reads) {
      if (into.satisfied) break;
      const wasm = await pf.read({ columns: options.columns, rowGroups, batchSize: SCAN_BATCH_ROWS });
      const table = tableFromIPC(wasm.intoIPCStream());
      for (const rb of table.batches) scanBatch(spec, batchFromArrow(rb), into);
    }
  } finally {
    pf.free();
  }
}

// ---------------------------------------------------------------------------------------------
// Merging and finishing

/** Merges two partials of one spec (associative and commutative up to ties in unordered LIMIT). */
export function mergePartials(spec: QuerySpec, a: Partial, b: Partial, limits?: ExecuteLimits): Partial {
  const builder = PartialBuilder.from(spec, a, limits);
  builder.absorb(b);
  return builder.toPartial();
}

/**
 * The partial of a segment the plan counted without reading (`QueryPlan.counted`): `rows` rows that
 * all match a query that only counts. Its rows are matched, not scanned.
 */
export function countedPartial(spec: QuerySpec, rows: number): Partial {
  const builder = new PartialBuilder(spec);
  const group = builder.groups[0];
  if (!group || spec.groupBy.length > 0 || spec.aggregates.some((a) => a.fn !== 'count' || a.arg !== null))
    throw new TypeError('only a query of count(*)s without GROUP BY can count rows it does not read');
  for (const acc of group.accs) acc.addCount(rows);
  builder.counters.rowsMatched += rows;
  return builder.toPartial();
}

/** An empty partial (the identity of mergePartials). */
export function emptyPartial(spec: QuerySpec): Partial {
  return new PartialBuilder(spec).toPartial();
}

/**
 * Per group that passes HAVING: its output values, its ORDER BY values and (last) its index in
 * `b.groups`.
 */
function groupRows(spec: QuerySpec, b: PartialBuilder): Scalar[][] {
  const groups = b.groups;
  const types = refTypes(spec);
  const refs = {
    groups: spec.groupBy.map((_, k) =>
      anyVector(
        types.groups[k]!,
        groups.map((g) => g.keys[k]!),
      ),
    ),
    aggregates: spec.aggregates.map((_, k) =>
      anyVector(
        types.aggregates[k]!,
        groups.map((g) => g.accs[k]!.result()),
      ),
    ),
  };
  const ev = new Evaluator(batchOf(groups.length, {}), refs);
  const sel = ev.filter(spec.having);
  const vectors = [...spec.outputs.map((o) => ev.evaluate(o.expr)), ...spec.orderBy.map((o) => ev.evaluate(o.expr))];
  return Array.from(sel, (i) => [...vectors.map((v) => valueAt(v, i)), i]);
}

/**
 * The partial of only the groups that can be in the answer, from a builder whose groups are
 * complete (no other partial holds rows of them: the plan's `topInScans`, groups by stream, each
 * stream on one shard): those passing HAVING, the first OFFSET + LIMIT by ORDER BY.
 */
export function topPartial(spec: QuerySpec, b: PartialBuilder): Partial {
  if (!spec.aggregated || spec.limit === null) throw new TypeError('only an aggregated query with LIMIT keeps its top groups');
  const rows = groupRows(spec, b);
  if (spec.orderBy.length > 0) rows.sort(rowComparator(spec.orderBy, spec.outputs.length));
  const at = spec.outputs.length + spec.orderBy.length;
  return b.toPartial(rows.slice(0, spec.offset + spec.limit).map((r) => r[at] as number));
}

/** A value as the answer shows it: timestamps as ISO-8601 strings. */
function render(v: Scalar, type: SqlType): Scalar {
  return type === 'timestamp' && typeof v === 'number' ? formatTimestamp(v) : v;
}

/**
 * The query's answer from the merged partial, or from the builder that merged them (which saves
 * rebuilding its groups): outputs, HAVING, ORDER BY, OFFSET, LIMIT. A builder given is used up.
 */
export function finish(spec: QuerySpec, partial: Partial | PartialBuilder): QueryResult {
  const columns = spec.outputs.map((o) => ({ name: o.name, type: o.type }));
  const nOut = spec.outputs.length;
  let rows: Scalar[][];
  if (spec.aggregated) {
    const b = partial instanceof PartialBuilder ? partial : PartialBuilder.from(spec, partial, { maxGroups: Number.MAX_SAFE_INTEGER });
    rows = groupRows(spec, b);
  } else {
    const p = partial instanceof PartialBuilder ? partial.toPartial() : partial;
    rows = 'rows' in p ? withNonFinite(p.rows, p.nonFinite).slice() : [];
  }
  if (spec.orderBy.length > 0) rows.sort(rowComparator(spec.orderBy, nOut));
  const end = spec.limit === null ? rows.length : spec.offset + spec.limit;
  rows = rows.slice(spec.offset, end);
  return { columns, rows: rows.map((r) => r.slice(0, nOut).map((v, k) => render(v, columns[k]!.type))) };
}
