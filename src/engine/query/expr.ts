// Vectorised evaluation of row-level expressions over a batch of rows.
//
// A `Batch` is a number of rows and a way to get a column by name (`id`, `type`, `data.likes`, …)
// as a `ColumnVector`: typed arrays for numbers and booleans, Int32 codes plus a dictionary for
// dictionary-encoded strings, plain string arrays otherwise. Two adapters make batches: one from the
// Apache Arrow record batches parquet-wasm yields (dictionary columns stay codes; nothing is decoded
// until a column is asked for), one from replica rows (the hot tail read from the shard objects).
//
// Evaluation keeps strings out of the hot loop where it can: a predicate or a string function on a
// dictionary column runs once per dictionary entry and the answer is mapped through the codes; numeric
// comparisons and arithmetic run over Float64Array/Int32Array. Everything else falls back to a
// per-row path over `Scalar`s with SQL semantics (three-valued logic, NULL in, NULL out), the same
// semantics `evalScalar`-style callers get through a one-row batch. A `data` path reads its shredded
// `data.<path>` column when the batch has one and otherwise parses `data` once per row per batch.
//
// Semantics follow DuckDB 1.5 where the two can differ: strings compare by code point, `/` is
// double division (x/0 is ±Infinity or NaN), `%` by zero is NULL, `round` and casts of strings to
// integer round half away from zero, casts of doubles to integer half to even, `length` counts code
// points, date_trunc is UTC with ISO weeks (Monday). A failed CAST yields NULL (DuckDB would raise
// an error) and a comparison between values of different kinds (a JSON string against a number) is
// NULL.

import { Type, type Data, type RecordBatch, type Table, type Vector } from 'apache-arrow';
import { compareCodePoints, type ReplicaRow } from '../parquet.js';
import type { DateUnit, Expr, Scalar, SqlType } from './ast.js';

// ---------------------------------------------------------------------------------------------
// Vectors and batches

/** Per-row validity: 1 where the row has a value, 0 where it is NULL; `null` means no NULLs at all. */
export type Validity = Uint8Array | null;

/**
 * A column (or an evaluated expression) over the rows of a batch.
 *
 * - `num`: integers, doubles and timestamps (epoch ms) as numbers; Int64 arrives converted.
 * - `bool`: 0/1 per row.
 * - `dict`: dictionary-encoded strings; `codes[i]` indexes `dictionary` (ignored where invalid).
 * - `str`: plain strings, NULL as null.
 * - `any`: values of a per-row type (a `data` path read from JSON), with their static type.
 * - `const`: one value for every row (literals).
 */
export type ColumnVector =
  | { kind: 'num'; type: 'integer' | 'double' | 'timestamp'; values: Float64Array | Int32Array; valid: Validity }
  | { kind: 'bool'; values: Uint8Array; valid: Validity }
  | { kind: 'dict'; codes: Int32Array; dictionary: readonly string[]; valid: Validity }
  | { kind: 'str'; values: readonly (string | null)[] }
  | { kind: 'any'; type: SqlType; values: readonly Scalar[] }
  | { kind: 'const'; type: SqlType; value: Scalar };

/** Rows to evaluate over: a length and the columns by their file names. */
export interface Batch {
  readonly length: number;
  /** The column named as in the replica file (`type`, `data`, `data.user.name`), or undefined if absent. */
  column(name: string): ColumnVector | undefined;
}

/** The value of row `i` of a vector (timestamps as epoch ms). */
export function valueAt(v: ColumnVector, i: number): Scalar {
  switch (v.kind) {
    case 'num':
      return v.valid && !v.valid[i] ? null : v.values[i]!;
    case 'bool':
      return v.valid && !v.valid[i] ? null : v.values[i] === 1;
    case 'dict':
      return v.valid && !v.valid[i] ? null : v.dictionary[v.codes[i]!]!;
    case 'str':
    case 'any':
      return v.values[i] ?? null;
    case 'const':
      return v.value;
  }
}

/** The static type of a vector's values. */
export function typeOf(v: ColumnVector): SqlType {
  switch (v.kind) {
    case 'num':
      return v.type;
    case 'bool':
      return 'boolean';
    case 'dict':
    case 'str':
      return 'string';
    default:
      return v.type;
  }
}

/** Whether row `i` is NULL. */
export function isNullAt(v: ColumnVector, i: number): boolean {
  switch (v.kind) {
    case 'num':
    case 'bool':
    case 'dict':
      return v.valid !== null && v.valid[i] === 0;
    case 'const':
      return v.value === null;
    default:
      return (v.values[i] ?? null) === null;
  }
}

/** A batch over plain vectors (tests, post-aggregation rows). */
export function batchOf(length: number, columns: Record<string, ColumnVector>): Batch {
  return { length, column: (name) => columns[name] };
}

/** A vector of the given values as the per-row fallback kind. */
export function anyVector(type: SqlType, values: readonly Scalar[]): ColumnVector {
  return { kind: 'any', type, values };
}

// ---------------------------------------------------------------------------------------------
// Adapters: Arrow record batches (parquet-wasm) and replica rows

const textDecoder = new TextDecoder();

/** Validity of an Arrow chunk as one byte per row, or null when it has no NULLs. */
function arrowValidity(d: Data): Validity {
  if (d.nullCount === 0 || !d.nullBitmap) return null;
  const bits = d.nullBitmap;
  const n = d.length;
  const off = d.offset;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const j = i + off;
    out[i] = (bits[j >> 3]! >> (j & 7)) & 1;
  }
  return out;
}

/**
 * Strings of a Utf8 chunk (offsets and bytes are indexed from 0 in the chunk; validity by offset).
 * When the chunk's text is ASCII and every string shorter than SHORT (stream names usually are), it
 * is decoded once and cut with substring, character offsets being byte offsets; else each string is
 * decoded on its own. V8 copies substrings that short, where a longer one would be a slice keeping
 * the whole chunk's text alive for as long as it lives (a group key can live for the query).
 */
