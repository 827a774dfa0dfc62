// Mergeable aggregate states: what a scan sub-request accumulates per group, sends as JSON, and the
// coordinator merges and finalises.
//
// Guarantees:
// - Exact aggregates (count, count(DISTINCT), sum, avg, min, max, and every DISTINCT form) have
//   states whose merge is associative and commutative: the result is bit-identical however the rows
//   were split into partials and in whatever order or tree shape the partials were merged.
// - sum keeps the exact sum (a Shewchuk expansion of non-overlapping doubles, exact for any finite
//   inputs) and rounds once at the end, so a double sum is the correctly rounded true sum. DuckDB
//   1.5 sums doubles naively in scan order (`sum`; its Kahan `fsum` is close to ours): for doubles
//   that are not all integers the two may differ in the last bits, within DuckDB's own rounding
//   error (≤ (n−1)·2⁻⁵³·Σ|x|). Integer sums are exact: a number when |sum| ≤ 2⁵³−1, else the exact
//   value as a decimal string (DuckDB returns HUGEINT).
// - approx_count_distinct is a HyperLogLog (p = 14, 16,384 six-bit registers, 52-bit hashes, Ertl's
//   2017 estimator): exact (up to 52-bit hash collisions, p ≈ n²/2⁵³) while at most 1,536 distinct
//   values were seen, then a standard error of 1.04/√16384 ≈ 0.81% (3σ ≈ 2.5%). Merges are
//   identical in any order.
// - approx_quantile is a KLL sketch (k = 200): the returned value is one of the inputs whose rank is
//   within ±1.65%·n of the exact rank (99% confidence), exact while n ≤ 200. The exact reference is
//   DuckDB's `quantile_disc(x, q)` (the value at 0-based sorted index max(1, n − ⌊n − n·q⌋) − 1,
//   i.e. ⌈n·q⌉ − 1). Merges in a different order may pick a different value, within the bound.
// - States are plain JSON (no bigint, Map, NaN or Infinity) and self-describing: `accumulatorFromState`
//   needs nothing else.
//
// The `json` argument type (a `data` path, typed per row): sum/avg/approx_quantile use only the
// number values (strings and booleans count as NULL); count, count(DISTINCT) and approx_count_distinct
// see every non-null value, type-tagged (1 and '1' differ; 1 and 1.0 are the same JSON number);
// min/max order values across types as CouchDB's collation does: false < true < numbers < strings.
//
// Pure: no platform imports, no code generation; runs in workerd.
import { compareCodePoints } from '../parquet.js';
import { SqlError, type AggregateCall, type AggregateFn, type Scalar, type SqlType } from './ast.js';

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/** A numeric column slice as the executor holds it (Arrow data buffers). */
export type NumericArray =
  Float64Array | Float32Array | Int32Array | Int16Array | Int8Array | Uint32Array | Uint16Array | Uint8Array | BigInt64Array;

/**
 * One aggregate over one group. Feed it rows with `add` (one value) or the typed-array entry points
 * (a whole column slice, no boxing), combine partials with `merge`, ship `state()`, finish with `result()`.
 *
 * Typed-array entry points share one convention: `rows` lists the indices into `values`/`codes` to
 * add (a selection vector: the rows of this group that passed WHERE), or null for every index
 * `0 … length−1`. `valid` is an Arrow validity bitmap (LSB first; bit `validOffset + i` set means
 * row `i` is not null), or null when the slice has no nulls. Timestamps must already be epoch
 * milliseconds; BigInt64Array values are exact 64-bit integers (also beyond 2⁵³).
 */
export interface Accumulator {
  readonly fn: AggregateFn;
  /** Add one value; NULL is ignored by all but count(*). */
  add(v: Scalar): void;
  /** count(*) only: add `n` rows at once. Other aggregates throw. */
  addCount(n: number): void;
  /** Add numbers (integer, double, timestamp or json-number columns). */
  addNumbers(values: NumericArray, valid: Uint8Array | null, rows: Int32Array | null, validOffset?: number): void;
  /** Add strings of a Dictionary<Int32, Utf8> column: row i is `dictionary[codes[i]]`. */
  addDictionary(
    dictionary: readonly string[],
    codes: Int32Array,
    valid: Uint8Array | null,
    rows: Int32Array | null,
    validOffset?: number,
  ): void;
  /** Fold another accumulator of the same aggregate into this one (the other is left unchanged). */
  merge(other: Accumulator): void;
  /** The partial state as plain JSON-safe data. */
  state(): AggState;
  /** The final value. */
  result(): Scalar;
  /** Approximate bytes held, for the caller's memory limit. */
  size(): number;
}

/** A partial state as it crosses a sub-request boundary. Opaque to callers beyond `f` and `t`. */
export interface AggState {
  /** The aggregate: its function name, `count*` for count(*). */
  f: AggregateFn | 'count*';
  /** The argument's static type. */
  t: SqlType;
  /** DISTINCT. */
  d?: true;
  [key: string]: unknown;
}

/** HyperLogLog precision: 2^14 registers. */
export const HLL_P = 14;
/** Distinct hashes kept exactly before the HyperLogLog turns dense. */
export const HLL_SPARSE_MAX = 1536;
/** HyperLogLog relative standard error: 1.04/√m. */
export const HLL_STD_ERROR = 1.04 / Math.sqrt(1 << HLL_P);
/** KLL accuracy parameter. */
export const KLL_K = 200;
/** KLL normalized rank error at 99% confidence for KLL_K (Apache DataSketches' figure for k = 200). */
export const KLL_RANK_ERROR = 0.0165;

/**
 * The static type of an aggregate's result, or a SqlError when the aggregate does not apply to the
 * argument type (the analyser calls this). Mirrors DuckDB: sum(integer|boolean) is an integer,
 * sum(double|json) a double, avg a double (a timestamp for timestamps), min/max keep the type.
 */