function utf8Strings(d: Data): (string | null)[] {
  const offsets = d.valueOffsets as Int32Array;
  const bytes = d.values as Uint8Array;
  const valid = arrowValidity(d);
  const n = d.length;
  const out = new Array<string | null>(n);
  if (n === 0) return out;
  let short = true;
  for (let i = 0; i < n && short; i++) short = offsets[i + 1]! - offsets[i]! < SHORT;
  const start = offsets[0]!;
  const all = short ? textDecoder.decode(bytes.subarray(start, offsets[n]!)) : '';
  // As many characters as bytes, and no replacement character: every byte was ASCII (a multi-byte
  // sequence gives fewer characters; an invalid byte gives U+FFFD).
  if (short && all.length === offsets[n]! - start && !all.includes('\uFFFD')) {
    for (let i = 0; i < n; i++) out[i] = valid && !valid[i] ? null : all.substring(offsets[i]! - start, offsets[i + 1]! - start);
    return out;
  }
  for (let i = 0; i < n; i++) {
    out[i] = valid && !valid[i] ? null : textDecoder.decode(bytes.subarray(offsets[i]!, offsets[i + 1]!));
  }
  return out;
}

/** Strings shorter than this are cut from a chunk's decoded text (V8 copies substrings under 13 characters). */
const SHORT = 13;

/** Decoded dictionaries, per Arrow dictionary vector (shared by the chunks of one column). */
const dictionaries = new WeakMap<object, string[]>();

function dictionaryStrings(dict: Vector): string[] {
  let out = dictionaries.get(dict);
  if (!out) {
    out = [];
    for (const d of dict.data) for (const s of utf8Strings(d)) out.push(s ?? '');
    dictionaries.set(dict, out);
  }
  return out;
}

/** Milliseconds per unit of Arrow's TimeUnit (SECOND, MILLISECOND, MICROSECOND, NANOSECOND). */
const MS_PER_UNIT = [1000, 1, 1e-3, 1e-6];

/** One Arrow chunk as a ColumnVector. */
export function vectorFromArrow(d: Data): ColumnVector {
  const valid = arrowValidity(d);
  const n = d.length;
  switch (d.typeId) {
    case Type.Dictionary: {
      const dictionary = dictionaryStrings(d.dictionary!);
      const raw = d.values as Int32Array | Uint32Array | Int16Array | Int8Array;
      const codes = raw instanceof Int32Array ? raw.subarray(0, n) : Int32Array.from(raw.subarray(0, n));
      return { kind: 'dict', codes, dictionary, valid };
    }
    case Type.Utf8:
    case Type.LargeUtf8:
      return { kind: 'str', values: utf8Strings(d) };
    case Type.Bool: {
      const bits = d.values as Uint8Array;
      const values = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const j = i + d.offset;
        values[i] = (bits[j >> 3]! >> (j & 7)) & 1;
      }
      return { kind: 'bool', values, valid };
    }
    case Type.Float: {
      const raw = d.values as Float64Array | Float32Array;
      return { kind: 'num', type: 'double', values: raw instanceof Float64Array ? raw.subarray(0, n) : Float64Array.from(raw), valid };
    }
    case Type.Int:
    case Type.Timestamp: {
      const type = d.typeId === Type.Timestamp ? 'timestamp' : 'integer';
      const raw = d.values as ArrayLike<number | bigint>;
      if (raw instanceof Int32Array) return { kind: 'num', type, values: raw.subarray(0, n), valid };
      const values = new Float64Array(n);
      if (raw instanceof BigInt64Array) {
        // hi·2³² + lo as doubles: one rounding of the exact value, as Number(bigint) gives, without a BigInt per row.
        const w = new Int32Array(raw.buffer, raw.byteOffset, 2 * n);
        for (let i = 0; i < n; i++) values[i] = w[2 * i + 1]! * 4294967296 + (w[2 * i]! >>> 0);
      } else for (let i = 0; i < n; i++) values[i] = Number(raw[i]!);
      const scale = type === 'timestamp' ? MS_PER_UNIT[(d.type as unknown as { unit: number }).unit]! : 1;
      if (scale !== 1) for (let i = 0; i < n; i++) values[i] = Math.floor(values[i]! * scale);
      return { kind: 'num', type, values, valid };
    }
    default:
      throw new TypeError(`unsupported Arrow column type ${String(d.type)}`);
  }
}

/**
 * A Batch over one Arrow record batch (as `tableFromIPC(readParquet(…).intoIPCStream())` or
 * `ParquetFile.read` yield). Columns are converted on first use and kept; dictionary columns stay codes.
 */
export function batchFromArrow(rb: RecordBatch): Batch {
  const cache = new Map<string, ColumnVector | undefined>();
  return {
    length: rb.numRows,
    column(name) {
      if (cache.has(name)) return cache.get(name);
      const child = rb.getChild(name);
      let v: ColumnVector | undefined;
      if (child) {
        if (child.data.length !== 1) throw new TypeError(`column ${name} has ${child.data.length} chunks in one record batch`);
        v = vectorFromArrow(child.data[0]!);
      }
      cache.set(name, v);
      return v;
    },
  };
}

/** One Batch per record batch of an Arrow table. */
export function batchesFromArrow(table: Table): Batch[] {
  return table.batches.map(batchFromArrow);
}

/** A dictionary vector of strings (codes in first-seen order). */
export function dictVector(values: readonly (string | null)[]): ColumnVector {
  const n = values.length;
  const codes = new Int32Array(n);
  const index = new Map<string, number>();
  const dictionary: string[] = [];
  let valid: Uint8Array | null = null;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      if (!valid) valid = new Uint8Array(n).fill(1);
      valid[i] = 0;
      continue;
    }
    let c = index.get(v);
    if (c === undefined) {
      c = dictionary.length;
      index.set(v, c);
      dictionary.push(v);
    }
    codes[i] = c;
  }
  return { kind: 'dict', codes, dictionary, valid };
}