export function aggregateResultType(call: AggregateCall, argType: SqlType): SqlType {
  const bad = (what: string) => {
    const span = call.arg?.span ?? { start: 0, end: 0 };
    return new SqlError(`${call.fn}(${argType}) is not supported`, span, what);
  };
  if (call.fn === 'count' || call.fn === 'approx_count_distinct') return 'integer';
  if (argType === 'null') return call.fn === 'sum' && !call.distinct ? 'integer' : 'null';
  switch (call.fn) {
    case 'sum':
      if (argType === 'integer' || argType === 'boolean') return 'integer';
      if (argType === 'double' || argType === 'json') return 'double';
      throw bad('sum takes integers, doubles, booleans or data fields');
    case 'avg':
      if (argType === 'integer' || argType === 'double' || argType === 'json') return 'double';
      if (argType === 'timestamp') return 'timestamp';
      throw bad('avg takes integers, doubles, timestamps or data fields');
    case 'min':
    case 'max':
      return argType;
    case 'approx_quantile':
      if (call.q === undefined || !(call.q >= 0 && call.q <= 1)) throw bad('approx_quantile(x, q) takes q in [0, 1]');
      if (argType === 'integer' || argType === 'double' || argType === 'timestamp') return argType;
      if (argType === 'json') return 'double';
      throw bad('approx_quantile takes integers, doubles, timestamps or data fields');
  }
}

/** A fresh accumulator for `call` over an argument of static type `argType`. */
export function createAccumulator(call: AggregateCall, argType: SqlType): Accumulator {
  if (call.fn === 'count' && call.arg === null) return new CountStar();
  aggregateResultType(call, argType);
  const distinct = call.distinct && call.fn !== 'min' && call.fn !== 'max' && call.fn !== 'approx_count_distinct';
  if (distinct) return new DistinctAcc(call.fn, argType, call.q);
  return plain(call.fn, argType, call.q);
}

/** The accumulator a state came from (validated: a malformed state throws). */
export function accumulatorFromState(state: AggState): Accumulator {
  if (state === null || typeof state !== 'object') throw new Error('aggregate state: not an object');
  const { f, t } = state;
  if (f === 'count*') return CountStar.from(state);
  if (state.d === true) return DistinctAcc.from(state);
  switch (f) {
    case 'count':
      return Count.from(state);
    case 'sum':
    case 'avg':
      return SumAcc.from(state);
    case 'min':
    case 'max':
      return MinMax.from(state);
    case 'approx_count_distinct':
      return Hll.from(state);
    case 'approx_quantile':
      return Kll.from(state);
  }
  throw new Error(`aggregate state: unknown aggregate ${String(f)}/${String(t)}`);
}