/**
 * A Batch over replica rows (the hot tail): the same columns as a replica file without shredded
 * ones (paths are read from `data`). String columns become dictionary vectors so that group-bys on
 * them take the same integer path as Parquet batches.
 */
export function batchFromRows(rows: readonly ReplicaRow[]): Batch {
  const n = rows.length;
  const nums = (type: 'integer' | 'timestamp', get: (r: ReplicaRow) => number): ColumnVector => {
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) values[i] = get(rows[i]!);
    return { kind: 'num', type, values, valid: null };
  };
  const make: Record<string, () => ColumnVector> = {
    id: () => ({ kind: 'str', values: rows.map((r) => r.id) }),
    stream: () => dictVector(rows.map((r) => r.stream)),
    type: () => dictVector(rows.map((r) => r.type)),
    source: () => dictVector(rows.map((r) => r.source)),
    subject: () => dictVector(rows.map((r) => r.subject)),
    time: () => nums('timestamp', (r) => r.time),
    received_at: () => nums('timestamp', (r) => r.receivedAt),
    shard: () => nums('integer', (r) => r.shard),
    seq: () => nums('integer', (r) => r.seq),
    version: () => nums('integer', (r) => r.version),
    data: () => ({ kind: 'str', values: rows.map((r) => r.data) }),
  };
  const cache = new Map<string, ColumnVector>();
  return {
    length: n,
    column(name) {
      let v = cache.get(name);
      if (!v && Object.hasOwn(make, name)) cache.set(name, (v = make[name]!()));
      return v;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Scalar semantics (the per-row fallback, also used after aggregation)

/** A runtime error in a query that the caller can fix (bad types in an expression). */
export class QueryRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryRuntimeError';
  }
}

/**
 * Compares two non-null values of one kind: numbers numerically, strings by code point, booleans
 * false < true. Values of different kinds are incomparable: null.
 */
export function compareValues(a: Exclude<Scalar, null>, b: Exclude<Scalar, null>): number | null {
  const ta = typeof a;
  if (ta !== typeof b) return null;
  if (ta === 'number')
    return (a as number) < (b as number)
      ? -1
      : (a as number) > (b as number)
        ? 1
        : (a as number) === (b as number)
          ? 0
          : nanOrder(a as number, b as number);
  if (ta === 'string') return compareCodePoints(a as string, b as string);
  return (a ? 1 : 0) - (b ? 1 : 0);
}

/** DuckDB orders NaN above every other double and equal to itself. */
function nanOrder(a: number, b: number): number {
  const na = Number.isNaN(a);
  const nb = Number.isNaN(b);
  return na && nb ? 0 : na ? 1 : -1;
}

type CmpOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

function testCmp(op: CmpOp, c: number): boolean {
  switch (op) {
    case '=':
      return c === 0;
    case '<>':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

const FLIP: Record<CmpOp, CmpOp> = { '=': '=', '<>': '<>', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

const DAY = 86_400_000;

/** date_trunc in UTC; weeks start on Monday (1970-01-05 was one). */
export function truncateTime(unit: DateUnit, t: number): number {
  switch (unit) {
    case 'millisecond':
      return t;
    case 'second':
      return Math.floor(t / 1000) * 1000;
    case 'minute':
      return Math.floor(t / 60_000) * 60_000;
    case 'hour':
      return Math.floor(t / 3_600_000) * 3_600_000;
    case 'day':
      return Math.floor(t / DAY) * DAY;
    case 'week':
      return Math.floor((t - 4 * DAY) / (7 * DAY)) * 7 * DAY + 4 * DAY;
    default: {
      const d = new Date(t);
      const y = d.getUTCFullYear();
      const m = d.getUTCMonth();
      if (unit === 'month') return Date.UTC(y, m, 1);
      if (unit === 'quarter') return Date.UTC(y, m - (m % 3), 1);
      return Date.UTC(y, 0, 1);
    }
  }
}

/** Rounds half away from zero (DuckDB's round, and its casts of strings to integer). */
function roundHalfAway(x: number, digits = 0): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  const r = Math.round(Math.abs(x) * f) / f;
  return x < 0 ? -r : r;
}

/** Rounds half to even (DuckDB's casts of doubles to integer: CAST(2.5 AS BIGINT) is 2, of '2.5' is 3). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r) + 0;
}

/** A double as DuckDB renders it as text: `2.0`, `0.1`, `1e+20`, `1.5e-07`. */
export function formatDouble(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e16 || a < 1e-4)) {
    const [m, e] = x.toExponential().split('e') as [string, string];
    const sign = e.startsWith('-') ? '-' : '+';
    const digits = e.replace(/^[+-]/, '');
    return `${m}e${sign}${digits.padStart(2, '0')}`;
  }
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

/** A timestamp (epoch ms) as ISO-8601 with milliseconds and `Z`: how results render them. */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}

/** A timestamp as DuckDB casts a TIMESTAMPTZ to VARCHAR under TimeZone UTC. */
function timestampText(ms: number): string {
  const iso = new Date(ms).toISOString();
  const frac = iso.slice(20, 23);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac === '000' ? '' : `.${frac.replace(/0+$/, '')}`}+00`;
}

/** Parses a timestamp text (ISO-8601 or `YYYY-MM-DD HH:MM:SS`, UTC unless it says), or null. */
export function parseTimestamp(text: string): number | null {
  let s = text.trim().replace(' ', 'T');
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += 'T00:00:00';
  if (!/(Z|[+-]\d{2}(:?\d{2})?)$/i.test(s)) s += 'Z';
  else s = s.replace(/([+-]\d{2})$/, '$1:00');
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

/** CAST semantics on one value of static type `from`; NULL where the value does not convert. */
export function castValue(v: Scalar, from: SqlType, to: Exclude<SqlType, 'json' | 'null'>): Scalar {
  if (v === null) return null;
  switch (to) {
    case 'string':
      if (typeof v === 'string') return v;
      if (typeof v === 'boolean') return v ? 'true' : 'false';
      if (from === 'timestamp') return timestampText(v);
      return from === 'integer' ? String(v) : formatDouble(v);
    case 'double':
    case 'integer': {
      let x: number;
      if (typeof v === 'number') {
        if (from === 'timestamp') return null;
        x = v;
      } else if (typeof v === 'boolean') x = v ? 1 : 0;
      else {
        const s = v.trim();
        if (s === '' || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$|^[+-]?(inf|infinity|nan)$/i.test(s)) return null;
        x = /inf/i.test(s) ? (s.startsWith('-') ? -Infinity : Infinity) : /nan/i.test(s) ? NaN : Number(s);
        if (to === 'integer') return Number.isFinite(x) ? roundHalfAway(x) : null;
      }
      if (to === 'double') return x;
      return Number.isFinite(x) ? roundHalfEven(x) : null;
    }
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (typeof v === 'number') return from === 'timestamp' ? null : v !== 0;
      switch (v.trim().toLowerCase()) {
        case 'true':
        case 't':
        case '1':
          return true;
        case 'false':
        case 'f':
        case '0':
          return false;
        default:
          return null;
      }
    case 'timestamp':
      if (typeof v === 'string') return parseTimestamp(v);
      return from === 'timestamp' ? v : null;
  }
}

/** A character as a literal in a `u`-flag regular expression. */
function escapeRegex(c: string): string {
  return /[.*+?^${}()|[\]\\]/u.test(c) ? `\\${c}` : c;
}

/** A LIKE pattern as a regular expression over code points. */
export function likeRegex(pattern: string, escape: string | null, caseInsensitive: boolean): RegExp {
  let src = '';
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (escape !== null && c === escape && i + 1 < chars.length) {
      src += escapeRegex(chars[++i]!);
    } else if (c === '%') src += '[^]*';
    else if (c === '_') src += '[^]';
    else src += escapeRegex(c);
  }
  return new RegExp(`^${src}$`, caseInsensitive ? 'iu' : 'u');
}

/** length in code points. */
function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff || i + 1 >= s.length) n++;
    else {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
      n++;
    }
  }
  return n;
}

function arith(op: '+' | '-' | '*' | '/' | '%', a: number, b: number, integer: boolean): number | null {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '%':
      if (b === 0) return integer ? null : NaN;
      return a % b;
  }
}

// ---------------------------------------------------------------------------------------------
// The evaluator

const TRUE: ColumnVector = { kind: 'const', type: 'boolean', value: true };

/** Rows where a boolean vector is TRUE (not FALSE, not NULL), as row indexes. */
export function selectTrue(v: ColumnVector, length: number): Int32Array {
  if (v.kind === 'const') {
    if (v.value === true) return identity(length);
    if (v.value === false || v.value === null) return new Int32Array(0);
  }
  const out = new Int32Array(length);
  let k = 0;
  if (v.kind === 'bool') {
    const { values, valid } = v;
    if (valid) {
      for (let i = 0; i < length; i++) if (values[i]! & valid[i]!) out[k++] = i;
    } else {
      for (let i = 0; i < length; i++) if (values[i]) out[k++] = i;
    }
  } else {
    for (let i = 0; i < length; i++) {
      const x = valueAt(v, i);
      if (x === true) out[k++] = i;
      else if (x !== false && x !== null) throw new QueryRuntimeError(`a condition must be boolean, not ${typeof x}`);
    }
  }
  return out.subarray(0, k);
}

const identities: Int32Array[] = [];

/** 0, 1, …, n − 1 (shared; do not write into it). */
export function identity(n: number): Int32Array {
  let id = identities[0];
  if (!id || id.length < n) {
    id = new Int32Array(Math.max(n, 16_384));
    for (let i = 0; i < id.length; i++) id[i] = i;
    identities[0] = id;
  }
  return id.subarray(0, n);
}

/** Values for `groupRef`/`aggRef` expressions when evaluating after aggregation. */
export interface Refs {
  groups: ColumnVector[];
  aggregates: ColumnVector[];
}

/**
 * Evaluates expressions over one batch. Keeps what several expressions share: column vectors, the
 * parsed `data` documents and path vectors.
 */
export class Evaluator {
  private docs: unknown[] | null = null;
  private readonly paths = new Map<string, ColumnVector>();
  private readonly regexes = new Map<string, RegExp>();

  constructor(
    readonly batch: Batch,
    private readonly refs?: Refs,
  ) {}

  get length(): number {
    return this.batch.length;
  }

  /** The rows where `where` is TRUE; all rows when it is null. */
  filter(where: Expr | null): Int32Array {
    if (!where) return identity(this.batch.length);
    return selectTrue(this.evaluate(where), this.batch.length);
  }

  /** The expression's value for every row of the batch. */
  evaluate(e: Expr): ColumnVector {
    switch (e.kind) {
      case 'column': {
        const v = this.batch.column(e.name);
        if (!v) throw new QueryRuntimeError(`column ${e.name} is not in the batch`);
        return v;
      }
      case 'path':
        return this.path(e.path);
      case 'literal':
        return { kind: 'const', type: e.type, value: e.value };
      case 'unary':
        return e.op === 'not' ? this.not(this.evaluate(e.arg)) : this.negate(this.evaluate(e.arg));
      case 'binary':
        return this.binary(e.op, e.left, e.right);
      case 'in':
        return this.inList(e.arg, e.list, e.negated);
      case 'between': {
        const x = this.evaluate(e.arg);
        const r = this.and(this.compare('>=', x, this.evaluate(e.low)), this.compare('<=', x, this.evaluate(e.high)));
        return e.negated ? this.not(r) : r;
      }
      case 'like':
        return this.like(this.evaluate(e.arg), e.pattern, e.escape, e.caseInsensitive, e.negated);
      case 'isNull':
        return this.isNull(this.evaluate(e.arg), e.negated);
      case 'cast':
        return this.cast(this.evaluate(e.arg), e.to);
      case 'call':
        return this.call(e);
      case 'case':
        return this.caseWhen(e.whens, e.otherwise);
      case 'groupRef':
      case 'aggRef': {
        const list = e.kind === 'groupRef' ? this.refs?.groups : this.refs?.aggregates;
        const v = list?.[e.index];
        if (!v) throw new QueryRuntimeError(`${e.kind} ${e.index} has no value here`);
        return v;
      }
      case 'aggregate':
        throw new QueryRuntimeError('an aggregate cannot be evaluated per row');
    }
  }

  // -- paths

  private path(path: string[]): ColumnVector {
    const name = `data.${path.join('.')}`;
    const shredded = this.batch.column(name);
    if (shredded) return shredded;
    let v = this.paths.get(name);
    if (v) return v;
    const docs = this.parsedDocs();
    const n = docs.length;
    const values = new Array<Scalar>(n);
    for (let i = 0; i < n; i++) {
      let x: unknown = docs[i];
      for (const seg of path) {
        if (x === null || typeof x !== 'object' || Array.isArray(x) || !Object.hasOwn(x, seg)) {
          x = null;
          break;
        }
        x = (x as Record<string, unknown>)[seg];
      }
      values[i] = x === undefined || x === null ? null : typeof x === 'object' ? JSON.stringify(x) : (x as Scalar);
    }
    v = { kind: 'any', type: 'json', values };
    this.paths.set(name, v);
    return v;
  }

  private parsedDocs(): unknown[] {
    if (this.docs) return this.docs;
    const data = this.batch.column('data');
    if (!data) throw new QueryRuntimeError('a data path needs the data column or its shredded column');
    const n = this.batch.length;
    const docs = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      const text = valueAt(data, i);
      if (typeof text !== 'string') docs[i] = null;
      else {
        try {
          docs[i] = JSON.parse(text);
        } catch {
          docs[i] = null;
        }
      }
    }
    return (this.docs = docs);
  }

  // -- logic

  private asBool(v: ColumnVector): ColumnVector {
    if (v.kind === 'bool' || v.kind === 'const') {
      if (v.kind === 'const' && v.value !== null && typeof v.value !== 'boolean')
        throw new QueryRuntimeError(`${String(v.value)} is not a boolean`);
      return v;
    }
    const n = this.batch.length;
    const values = new Uint8Array(n);
    let valid: Uint8Array | null = null;
    for (let i = 0; i < n; i++) {
      const x = valueAt(v, i);
      if (x === null) {
        valid ??= new Uint8Array(n).fill(1);
        valid[i] = 0;
      } else if (typeof x === 'boolean') values[i] = x ? 1 : 0;
      else throw new QueryRuntimeError(`${JSON.stringify(x)} is not a boolean`);
    }
    return { kind: 'bool', values, valid };
  }

  /** Expands a const boolean to a bool vector. */
  private boolVector(v: ColumnVector): { values: Uint8Array; valid: Validity } {
    const b = this.asBool(v);
    if (b.kind === 'bool') return b;
    const n = this.batch.length;
    const value = (b as { value: Scalar }).value;
    return {
      values: new Uint8Array(n).fill(value === true ? 1 : 0),
      valid: value === null ? new Uint8Array(n) : null,
    };
  }

  private not(v: ColumnVector): ColumnVector {
    const b = this.asBool(v);
    if (b.kind === 'const') return { kind: 'const', type: 'boolean', value: b.value === null ? null : !b.value };
    const { values, valid } = b as { values: Uint8Array; valid: Validity };
    const out = new Uint8Array(values.length);
    for (let i = 0; i < out.length; i++) out[i] = values[i]! ^ 1;
    return { kind: 'bool', values: out, valid };
  }

  private and(a: ColumnVector, b: ColumnVector): ColumnVector {
    return this.logic(a, b, true);
  }

  private logic(a0: ColumnVector, b0: ColumnVector, isAnd: boolean): ColumnVector {
    const a = this.asBool(a0);
    const b = this.asBool(b0);
    // Short cuts with a constant side: FALSE AND x = FALSE, TRUE AND x = x, and the duals for OR.
    for (const [c, other] of [
      [a, b],
      [b, a],
    ] as const) {
      if (c.kind !== 'const') continue;
      if (c.value === !isAnd) return c;
      if (c.value === isAnd) return other;
    }
    const x = this.boolVector(a);
    const y = this.boolVector(b);
    const n = this.batch.length;
    const values = new Uint8Array(n);
    if (!x.valid && !y.valid) {
      if (isAnd) for (let i = 0; i < n; i++) values[i] = x.values[i]! & y.values[i]!;
      else for (let i = 0; i < n; i++) values[i] = x.values[i]! | y.values[i]!;
      return { kind: 'bool', values, valid: null };
    }
    const valid = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const xv = x.valid ? x.valid[i]! : 1;
      const yv = y.valid ? y.valid[i]! : 1;
      const xb = x.values[i]!;
      const yb = y.values[i]!;
      if (isAnd) {
        // FALSE wins; else NULL if either is NULL; else TRUE.
        if ((xv && !xb) || (yv && !yb)) valid[i] = 1;
        else if (xv && yv) {
          values[i] = 1;
          valid[i] = 1;
        }
      } else {
        if ((xv && xb) || (yv && yb)) {
          values[i] = 1;
          valid[i] = 1;
        } else if (xv && yv) valid[i] = 1;
      }
    }
    return { kind: 'bool', values, valid };
  }

  private isNull(v: ColumnVector, negated: boolean): ColumnVector {
    const n = this.batch.length;
    if (v.kind === 'const') return { kind: 'const', type: 'boolean', value: (v.value === null) !== negated };
    const values = new Uint8Array(n);
    const want = negated ? 0 : 1;
    if (v.kind === 'num' || v.kind === 'bool' || v.kind === 'dict') {
      if (!v.valid) values.fill(want ^ 1);
      else for (let i = 0; i < n; i++) values[i] = v.valid[i]! ^ want;
    } else {
      for (let i = 0; i < n; i++) values[i] = (v.values[i] ?? null) === null ? want : want ^ 1;
    }
    return { kind: 'bool', values, valid: null };
  }

  // -- comparisons

  private binary(op: Expr & { kind: 'binary' } extends { op: infer O } ? O : never, l: Expr, r: Expr): ColumnVector {
    switch (op) {
      case 'and':
      case 'or':
        return this.logic(this.evaluate(l), this.evaluate(r), op === 'and');
      case '=':
      case '<>':
      case '<':
      case '<=':
      case '>':
      case '>=':
        return this.compare(op, this.evaluate(l), this.evaluate(r));
      case '||':
        return this.concat(this.evaluate(l), this.evaluate(r));
      default:
        return this.arithmetic(op, this.evaluate(l), this.evaluate(r));
    }
  }

  /** A predicate over a dictionary column: once per entry, then mapped through the codes. */
  private dictPredicate(v: ColumnVector & { kind: 'dict' }, test: (s: string) => boolean | null): ColumnVector {
    const m = v.dictionary.length;
    const lut = new Uint8Array(m);
    const lutValid = new Uint8Array(m);
    let anyNull = v.valid !== null;
    for (let j = 0; j < m; j++) {
      const r = test(v.dictionary[j]!);
      if (r === null) anyNull = true;
      else {
        lutValid[j] = 1;
        lut[j] = r ? 1 : 0;
      }
    }
    const n = this.batch.length;
    const values = new Uint8Array(n);
    const codes = v.codes;
    for (let i = 0; i < n; i++) values[i] = lut[codes[i]!]!;
    if (!anyNull) return { kind: 'bool', values, valid: null };
    const valid = new Uint8Array(n);
    const vv = v.valid;
    for (let i = 0; i < n; i++) valid[i] = vv && !vv[i] ? 0 : lutValid[codes[i]!]!;
    return { kind: 'bool', values, valid };
  }

  private compare(op: CmpOp, a: ColumnVector, b: ColumnVector): ColumnVector {
    if (a.kind === 'const' && b.kind !== 'const') return this.compare(FLIP[op], b, a);
    const n = this.batch.length;
    if (b.kind === 'const') {
      const c = b.value;
      if (a.kind === 'const') {
        const r = a.value === null || c === null ? null : compareValues(a.value, c);
        return { kind: 'const', type: 'boolean', value: r === null ? null : testCmp(op, r) };
      }
      if (c === null) return { kind: 'const', type: 'boolean', value: null };
      if (a.kind === 'dict') {
        if (typeof c !== 'string') return { kind: 'const', type: 'boolean', value: null };
        return this.dictPredicate(a, (s) => testCmp(op, compareCodePoints(s, c)));
      }
      if (a.kind === 'num' && typeof c === 'number' && !Number.isNaN(c)) {
        const values = new Uint8Array(n);
        const x = a.values;
        switch (op) {
          case '=':
            for (let i = 0; i < n; i++) values[i] = x[i] === c ? 1 : 0;
            break;
          case '<>':
            for (let i = 0; i < n; i++) values[i] = x[i] !== c ? 1 : 0;
            break;
          case '<':
            for (let i = 0; i < n; i++) values[i] = x[i]! < c ? 1 : 0;
            break;
          case '<=':
            for (let i = 0; i < n; i++) values[i] = x[i]! <= c ? 1 : 0;
            break;
          case '>':
            for (let i = 0; i < n; i++) values[i] = x[i]! > c ? 1 : 0;
            break;
          case '>=':
            for (let i = 0; i < n; i++) values[i] = x[i]! >= c ? 1 : 0;
            break;
        }
        if (a.type === 'double') for (let i = 0; i < n; i++) if (Number.isNaN(x[i])) values[i] = testCmp(op, 1) ? 1 : 0;
        return { kind: 'bool', values, valid: a.valid };
      }
    }
    if (a.kind === 'num' && b.kind === 'num' && a.type !== 'double' && b.type !== 'double') {
      const values = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const x = a.values[i]!;
        const y = b.values[i]!;
        values[i] = testCmp(op, x < y ? -1 : x > y ? 1 : 0) ? 1 : 0;
      }
      return { kind: 'bool', values, valid: mergeValidity(a.valid, b.valid, n) };
    }
    return this.perRowBool(n, (i) => {
      const x = valueAt(a, i);
      const y = valueAt(b, i);
      if (x === null || y === null) return null;
      const r = compareValues(x, y);
      return r === null ? null : testCmp(op, r);
    });
  }

  private perRowBool(n: number, f: (i: number) => boolean | null): ColumnVector {
    const values = new Uint8Array(n);
    let valid: Uint8Array | null = null;
    for (let i = 0; i < n; i++) {
      const r = f(i);
      if (r === null) {
        valid ??= new Uint8Array(n).fill(1);
        valid[i] = 0;
      } else values[i] = r ? 1 : 0;
    }
    return { kind: 'bool', values, valid };
  }

  private inList(argExpr: Expr, listExprs: Expr[], negated: boolean): ColumnVector {
    const arg = this.evaluate(argExpr);
    const list = listExprs.map((e) => this.evaluate(e));
    let result: ColumnVector;
    if (list.every((v) => v.kind === 'const')) {
      const consts = list.map((v) => (v as { value: Scalar }).value);
      const hasNull = consts.includes(null);
      const nonNull = consts.filter((c): c is Exclude<Scalar, null> => c !== null);
      const test = (x: Exclude<Scalar, null>): boolean | null => {
        for (const c of nonNull) if (compareValues(x, c) === 0) return true;
        return hasNull ? null : false;
      };
      if (arg.kind === 'dict') result = this.dictPredicate(arg, test);
      else if (arg.kind === 'num' && nonNull.every((c) => typeof c === 'number') && !hasNull) {
        const set = new Set(nonNull as number[]);
        const n = this.batch.length;
        const values = new Uint8Array(n);
        for (let i = 0; i < n; i++) values[i] = set.has(arg.values[i]!) ? 1 : 0;
        result = { kind: 'bool', values, valid: arg.valid };
      } else {
        result = this.perRowBool(this.batch.length, (i) => {
          const x = valueAt(arg, i);
          return x === null ? null : test(x);
        });
      }
    } else {
      result = this.perRowBool(this.batch.length, (i) => {
        const x = valueAt(arg, i);
        if (x === null) return null;
        let sawNull = false;
        for (const v of list) {
          const y = valueAt(v, i);
          if (y === null) sawNull = true;
          else if (compareValues(x, y) === 0) return true;
        }
        return sawNull ? null : false;
      });
    }
    return negated ? this.not(result) : result;
  }

  private like(v: ColumnVector, pattern: string, escape: string | null, ci: boolean, negated: boolean): ColumnVector {
    const key = `${ci ? 'i' : 'c'}${escape ?? ''}\u0000${pattern}`;
    let re = this.regexes.get(key);
    if (!re) this.regexes.set(key, (re = likeRegex(ci ? pattern.toLowerCase() : pattern, escape, false)));
    const rx = re;
    const test = (s: string) => rx.test(ci ? s.toLowerCase() : s) !== negated;
    if (v.kind === 'dict') return this.dictPredicate(v, test);
    if (v.kind === 'const') return { kind: 'const', type: 'boolean', value: typeof v.value === 'string' ? test(v.value) : null };
    return this.perRowBool(this.batch.length, (i) => {
      const x = valueAt(v, i);
      if (x === null) return null;
      if (typeof x !== 'string') return null;
      return test(x);
    });
  }

  // -- arithmetic and strings

  private negate(v: ColumnVector): ColumnVector {
    if (v.kind === 'num') {
      const values = new Float64Array(v.values.length);
      for (let i = 0; i < values.length; i++) values[i] = -v.values[i]!;
      return { kind: 'num', type: v.type, values, valid: v.valid };
    }
    return this.mapScalar(v, typeOf(v) === 'integer' ? 'integer' : 'double', (x) => (typeof x === 'number' ? -x : null));
  }

  private arithmetic(op: '+' | '-' | '*' | '/' | '%', a: ColumnVector, b: ColumnVector): ColumnVector {
    const ta = typeOf(a);
    const tb = typeOf(b);
    const integer = ta === 'integer' && tb === 'integer';
    const type: 'integer' | 'double' = integer && op !== '/' ? 'integer' : 'double';
    const n = this.batch.length;
    const numeric = (v: ColumnVector) => v.kind === 'num' || (v.kind === 'const' && typeof v.value === 'number');
    if (numeric(a) && numeric(b) && op !== '%') {
      const values = new Float64Array(n);
      const av = a.kind === 'num' ? a.values : null;
      const bv = b.kind === 'num' ? b.values : null;
      const ac = a.kind === 'const' ? (a.value as number) : 0;
      const bc = b.kind === 'const' ? (b.value as number) : 0;
      for (let i = 0; i < n; i++) values[i] = arith(op, av ? av[i]! : ac, bv ? bv[i]! : bc, integer)!;
      const valid = mergeValidity(a.kind === 'num' ? a.valid : null, b.kind === 'num' ? b.valid : null, n);
      return { kind: 'num', type, values, valid };
    }
    const values = new Array<Scalar>(n);
    for (let i = 0; i < n; i++) {
      const x = valueAt(a, i);
      const y = valueAt(b, i);
      if (x === null || y === null) values[i] = null;
      else if (typeof x !== 'number' || typeof y !== 'number') values[i] = null;
      else values[i] = arith(op, x, y, integer);
    }
    return { kind: 'any', type, values };
  }

  private concat(a: ColumnVector, b: ColumnVector): ColumnVector {
    const ta = typeOf(a);
    const tb = typeOf(b);
    const text = (x: Scalar, t: SqlType) => (typeof x === 'string' ? x : castValue(x, t === 'json' ? 'double' : t, 'string'));
    const n = this.batch.length;
    const values = new Array<string | null>(n);
    for (let i = 0; i < n; i++) {
      const x = valueAt(a, i);
      const y = valueAt(b, i);
      values[i] = x === null || y === null ? null : `${text(x, ta)}${text(y, tb)}`;
    }
    return { kind: 'str', values };
  }

  /** Applies f to every value (NULL stays NULL); on a dictionary, once per entry, keeping the codes when f gives strings. */
  private mapScalar(v: ColumnVector, type: SqlType, f: (x: Exclude<Scalar, null>) => Scalar): ColumnVector {
    if (v.kind === 'const') return { kind: 'const', type, value: v.value === null ? null : f(v.value) };
    const n = this.batch.length;
    if (v.kind === 'dict') {
      const mapped = v.dictionary.map((s) => f(s));
      if (mapped.every((m) => typeof m === 'string'))
        return { kind: 'dict', codes: v.codes, dictionary: mapped as string[], valid: v.valid };
      if (mapped.every((m) => typeof m === 'number')) {
        const values = new Float64Array(n);
        for (let i = 0; i < n; i++) values[i] = mapped[v.codes[i]!] as number;
        return { kind: 'num', type: type === 'integer' || type === 'timestamp' ? type : 'double', values, valid: v.valid };
      }
    }
    const values = new Array<Scalar>(n);
    for (let i = 0; i < n; i++) {
      const x = valueAt(v, i);
      values[i] = x === null ? null : f(x);
    }
    return { kind: 'any', type, values };
  }

  private cast(v: ColumnVector, to: Exclude<SqlType, 'json' | 'null'>): ColumnVector {
    const from = typeOf(v);
    if (from === to) return v;
    if (v.kind === 'num' && to === 'double' && from === 'integer') return { ...v, type: 'double' };
    // JSON numbers are doubles.
    const src: SqlType = from === 'json' ? 'double' : from;
    return this.mapScalar(v, to, (x) => castValue(x, typeof x === 'number' ? src : typeof x === 'string' ? 'string' : 'boolean', to));
  }

  private call(e: Expr & { kind: 'call' }): ColumnVector {
    const args = e.args.map((a) => this.evaluate(a));
    const n = this.batch.length;
    switch (e.name) {
      case 'date_trunc': {
        const unit = e.unit ?? (args[0]?.kind === 'const' ? (args[0].value as DateUnit) : null);
        const ts = args[args.length - 1];
        if (!unit || !ts) throw new QueryRuntimeError('date_trunc takes a unit and a timestamp');
        if (ts.kind === 'num') {
          const values = new Float64Array(n);
          const x = ts.values;
          if (unit === 'month' || unit === 'quarter' || unit === 'year') {
            // Whole-day memo: consecutive rows mostly share a day.
            let lastDay = NaN;
            let last = 0;
            for (let i = 0; i < n; i++) {
              const day = Math.floor(x[i]! / DAY);
              if (day !== lastDay) {
                lastDay = day;
                last = truncateTime(unit, day * DAY);
              }
              values[i] = last;
            }
          } else {
            const step =
              unit === 'millisecond'
                ? 1
                : unit === 'second'
                  ? 1000
                  : unit === 'minute'
                    ? 60_000
                    : unit === 'hour'
                      ? 3_600_000
                      : unit === 'day'
                        ? DAY
                        : 0;
            if (step > 0) for (let i = 0; i < n; i++) values[i] = Math.floor(x[i]! / step) * step;
            else for (let i = 0; i < n; i++) values[i] = truncateTime(unit, x[i]!);
          }
          return { kind: 'num', type: 'timestamp', values, valid: ts.valid };
        }
        return this.mapScalar(ts, 'timestamp', (x) => (typeof x === 'number' ? truncateTime(unit, x) : null));
      }
      case 'lower':
      case 'upper':
        return this.mapScalar(args[0]!, 'string', (x) =>
          typeof x === 'string' ? (e.name === 'lower' ? x.toLowerCase() : x.toUpperCase()) : null,
        );
      case 'length':
        return this.mapScalar(args[0]!, 'integer', (x) => (typeof x === 'string' ? codePointLength(x) : null));
      case 'abs': {
        const t = typeOf(args[0]!);
        return this.mapScalar(args[0]!, t === 'integer' ? 'integer' : 'double', (x) => (typeof x === 'number' ? Math.abs(x) : null));
      }
      case 'round': {
        const t = typeOf(args[0]!);
        const digits = args[1];
        if (digits && digits.kind !== 'const') throw new QueryRuntimeError('round takes a constant number of digits');
        const d = digits ? Number((digits as { value: Scalar }).value ?? 0) : 0;
        return this.mapScalar(args[0]!, t === 'integer' ? 'integer' : 'double', (x) =>
          typeof x === 'number' ? roundHalfAway(x, d) : null,
        );
      }
      case 'coalesce': {
        const type = args.map(typeOf).find((t) => t !== 'null') ?? 'null';
        const values = new Array<Scalar>(n);
        for (let i = 0; i < n; i++) {
          let x: Scalar = null;
          for (const a of args) if ((x = valueAt(a, i)) !== null) break;
          values[i] = x;
        }
        return { kind: 'any', type, values };
      }
    }
  }

  private caseWhen(whens: { when: Expr; then: Expr }[], otherwise: Expr | null): ColumnVector {
    const conds = whens.map((w) => this.asBool(this.evaluate(w.when)));
    const thens = whens.map((w) => this.evaluate(w.then));
    const other = otherwise ? this.evaluate(otherwise) : null;
    const type = [...thens, ...(other ? [other] : [])].map(typeOf).find((t) => t !== 'null') ?? 'null';
    const n = this.batch.length;
    const values = new Array<Scalar>(n);
    for (let i = 0; i < n; i++) {
      let x: Scalar = null;
      let hit = false;
      for (let k = 0; k < conds.length; k++) {
        if (valueAt(conds[k]!, i) === true) {
          x = valueAt(thens[k]!, i);
          hit = true;
          break;
        }
      }
      if (!hit && other) x = valueAt(other, i);
      values[i] = x;
    }
    return { kind: 'any', type, values };
  }
}

function mergeValidity(a: Validity, b: Validity, n: number): Validity {
  if (!a) return b;
  if (!b) return a;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = a[i]! & b[i]!;
  return out;
}

/** Evaluates `e` over a batch (a convenience for one expression). */
export function evaluate(batch: Batch, e: Expr, refs?: Refs): ColumnVector {
  return new Evaluator(batch, refs).evaluate(e);
}

/** A constant TRUE vector. */
export const ALWAYS = TRUE;