function plain(fn: AggregateFn, t: SqlType, q: number | undefined): Accumulator {
  switch (fn) {
    case 'count':
      return new Count(t);
    case 'sum':
    case 'avg':
      return new SumAcc(fn, t);
    case 'min':
    case 'max':
      return new MinMax(fn, t);
    case 'approx_count_distinct':
      return new Hll(t);
    case 'approx_quantile':
      return new Kll(t, q ?? 0.5);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE_BIG = -MAX_SAFE_BIG;

/** An exact integer as a result: a number when safe, else its decimal string. */
function bigResult(v: bigint): number | string {
  return v >= MIN_SAFE_BIG && v <= MAX_SAFE_BIG ? Number(v) : v.toString();
}

function isValid(valid: Uint8Array | null, o: number, i: number): boolean {
  return valid === null || ((valid[(o + i) >> 3]! >> ((o + i) & 7)) & 1) === 1;
}

function wrongKind(a: Accumulator, b: Accumulator): Error {
  return new Error(`cannot merge ${b.constructor.name} into ${a.constructor.name}`);
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number') throw new Error(`aggregate state: ${what} is not a number`);
  return v;
}

/** Non-finite numbers as JSON: strings. */
function encodeNum(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}
function decodeNum(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  throw new Error('aggregate state: bad number');
}

/** An integer-column number past 2⁵³: handled as the exact integer it is, like BigInt64Array values. */
function unsafeInt(t: SqlType, v: number): boolean {
  return t === 'integer' && !Number.isSafeInteger(v) && Number.isInteger(v);
}

/** Integer-column values may arrive as decimal strings (beyond 2⁵³) through `add`. */
function parseBig(v: string): bigint {
  if (!/^-?\d+$/.test(v)) throw new Error(`not an integer: ${v}`);
  return BigInt(v);
}

/** The common no-op-free base: `add` for one value, typed paths implemented through it. */
abstract class Base implements Accumulator {
  abstract readonly fn: AggregateFn;
  abstract add(v: Scalar): void;
  abstract merge(other: Accumulator): void;
  abstract state(): AggState;
  abstract result(): Scalar;
  abstract size(): number;
  /** Add one exact integer (BigInt64Array values, big decimal strings of integer columns). */
  protected addBig(v: bigint): void {
    this.add(v >= MIN_SAFE_BIG && v <= MAX_SAFE_BIG ? Number(v) : v.toString());
  }
  addCount(_n: number): void {
    throw new Error(`addCount is count(*) only, not ${this.fn}`);
  }
  addNumbers(values: NumericArray, valid: Uint8Array | null, rows: Int32Array | null, validOffset = 0): void {
    const n = rows ? rows.length : values.length;
    if (values instanceof BigInt64Array) {
      for (let j = 0; j < n; j++) {
        const i = rows ? rows[j]! : j;
        if (isValid(valid, validOffset, i)) this.addBig(values[i]!);
      }
      return;
    }
    for (let j = 0; j < n; j++) {
      const i = rows ? rows[j]! : j;
      if (isValid(valid, validOffset, i)) this.add(values[i]!);
    }
  }
  addDictionary(
    dictionary: readonly string[],
    codes: Int32Array,
    valid: Uint8Array | null,
    rows: Int32Array | null,
    validOffset = 0,
  ): void {
    const n = rows ? rows.length : codes.length;
    for (let j = 0; j < n; j++) {
      const i = rows ? rows[j]! : j;
      if (isValid(valid, validOffset, i)) this.add(dictionary[codes[i]!] ?? null);
    }
  }
}

/** Marks the dictionary codes used by the selected valid rows (so each string is looked at once). */
function usedCodes(
  dictionary: readonly string[],
  codes: Int32Array,
  valid: Uint8Array | null,
  rows: Int32Array | null,
  o: number,
): Uint8Array {
  const used = new Uint8Array(dictionary.length);
  const n = rows ? rows.length : codes.length;
  for (let j = 0; j < n; j++) {
    const i = rows ? rows[j]! : j;
    if (isValid(valid, o, i)) used[codes[i]!] = 1;
  }
  return used;
}

// ---------------------------------------------------------------------------------------------
// count(*) and count(x)
// ---------------------------------------------------------------------------------------------

class CountStar extends Base {
  readonly fn = 'count';
  n = 0;
  static from(s: AggState): CountStar {
    const a = new CountStar();
    a.n = num(s.n, 'n');
    return a;
  }
  add(_v: Scalar): void {
    this.n++;
  }
  override addCount(n: number): void {
    this.n += n;
  }
  override addNumbers(values: NumericArray, _valid: Uint8Array | null, rows: Int32Array | null): void {
    this.n += rows ? rows.length : values.length;
  }
  override addDictionary(_d: readonly string[], codes: Int32Array, _valid: Uint8Array | null, rows: Int32Array | null): void {
    this.n += rows ? rows.length : codes.length;
  }
  merge(other: Accumulator): void {
    if (!(other instanceof CountStar)) throw wrongKind(this, other);
    this.n += other.n;
  }
  state(): AggState {
    return { f: 'count*', t: 'null', n: this.n };
  }
  result(): Scalar {
    return this.n;
  }
  size(): number {
    return 16;
  }
}

class Count extends Base {
  readonly fn = 'count';
  n = 0;
  constructor(readonly t: SqlType) {
    super();
  }
  static from(s: AggState): Count {
    const a = new Count(s.t);
    a.n = num(s.n, 'n');
    return a;
  }
  add(v: Scalar): void {
    if (v !== null) this.n++;
  }
  protected override addBig(): void {
    this.n++;
  }
  override addNumbers(values: NumericArray, valid: Uint8Array | null, rows: Int32Array | null, o = 0): void {
    this.n += countValid(rows ? rows.length : values.length, valid, rows, o);
  }
  override addDictionary(_d: readonly string[], codes: Int32Array, valid: Uint8Array | null, rows: Int32Array | null, o = 0): void {
    this.n += countValid(rows ? rows.length : codes.length, valid, rows, o);
  }
  merge(other: Accumulator): void {
    if (!(other instanceof Count)) throw wrongKind(this, other);
    this.n += other.n;
  }
  state(): AggState {
    return { f: 'count', t: this.t, n: this.n };
  }
  result(): Scalar {
    return this.n;
  }
  size(): number {
    return 16;
  }
}

function countValid(n: number, valid: Uint8Array | null, rows: Int32Array | null, o: number): number {
  if (valid === null) return n;
  let c = 0;
  for (let j = 0; j < n; j++) {
    const i = (rows ? rows[j]! : j) + o;
    c += (valid[i >> 3]! >> (i & 7)) & 1;
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// sum and avg: exact expansion
// ---------------------------------------------------------------------------------------------

/**
 * Adds `x` to the expansion `p` (Shewchuk's grow-expansion, as in Python's math.fsum): afterwards
 * the partials, non-overlapping and increasing in magnitude, sum exactly to the old sum plus `x`.
 * Returns false, and empties `p`, when an intermediate overflowed: the caller records ±Infinity
 * (whether a sum near the double range overflows depends on the order, as in any float sum).
 */
function grow(p: number[], x: number): boolean {
  let k = 0;
  for (let j = 0; j < p.length; j++) {
    let y = p[j]!;
    if (Math.abs(x) < Math.abs(y)) {
      const t = x;
      x = y;
      y = t;
    }
    const hi = x + y;
    if (!Number.isFinite(hi)) {
      p.length = 0;
      return false;
    }
    const lo = y - (hi - x);
    if (lo !== 0) p[k++] = lo;
    x = hi;
  }
  p.length = k;
  if (x !== 0) p.push(x);
  return true;
}

/** The expansion's exact sum rounded once to the nearest double (ties to even), as math.fsum does. */
function roundExpansion(p: readonly number[]): number {
  let n = p.length;
  if (n === 0) return 0;
  let hi = p[--n]!;
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = p[--n]!;
    hi = x + y;
    const yr = hi - x;
    lo = y - yr;
    if (lo !== 0) break;
  }
  if (n > 0 && ((lo < 0 && p[n - 1]! < 0) || (lo > 0 && p[n - 1]! > 0))) {
    const y = lo * 2;
    const x = hi + y;
    const yr = x - hi;
    if (y === yr) hi = x;
  }
  return hi;
}

/** The expansion's exact value, when every partial is an integer. */
function expansionBig(p: readonly number[]): bigint {
  let s = 0n;
  for (const x of p) s += BigInt(x);
  return s;
}

/** `s / c` correctly rounded to a double (c > 0). */
function divRound(s: bigint, c: number): number {
  if (s >= MIN_SAFE_BIG && s <= MAX_SAFE_BIG && c <= Number.MAX_SAFE_INTEGER) return Number(s) / c;
  const neg = s < 0n;
  const a = neg ? -s : s;
  const C = BigInt(c);
  // Scale so the quotient has ≥ 64 bits; a sticky low bit makes Number()'s rounding correct.
  const shift = Math.max(0, 64 - (a.toString(2).length - C.toString(2).length));
  const num = a << BigInt(shift);
  let q = num / C;
  if (num % C !== 0n) q |= 1n;
  const r = Number(q) / 2 ** shift;
  return neg ? -r : r;
}

const TWO52 = 2 ** 52;
const TWO51 = 2 ** 51;
/** More partials than a double expansion can have (2,098 bits of exponent range / 53). */
const EXPANSION_MAX = 64;

class SumAcc extends Base {
  /** The exact sum of the finite inputs. */
  p: number[] = [];
  /** Numeric inputs (non-null, numbers). */
  n = 0;
  /** Every input was an integer. */
  ints = true;
  /** Specials: 1 NaN, 2 +Infinity (input or overflow), 4 −Infinity. */
  special = 0;

  constructor(
    readonly fn: 'sum' | 'avg',
    readonly t: SqlType,
  ) {
    super();
  }

  static from(s: AggState): SumAcc {
    const a = new SumAcc(s.f as 'sum' | 'avg', s.t);
    a.n = num(s.n, 'n');
    if (!Array.isArray(s.p)) throw new Error('aggregate state: p');
    a.p = s.p.map((x) => num(x, 'partial'));
    a.ints = s.i === 1;
    a.special = typeof s.s === 'number' ? s.s : 0;
    return a;
  }

  private addFinite(x: number): void {
    // An overflow takes the sign of the larger operand (the running sum or x).
    const top = this.p.length ? this.p[this.p.length - 1]! : 0;
    if (!grow(this.p, x)) this.special |= (Math.abs(x) >= Math.abs(top) ? x : top) > 0 ? 2 : 4;
  }

  private addNum(v: number): void {
    this.n++;
    if (!Number.isFinite(v)) {
      this.special |= v !== v ? 1 : v > 0 ? 2 : 4;
      this.ints = false;
      return;
    }
    if (this.ints && !Number.isInteger(v)) this.ints = false;
    if (v !== 0) this.addFinite(v);
  }

  add(v: Scalar): void {
    if (v === null) return;
    if (typeof v === 'number') this.addNum(v);
    else if (typeof v === 'boolean') {
      if (this.t !== 'json') this.addNum(v ? 1 : 0);
    } else if (this.t === 'integer') this.addBig(parseBig(v));
    // json strings: not numbers, ignored.
  }

  protected override addBig(v: bigint): void {
    this.n++;
    const hi = Number(v);
    const lo = Number(v - BigInt(hi));
    if (hi !== 0) this.addFinite(hi);
    if (lo !== 0) this.addFinite(lo);
  }

  override addNumbers(values: NumericArray, valid: Uint8Array | null, rows: Int32Array | null, o = 0): void {
    if (values instanceof BigInt64Array) return super.addNumbers(values, valid, rows, o);
    const n = rows ? rows.length : values.length;
    // Small integers accumulate exactly in `acc` (|acc| ≤ 2⁵² + 2⁵¹ < 2⁵³), flushed into the
    // expansion; other finite values grow a local copy of the expansion (≤ 40 partials for doubles).
    let acc = 0;
    let count = 0;
    const buf = new Float64Array(EXPANSION_MAX);
    let len = this.p.length;
    buf.set(this.p);
    let ints = true;
    for (let j = 0; j < n; j++) {
      const i = rows ? rows[j]! : j;
      if (valid !== null && ((valid[(o + i) >> 3]! >> ((o + i) & 7)) & 1) === 0) continue;
      let x = values[i]!;
      count++;
      if (Number.isInteger(x) && x <= TWO51 && x >= -TWO51) {
        acc += x;
        if (acc > TWO52 || acc < -TWO52) {
          x = acc;
          acc = 0;
        } else continue;
      } else if (!Number.isFinite(x)) {
        count--;
        this.p = Array.from(buf.subarray(0, len));
        this.addNum(x);
        len = this.p.length;
        buf.set(this.p);
        continue;
      } else if (ints && !Number.isInteger(x)) ints = false;
      let k = 0;
      for (let m = 0; m < len; m++) {
        let y = buf[m]!;
        if (Math.abs(x) < Math.abs(y)) {
          const t = x;
          x = y;
          y = t;
        }
        const hi = x + y;
        const lo = y - (hi - x);
        if (lo !== 0) buf[k++] = lo;
        x = hi;
      }
      if (!Number.isFinite(x)) {
        // Overflow past the double range: the slow path records it.
        this.p = [];
        this.special |= x > 0 ? 2 : 4;
        k = 0;
      } else if (x !== 0) buf[k++] = x;
      len = k;
    }
    this.p = Array.from(buf.subarray(0, len));
    this.n += count;
    if (!ints) this.ints = false;
    if (acc !== 0) this.addFinite(acc);
  }

  merge(other: Accumulator): void {
    if (!(other instanceof SumAcc) || other.fn !== this.fn) throw wrongKind(this, other);
    this.n += other.n;
    this.ints &&= other.ints;
    this.special |= other.special;
    for (const x of other.p) this.addFinite(x);
  }

  state(): AggState {
    const s: AggState = { f: this.fn, t: this.t, n: this.n, p: this.p.slice(), i: this.ints ? 1 : 0 };
    if (this.special) s.s = this.special;
    return s;
  }

  /** Integer semantics (exact quotient): integer columns, booleans, timestamps. json is a double, as DuckDB reads shredded fields. */
  private exactInts(): boolean {
    return this.t === 'integer' || this.t === 'boolean' || this.t === 'timestamp';
  }

  result(): Scalar {
    if (this.n === 0) return null;
    if (this.special) {
      if (this.special & 1 || (this.special & 6) === 6) return NaN;
      return this.special & 2 ? Infinity : -Infinity;
    }
    if (this.fn === 'sum') {
      const r = roundExpansion(this.p);
      if (!(this.t === 'integer' || this.t === 'boolean') || Number.isSafeInteger(r)) return r;
      return bigResult(expansionBig(this.p));
    }
    if (this.exactInts() && this.ints) {
      const r = roundExpansion(this.p);
      if (Number.isSafeInteger(r)) return r / this.n;
      return divRound(expansionBig(this.p), this.n);
    }
    return roundExpansion(this.p) / this.n;
  }

  size(): number {
    return 48 + 8 * this.p.length;
  }
}

// ---------------------------------------------------------------------------------------------
// min and max
// ---------------------------------------------------------------------------------------------

/** A value as min/max/distinct hold it: bigint only for integers beyond 2⁵³. */
type Val = number | bigint | string | boolean;

/**
 * CouchDB-like order across types (false < true < numbers < strings); NaN is the greatest number
 * (DuckDB). min/max store −0 as 0 (equal values; JSON cannot carry the sign of zero).
 */
function cmpVal(a: Val, b: Val): number {
  const ra = typeof a === 'boolean' ? 0 : typeof a === 'string' ? 2 : 1;
  const rb = typeof b === 'boolean' ? 0 : typeof b === 'string' ? 2 : 1;
  if (ra !== rb) return ra - rb;
  if (ra === 2) return compareCodePoints(a as string, b as string);
  if (ra === 0) return Number(a) - Number(b);
  if (a !== a) return b !== b ? 0 : 1;
  if (b !== b) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function encodeVal(v: Val): { v: number | string | boolean; e?: 'b' | 'n' } {
  if (typeof v === 'bigint') return { v: v.toString(), e: 'b' };
  if (typeof v === 'number' && !Number.isFinite(v)) return { v: String(v), e: 'n' };
  return { v };
}

function decodeVal(v: unknown, e: unknown): Val {
  if (e === 'b' && typeof v === 'string') return BigInt(v);
  if (e === 'n') return decodeNum(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  throw new Error('aggregate state: bad value');
}

function normBig(v: bigint): Val {
  return v >= MIN_SAFE_BIG && v <= MAX_SAFE_BIG ? Number(v) : v;
}

class MinMax extends Base {
  best: Val | null = null;
  constructor(
    readonly fn: 'min' | 'max',
    readonly t: SqlType,
  ) {
    super();
  }

  static from(s: AggState): MinMax {
    const a = new MinMax(s.f as 'min' | 'max', s.t);
    if (s.v !== null && s.v !== undefined) a.best = decodeVal(s.v, s.e);
    return a;
  }

  offer(v: Val): void {
    if (this.best === null) this.best = v;
    else {
      const c = cmpVal(v, this.best);
      if (this.fn === 'min' ? c < 0 : c > 0) this.best = v;
    }
  }

  add(v: Scalar): void {
    if (v === null) return;
    if (typeof v === 'string' && this.t === 'integer') this.offer(normBig(parseBig(v)));
    else if (typeof v === 'number' && unsafeInt(this.t, v)) this.offer(BigInt(v));
    else this.offer(v === 0 ? 0 : v);
  }

  protected override addBig(v: bigint): void {
    this.offer(normBig(v));
  }

  override addNumbers(values: NumericArray, valid: Uint8Array | null, rows: Int32Array | null, o = 0): void {
    const n = rows ? rows.length : values.length;
    const isMin = this.fn === 'min';
    if (values instanceof BigInt64Array) {
      let best: bigint | null = null;
      for (let j = 0; j < n; j++) {
        const i = rows ? rows[j]! : j;
        if (valid !== null && ((valid[(o + i) >> 3]! >> ((o + i) & 7)) & 1) === 0) continue;
        const v = values[i]!;
        if (best === null || (isMin ? v < best : v > best)) best = v;
      }
      if (best !== null) this.offer(normBig(best));
      return;
    }
    let best = 0;
    let have = false;
    for (let j = 0; j < n; j++) {
      const i = rows ? rows[j]! : j;
      if (valid !== null && ((valid[(o + i) >> 3]! >> ((o + i) & 7)) & 1) === 0) continue;
      const v = values[i]!;
      if (!have) {
        best = v;
        have = true;
      } else if (isMin ? v < best || best !== best : v > best || v !== v) best = v;
    }
    if (have) this.offer(best === 0 ? 0 : best);
  }

  override addDictionary(dictionary: readonly string[], codes: Int32Array, valid: Uint8Array | null, rows: Int32Array | null, o = 0): void {
    const used = usedCodes(dictionary, codes, valid, rows, o);
    for (let c = 0; c < used.length; c++) if (used[c]) this.offer(dictionary[c]!);
  }

  merge(other: Accumulator): void {
    if (!(other instanceof MinMax) || other.fn !== this.fn) throw wrongKind(this, other);
    if (other.best !== null) this.offer(other.best);
  }

  state(): AggState {
    return this.best === null ? { f: this.fn, t: this.t, v: null } : { f: this.fn, t: this.t, ...encodeVal(this.best) };
  }

  result(): Scalar {
    const b = this.best;
    return typeof b === 'bigint' ? bigResult(b) : b;
  }

  size(): number {
    return 32 + (typeof this.best === 'string' ? 2 * this.best.length : 8);
  }
}

// ---------------------------------------------------------------------------------------------
// DISTINCT: an exact set, then the plain aggregate over it
// ---------------------------------------------------------------------------------------------

/**
 * count(DISTINCT x), sum(DISTINCT x), avg(DISTINCT x), approx_quantile(DISTINCT x, q). Numbers
 * compare by value (1 = 1.0, −0 = 0, NaN = NaN, as DuckDB); strings by code units; type-tagged
 * for json. The state lists the unique values sorted (numbers ascending, strings by code point).
 */
class DistinctAcc extends Base {
  nums = new Set<number>();
  /** Integers beyond 2⁵³, as decimal strings. */
  bigs = new Set<string>();
  strs = new Set<string>();
  /** 1: false seen, 2: true seen. */
  bools = 0;
  bytes = 64;

  constructor(
    readonly fn: AggregateFn,
    readonly t: SqlType,
    readonly q: number | undefined,
  ) {
    super();
  }

  static from(s: AggState): DistinctAcc {
    const a = new DistinctAcc(s.f as AggregateFn, s.t, typeof s.q === 'number' ? s.q : undefined);
    const list = (x: unknown): unknown[] => (x === undefined ? [] : Array.isArray(x) ? x : []);
    for (const v of list(s.n)) a.addNum(num(v, 'value'));
    for (const v of list(s.x)) a.addNum(decodeNum(v));
    for (const v of list(s.g)) if (typeof v === 'string') a.addBig(parseBig(v));
    for (const v of list(s.s)) if (typeof v === 'string') a.addStr(v);
    a.bools = typeof s.b === 'number' ? s.b & 3 : 0;
    return a;
  }

  private addNum(v: number): void {
    const before = this.nums.size;
    this.nums.add(v);
    if (this.nums.size !== before) this.bytes += 24;
  }

  private addStr(v: string): void {
    const before = this.strs.size;
    this.strs.add(v);
    if (this.strs.size !== before) this.bytes += 40 + 2 * v.length;
  }

  add(v: Scalar): void {
    if (v === null) return;
    if (typeof v === 'number') {
      if (unsafeInt(this.t, v)) this.addBig(BigInt(v));
      else this.addNum(v);
    } else if (typeof v === 'boolean') this.bools |= v ? 2 : 1;
    else if (this.t === 'integer') this.addBig(parseBig(v));
    else this.addStr(v);
  }

  protected override addBig(v: bigint): void {
    if (v >= MIN_SAFE_BIG && v <= MAX_SAFE_BIG) this.addNum(Number(v));
    else {
      const before = this.bigs.size;
      this.bigs.add(v.toString());
      if (this.bigs.size !== before) this.bytes += 64;
    }
  }

  override addNumbers(values: NumericArray, valid: Uint8Array | null, rows: Int32Array | null, o = 0): void {
    if (values instanceof BigInt64Array) return super.addNumbers(values, valid, rows, o);
    const n = rows ? rows.length : values.length;
    const set = this.nums;
    const before = set.size;
    for (let j = 0; j < n; j++) {
      const i = rows ? rows[j]! : j;
      if (valid !== null && ((valid[(o + i) >> 3]! >> ((o + i) & 7)) & 1) === 0) continue;
      set.add(values[i]!);
    }
    this.bytes += 24 * (set.size - before);
  }

  override addDictionary(dictionary: readonly string[], codes: Int32Array, valid: Uint8Array | null, rows: Int32Array | null, o = 0): void {
    const used = usedCodes(dictionary, codes, valid, rows, o);
    for (let c = 0; c < used.length; c++) if (used[c]) this.addStr(dictionary[c]!);
  }

  merge(other: Accumulator): void {
    if (!(other instanceof DistinctAcc) || other.fn !== this.fn) throw wrongKind(this, other);
    for (const v of other.nums) this.addNum(v);
    for (const v of other.bigs) this.addBig(BigInt(v));
    for (const v of other.strs) this.addStr(v);
    this.bools |= other.bools;
  }

  /** Unique values in a canonical order. */
  private sorted(): { nums: number[]; bigs: string[]; strs: string[] } {
    const nums = [...this.nums].sort((a, b) => cmpVal(a, b));
    const bigs = [...this.bigs].sort((a, b) => cmpVal(BigInt(a), BigInt(b)));
    const strs = [...this.strs].sort(compareCodePoints);
    return { nums, bigs, strs };
  }

  state(): AggState {
    const { nums, bigs, strs } = this.sorted();
    const s: AggState = { f: this.fn, t: this.t, d: true, n: nums.filter(Number.isFinite) };
    if (this.q !== undefined) s.q = this.q;
    const specials = nums.filter((v) => !Number.isFinite(v)).map(encodeNum);
    if (specials.length) s.x = specials;
    if (bigs.length) s.g = bigs;
    if (strs.length) s.s = strs;
    if (this.bools) s.b = this.bools;
    return s;
  }

  /** The number of distinct values. */
  count(): number {
    return this.nums.size + this.bigs.size + this.strs.size + (this.bools & 1) + (this.bools >> 1);
  }

  result(): Scalar {
    if (this.fn === 'count') return this.count();
    const inner = plain(this.fn, this.t, this.q);
    const { nums, bigs, strs } = this.sorted();
    for (const v of nums) inner.add(v);
    for (const v of bigs) inner.add(v);
    for (const v of strs) inner.add(v);
    if (this.bools & 1) inner.add(false);
    if (this.bools & 2) inner.add(true);
    return inner.result();
  }

  size(): number {
    return this.bytes;
  }
}

// ---------------------------------------------------------------------------------------------
// approx_count_distinct: HyperLogLog
// ---------------------------------------------------------------------------------------------

const HLL_M = 1 << HLL_P;
/** Hash bits after the register index: 52 − p. */
const HLL_Q = 52 - HLL_P;
const TWO_Q = 2 ** HLL_Q;

// Type tags keep 1, '1' and true apart.
const TAG_NUM = 0x6e756d31;
const TAG_STR = 0x73747231;
const TAG_BOOL = 0x626f6f31;
const TAG_BIG = 0x62696731;
const SEED1 = 0x9747b28c;
const SEED2 = 0x3c6ef372;

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Two MurmurHash3 (x86_32) lanes with different seeds over two words, as one 52-bit hash. */
function hashWords(tag: number, a: number, b: number): number {
  const h1 = fmix(mix(mix(SEED1 ^ tag, a), b) ^ 8);
  const h2 = fmix(mix(mix(SEED2 ^ tag, a), b) ^ 8);
  return h1 * 1048576 + (h2 >>> 12);
}

// The float's bytes (little-endian, as on every Workers host).
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

/** Hash of a number's value: −0 = 0, one NaN. */
export function hashNumber(v: number): number {
  F64[0] = v === 0 ? 0 : v !== v ? NaN : v;
  return hashWords(TAG_NUM, U32[0]!, U32[1]!);
}

function hashBig(v: bigint): number {
  const u = BigInt.asUintN(64, v);
  return hashWords(TAG_BIG, Number(u & 0xffffffffn), Number(u >> 32n));
}

/** Hash of a string's UTF-16 code units (a bijection of its code points for well-formed text). */
export function hashString(s: string): number {
  let h1 = SEED1 ^ TAG_STR;
  let h2 = SEED2 ^ TAG_STR;
  const n = s.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    h1 = mix(h1, k);
    h2 = mix(h2, k);
  }
  if (i < n) {
    const k = s.charCodeAt(i);
    h1 = mix(h1, k);
    h2 = mix(h2, k);
  }
  return fmix(h1 ^ n) * 1048576 + (fmix(h2 ^ n) >>> 12);
}

/** Register update: index = top p bits, rank = leading zeros of the other q bits + 1. */
function setRegister(regs: Uint8Array, h: number): void {
  const idx = Math.floor(h / TWO_Q);
  const w = h - idx * TWO_Q;
  const hi = Math.floor(w / 4294967296);
  const bits = hi !== 0 ? 64 - Math.clz32(hi) : w !== 0 ? 32 - Math.clz32(w) : 0;
  const r = HLL_Q + 1 - bits;
  if (regs[idx]! < r) regs[idx] = r;
}

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  let zp: number;
  do {
    x *= x;
    zp = z;
    z += x * y;
    y += y;
  } while (z !== zp);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let zp: number;
  do {
    x = Math.sqrt(x);
    zp = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
  } while (z !== zp);
  return z / 3;
}

/** Ertl's improved raw estimator (2017): unbiased over the whole range, no bias tables. */
function hllEstimate(regs: Uint8Array): number {
  const c = new Array<number>(HLL_Q + 2).fill(0);
  for (let i = 0; i < regs.length; i++) c[regs[i]!]!++;
  const m = regs.length;
  let z = m * tau(1 - c[HLL_Q + 1]! / m);
  for (let k = HLL_Q; k >= 1; k--) z = 0.5 * (z + c[k]!);
  z += m * sigma(c[0]! / m);
  return (m * m) / (2 * Math.LN2) / z;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;

export function toBase64(b: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const x = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    out += B64[x >> 18]! + B64[(x >> 12) & 63]! + B64[(x >> 6) & 63]! + B64[x & 63]!;
  }
  if (i < b.length) {
    const x = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8);
    out += B64[x >> 18]! + B64[(x >> 12) & 63]! + (i + 1 < b.length ? B64[(x >> 6) & 63]! : '=') + '=';
  }
  return out;
}

export function fromBase64(s: string): Uint8Array {
  if (s.length % 4 !== 0) throw new Error('aggregate state: bad base64');
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let x = 0;
    for (let j = 0; j < 4; j++) {
      const ch = s.charCodeAt(i + j);
      const v = ch === 61 && i + j >= s.length - pad ? 0 : ch < 128 ? B64_INDEX[ch]! : -1;
      if (v < 0) throw new Error('aggregate state: bad base64');
      x = (x << 6) | v;
    }
    if (o < out.length) out[o++] = x >> 16;
    if (o < out.length) out[o++] = (x >> 8) & 255;
    if (o < out.length) out[o++] = x & 255;
  }
  return out;
}

/**
 * approx_count_distinct. Sparse (the exact set of 52-bit hashes) up to HLL_SPARSE_MAX distinct,
 * then 2^14 registers. The state is `s` (sorted hashes, 7 bytes each, base64) or `r` (registers,
 * 6 bits each, base64: 16 KiB). Registers are a function of the set of hashes seen, so any merge
 * order gives the same registers and the same answer.
 */
class Hll extends Base {
  readonly fn = 'approx_count_distinct';
  sparse: Set<number> | null = new Set();
  regs: Uint8Array | null = null;

  constructor(readonly t: SqlType) {
    super();
  }

  static from(s: AggState): Hll {
    const a = new Hll(s.t);
    if (typeof s.r === 'string') {
      const packed = fromBase64(s.r);
      if (packed.length !== (HLL_M * 6) / 8) throw new Error('aggregate state: bad registers');
      const regs = new Uint8Array(HLL_M);
      for (let i = 0, j = 0; i < HLL_M; i += 4, j += 3) {
        const x = (packed[j]! << 16) | (packed[j + 1]! << 8) | packed[j + 2]!;
        regs[i] = x >> 18;
        regs[i + 1] = (x >> 12) & 63;
        regs[i + 2] = (x >> 6) & 63;
        regs[i + 3] = x & 63;
      }
      for (const r of regs) if (r > HLL_Q + 1) throw new Error('aggregate state: bad register');
      a.sparse = null;
      a.regs = regs;
    } else if (typeof s.s === 'string') {
      const b = fromBase64(s.s);
      if (b.length % 7 !== 0) throw new Error('aggregate state: bad sparse HLL');
      for (let i = 0; i < b.length; i += 7) {
        let h = 0;
        for (let j = 0; j < 7; j++) h = h * 256 + b[i + j]!;
        a.insert(h);
      }
    } else throw new Error('aggregate state: HLL without data');
    return a;
  }

  insert(h: number): void {
    if (this.sparse !== null) {
      this.sparse.add(h);
      if (this.sparse.size > HLL_SPARSE_MAX) this.densify();
    } else setRegister(this.regs!, h);
  }

  private densify(): void {
    const regs = new Uint8Array(HLL_M);
    for (const h of this.sparse!) setRegister(regs, h);
    this.sparse = null;
    this.regs = regs;
  }

  add(v: Scalar): void {
    if (v === null) return;
    if (typeof v === 'number') {
      if (unsafeInt(this.t, v)) this.addBig(BigInt(v));
      else this.insert(hashNumber(v));
    } else if (typeof v === 'boolean') this.insert(hashWords(TAG_BOOL, v ? 1 : 0, 0));
    else if (this.t === 'integer') this.addBig(parseBig(v));
    else this.insert(hashString(v));
  }

  protected override addBig(v: bigint): void {
    this.insert(v >= MIN_SAFE_BIG && v <= MAX_SAFE_BIG ? hashNumber(Number(v)) : hashBig(v));
  }

  override addNumbers(values: NumericArray, valid: Uint8Array | null, rows: Int32Array | null, o = 0): void {
    if (values instanceof BigInt64Array) return super.addNumbers(values, valid, rows, o);
    const n = rows ? rows.length : values.length;
    for (let j = 0; j < n; j++) {
      const i = rows ? rows[j]! : j;
      if (valid !== null && ((valid[(o + i) >> 3]! >> ((o + i) & 7)) & 1) === 0) continue;
      this.insert(hashNumber(values[i]!));
    }
  }

  override addDictionary(dictionary: readonly string[], codes: Int32Array, valid: Uint8Array | null, rows: Int32Array | null, o = 0): void {
    const used = usedCodes(dictionary, codes, valid, rows, o);
    for (let c = 0; c < used.length; c++) if (used[c]) this.insert(hashString(dictionary[c]!));
  }

  merge(other: Accumulator): void {
    if (!(other instanceof Hll)) throw wrongKind(this, other);
    if (other.sparse !== null) {
      for (const h of other.sparse) this.insert(h);
      return;
    }
    if (this.sparse !== null) this.densify();
    const a = this.regs!;
    const b = other.regs!;
    for (let i = 0; i < HLL_M; i++) if (a[i]! < b[i]!) a[i] = b[i]!;
  }

  state(): AggState {
    if (this.sparse !== null) {
      const hs = [...this.sparse].sort((x, y) => x - y);
      const b = new Uint8Array(hs.length * 7);
      hs.forEach((h, i) => {
        for (let j = 6; j >= 0; j--) {
          b[i * 7 + j] = h % 256;
          h = Math.floor(h / 256);
        }
      });
      return { f: this.fn, t: this.t, s: toBase64(b) };
    }
    const regs = this.regs!;
    const packed = new Uint8Array((HLL_M * 6) / 8);
    for (let i = 0, j = 0; i < HLL_M; i += 4, j += 3) {
      const x = (regs[i]! << 18) | (regs[i + 1]! << 12) | (regs[i + 2]! << 6) | regs[i + 3]!;
      packed[j] = x >> 16;
      packed[j + 1] = (x >> 8) & 255;
      packed[j + 2] = x & 255;
    }
    return { f: this.fn, t: this.t, r: toBase64(packed) };
  }

  result(): Scalar {
    if (this.sparse !== null) return this.sparse.size;
    return Math.round(hllEstimate(this.regs!));
  }

  size(): number {
    return this.sparse !== null ? 64 + 24 * this.sparse.size : 64 + HLL_M;
  }
}

// ---------------------------------------------------------------------------------------------
// approx_quantile: KLL
// ---------------------------------------------------------------------------------------------

const KLL_C = 2 / 3;

/** Ascending, in place: insertion sort for the small low levels, the engine's sort otherwise. */
function sortNumbers(a: number[]): void {
  if (a.length > 32) {
    a.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    return;
  }
  for (let i = 1; i < a.length; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

/**
 * approx_quantile(x, q) by a KLL sketch (Karnin, Lang, Liberty 2016; the compactor scheme of
 * Liberty's reference implementation, c = 2/3). Level h holds items of weight 2^h; a full level is
 * sorted and every other item (a pseudo-random offset) moves up. Holds about 3k numbers at most.
 * The coin flips come from a xorshift seed kept in the state, so a given sequence of adds and merges
 * is reproducible. NaN inputs are ignored.
 */
class Kll extends Base {
  readonly fn = 'approx_quantile';
  levels: number[][] = [[]];
  /** Total weight: the number of values added. */
  n = 0;
  /** Items held. */
  held = 0;
  maxHeld = 0;
  seed = 0x2545f491;

  constructor(
    readonly t: SqlType,
    readonly q: number,
  ) {
    super();
    this.maxHeld = this.limit();
  }

  static from(s: AggState): Kll {
    const a = new Kll(s.t, num(s.q, 'q'));
    if (!Array.isArray(s.l) || s.l.length === 0) throw new Error('aggregate state: bad KLL levels');
    a.levels = s.l.map((lv: unknown) => {
      if (!Array.isArray(lv)) throw new Error('aggregate state: bad KLL level');
      return lv.map(decodeNum);
    });
    a.n = num(s.n, 'n');
    a.seed = num(s.r, 'seed') | 0 || 1;
    a.held = a.levels.reduce((x, l) => x + l.length, 0);
    a.maxHeld = a.limit();
    let w = 0;
    a.levels.forEach((l, h) => (w += l.length * 2 ** h));
    if (w !== a.n) throw new Error('aggregate state: KLL weights do not add up');
    return a;
  }

  /** Capacities per level, recomputed when a level is added. */
  private caps: number[] = [];

  private capacity(h: number): number {
    return this.caps[h]!;
  }

  private limit(): number {
    const H = this.levels.length;
    // Low levels keep at least 8 items (as DataSketches' KLL does): fewer, larger compactions.
    this.caps = this.levels.map((_, h) => Math.max(8, Math.ceil(KLL_K * KLL_C ** (H - h - 1)) + 1));
    return this.caps.reduce((a, b) => a + b, 0);
  }

  private bit(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x | 0;
    return (x >>> 31) & 1;
  }

  private push(x: number): void {
    if (x !== x) return;
    this.levels[0]!.push(x === 0 ? 0 : x);
    this.n++;
    if (++this.held >= this.maxHeld) this.compress();
  }

  private compress(): void {
    for (let h = 0; h < this.levels.length; h++) {
      if (this.levels[h]!.length >= this.capacity(h)) {
        if (h + 1 >= this.levels.length) {
          this.levels.push([]);
          this.maxHeld = this.limit();
        }
        const a = this.levels[h]!;
        sortNumbers(a);
        const up = this.levels[h + 1]!;
        const len = a.length;
        const odd = len & 1;
        for (let i = odd + this.bit(); i < len; i += 2) up.push(a[i]!);
        a.length = odd; // the smallest stays when the count is odd
        this.held -= (len - odd) / 2;
        return;
      }
    }
  }

  add(v: Scalar): void {
    if (typeof v === 'number') this.push(v);
    else if (typeof v === 'string' && this.t === 'integer') this.push(Number(parseBig(v)));
    // json strings and booleans are not numbers: ignored.
  }

  protected override addBig(v: bigint): void {
    this.push(Number(v));
  }

  override addNumbers(values: NumericArray, valid: Uint8Array | null, rows: Int32Array | null, o = 0): void {
    if (values instanceof BigInt64Array) return super.addNumbers(values, valid, rows, o);
    const n = rows ? rows.length : values.length;
    for (let j = 0; j < n; j++) {
      const i = rows ? rows[j]! : j;
      if (valid !== null && ((valid[(o + i) >> 3]! >> ((o + i) & 7)) & 1) === 0) continue;
      this.push(values[i]!);
    }
  }

  merge(other: Accumulator): void {
    if (!(other instanceof Kll)) throw wrongKind(this, other);
    while (this.levels.length < other.levels.length) this.levels.push([]);
    this.maxHeld = this.limit();
    other.levels.forEach((l, h) => {
      for (const x of l) this.levels[h]!.push(x);
    });
    this.n += other.n;
    this.held += other.held;
    this.seed = (this.seed ^ other.seed) | 0 || 1;
    while (this.held >= this.maxHeld) this.compress();
  }

  state(): AggState {
    return { f: this.fn, t: this.t, q: this.q, n: this.n, r: this.seed, l: this.levels.map((l) => l.map(encodeNum)) };
  }

  result(): Scalar {
    if (this.n === 0) return null;
    const items: { v: number; w: number }[] = [];
    this.levels.forEach((l, h) => {
      for (const v of l) items.push({ v, w: 2 ** h });
    });
    items.sort((a, b) => (a.v < b.v ? -1 : a.v > b.v ? 1 : 0));
    // DuckDB's quantile_disc index: max(1, n − ⌊n − n·q⌋) − 1.
    const n = this.n;
    const r = Math.max(1, n - Math.floor(n - n * this.q)) - 1;
    let cum = 0;
    for (const it of items) {
      cum += it.w;
      if (cum > r) return it.v;
    }
    return items[items.length - 1]!.v;
  }

  size(): number {
    return 96 + 8 * this.held;
  }
}
