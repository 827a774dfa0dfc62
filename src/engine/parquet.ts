// The replica's Parquet codec: the file format of the green step (decision 7).
//
// One file holds events of one shard in seq order (rows are never re-sorted). Columns, named as the
// SQL table's: id Utf8; stream, type, source, subject Dictionary<Int32, Utf8> (source and subject
// nullable); time, received_at Timestamp(ms, UTC); shard Int32; seq, version Int64; data Utf8 (the
// raw JSON text, always kept); then the shredded `data.<path>` columns (nullable Float64,
// Dictionary<Int32, Utf8> or Bool) that `chooseShredded` picks. Written by parquet-wasm with zstd,
// dictionary encoding where values repeat, and row-group min/max statistics, so DuckDB, Spark and
// pandas read it as-is. The file's key-value metadata says `eventstore.format=esp1` and lists the
// shredded paths (`eventstore.shredded`).
//
// Arrow data is assembled with `makeData` from typed arrays and offset buffers only: apache-arrow's
// builders (`tableFromArrays`, `vectorFromArray` on strings, `makeBuilder`) compile code with
// `new Function`, which workerd refuses. parquet-wasm must be initialised once per isolate with
// `initParquet` before encoding or decoding (src/workers/wasm.ts does it in the Worker).

import {
  Bool,
  DataType,
  Dictionary,
  Field,
  Float64,
  Int32,
  Int64,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromIPC,
  tableToIPC,
  TimestampMillisecond,
  Type,
  Utf8,
  type Data,
} from 'apache-arrow';
import {
  Compression,
  EnabledStatistics,
  Encoding,
  initSync,
  ParquetFile,
  readParquet,
  Table as WasmTable,
  writeParquet,
  WriterPropertiesBuilder,
  WriterVersion,
} from 'parquet-wasm/esm';
import type { MasterRow } from './segment.js';

/** One event as the replica stores it (MasterRow from src/engine/segment.ts plus its shard). */
export interface ReplicaRow extends MasterRow {
  shard: number;
}

export type ShreddedType = 'double' | 'string' | 'boolean';

/** A `data` field stored in its own typed column. */
export interface ShreddedColumn {
  /** The column name: `data.` and the path joined by dots, e.g. `data.post.id`. */
  name: string;
  path: string[];
  type: ShreddedType;
}

/** A column's min/max over a file (null when it has no non-null value) and its null count. */
export interface ColumnStats {
  min: number | string | boolean | null;
  max: number | string | boolean | null;
  nulls: number;
}

export interface EncodedParquet {
  bytes: Uint8Array;
  rows: number;
  rowGroups: number;
  /** The shredded columns the file really holds, in column order. */
  shredded: ShreddedColumn[];
  /**
   * Per column name: time/received_at as epoch ms, seq/version/shard as numbers, strings for
   * id/stream/type/source/subject (in code point order, as Parquet and DuckDB compare them), and the
   * shredded columns. `data` has its null count only: the min and max of whole JSON documents would
   * bloat the catalog and prune nothing.
   */
  stats: Record<string, ColumnStats>;
  /**
   * Per row group, in file order (only when the file has more than one): its row count and the
   * min/max/nulls of the base columns the planner prunes by (not `data` nor the shredded ones).
   */
  rowGroupStats?: RowGroupStats[];
}

/** Statistics of one row group, in the order of the file's row groups. */
export interface RowGroupStats {
  rows: number;
  /** Per base column name, as the file-level stats (`time` in epoch ms, strings in code point order). */
  stats: Record<string, ColumnStats>;
}

/**
 * What the catalog keeps of a replica file (its `stats` JSON): the file's column stats, the shredded
 * columns, the row-group count, per-row-group stats and where the column chunks lie. All optional:
 * rows written before a field existed lack it, and readers fall back (no pruning, whole reads).
 */
export interface SegmentStats {
  columns?: Record<string, ColumnStats>;
  shredded?: ShreddedColumn[];
  rowGroups?: number;
  rowGroupStats?: RowGroupStats[];
  layout?: ParquetLayout;
}

/** How `chooseShredded` picks columns; the defaults are SHRED_DEFAULTS. */
export interface ShredOptions {
  /** A path must be non-null in at least this share of the rows. */
  minShare?: number;
  maxColumns?: number;
  /** The longest path, in segments (`data.a.b.c` is 3). */
  maxDepth?: number;
  /** A string path is shredded only if its distinct values are at most this share of its non-null values. */
  maxDistinctShare?: number;
}

export interface EncodeOptions {
  rowGroupSize?: number;
  /** The columns to shred; default `chooseShredded(rows, shredOptions)`. */
  shredded?: ShreddedColumn[];
  shredOptions?: ShredOptions;
}

/** The format tag in the file's key-value metadata (`eventstore.format`). */
export const REPLICA_FORMAT = 'esp1';

/**
 * Rows per row group unless told otherwise (decision 7). A 10,000-row group of webhook events is
 * ~3 MB of JSON text: small enough to decode one at a time inside a 128 MB isolate and to prune a
 * compacted 50,000-row file by received_at/seq/time, for ~2 % more bytes than one row group.
 */
export const DEFAULT_ROW_GROUP_SIZE = 10_000;

/** The shredding rule's defaults (decision 7). */
export const SHRED_DEFAULTS: Required<ShredOptions> = { minShare: 0.5, maxColumns: 32, maxDepth: 3, maxDistinctShare: 0.25 };

/**
 * The event table's columns: the SQL table `events` (DESIGN.md §3) and the base columns of every
 * replica file, in file order. One list for both, so the query engine and the codec never disagree.
 * (Here, not in a module of its own: bench scripts load this file with Node's type stripping, which
 * cannot resolve a `.js` import to its `.ts` source.)
 */
export const EVENT_COLUMNS = [
  'id',
  'stream',
  'type',
  'source',
  'subject',
  'time',
  'received_at',
  'shard',
  'seq',
  'version',
  'data',
] as const;
export type EventColumn = (typeof EVENT_COLUMNS)[number];

/** A path segment that can be part of a column name and of a `data.a.b` SQL reference unquoted. */
const SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Doubles with more distinct values than one in this many are byte-stream-split rather than dictionary encoded. */
const SPLIT_DISTINCT_RATIO = 8;

// ---------------------------------------------------------------------------------------------
// parquet-wasm initialisation

let ready = false;

/**
 * Initialises parquet-wasm from its compiled module (in a Worker: the imported `.wasm`) or from the
 * module's bytes (Node). Idempotent. It lives here, beside the codec, so that whoever initialises
 * and the codec share the one module instance that `parquet-wasm/esm` holds.
 */
export function initParquet(module: WebAssembly.Module | BufferSource): void {
  if (ready) return;
  initSync({ module });
  ready = true;
}

function assertReady(): void {
  if (!ready) throw new Error('parquet-wasm is not initialised: call initParquet (ensureParquet in a Worker) first');
}

// ---------------------------------------------------------------------------------------------
// Shredding

type JsonKind = 'number' | 'string' | 'boolean' | 'object' | 'array';
const KIND_BIT: Record<JsonKind, number> = { number: 1, string: 2, boolean: 4, object: 8, array: 16 };
/** Kind sets (as bits) that make a column: exactly one scalar kind. */
const SCALAR: Record<number, ShreddedType> = { 1: 'double', 2: 'string', 4: 'boolean' };
const TYPE_OF: Record<ShreddedType, string> = { double: 'number', string: 'string', boolean: 'boolean' };

interface PathTally {
  path: string[];
  /** The JSON kinds seen at the path, as KIND_BITs. */
  kinds: number;
  /** Rows where the path is non-null. */
  count: number;
  /** Distinct string values, until there are more than the cap (then null). */
  distinct: Set<string> | null;
}

function kindOf(v: unknown): JsonKind | null {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  return t === 'number' || t === 'string' || t === 'boolean' ? t : 'object';
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null; // not JSON: nothing to shred; the text itself is still stored
  }
}

function tally(parsed: readonly unknown[], maxDepth: number, distinctCap: number): Map<string, PathTally> {
  const paths = new Map<string, PathTally>();
  const walk = (obj: Record<string, unknown>, prefix: string[], key: string): void => {
    for (const k of Object.keys(obj)) {
      if (!SEGMENT.test(k)) continue;
      const v = obj[k];
      const kind = kindOf(v);
      if (kind === null) continue;
      const name = key === '' ? k : `${key}.${k}`;
      let t = paths.get(name);
      if (!t) paths.set(name, (t = { path: [...prefix, k], kinds: 0, count: 0, distinct: new Set() }));
      t.kinds |= KIND_BIT[kind];
      t.count++;
      if (kind === 'string' && t.distinct && t.distinct.add(v as string).size > distinctCap) t.distinct = null;
      if (kind === 'object' && prefix.length + 1 < maxDepth) walk(v as Record<string, unknown>, t.path, name);
    }
  };
  for (const value of parsed) if (kindOf(value) === 'object') walk(value as Record<string, unknown>, [], '');
  return paths;
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function choose(parsed: readonly unknown[], options: ShredOptions = {}): ShreddedColumn[] {
  const { minShare, maxColumns, maxDepth, maxDistinctShare } = { ...SHRED_DEFAULTS, ...options };
  if (parsed.length === 0) return [];
  const need = Math.max(1, Math.ceil(minShare * parsed.length));
  const picked: (ShreddedColumn & { count: number })[] = [];
  for (const [name, t] of tally(parsed, maxDepth, Math.ceil(maxDistinctShare * parsed.length))) {
    const type = SCALAR[t.kinds];
    if (!type || t.count < need) continue;
    if (type === 'string' && (t.distinct === null || t.distinct.size > maxDistinctShare * t.count)) continue;
    picked.push({ name: `data.${name}`, path: t.path, type, count: t.count });
  }
  // The most often present first (ties by name) so the choice is deterministic; then in name order.
  picked.sort((a, b) => b.count - a.count || byName(a, b));
  return picked
    .slice(0, maxColumns)
    .map(({ name, path, type }) => ({ name, path, type }))
    .sort(byName);
}

/**
 * Picks the `data` fields worth their own column: leaf paths of nested objects (at most `maxDepth`
 * segments, each an identifier) that are non-null in at least `minShare` of the rows and always of
 * one JSON scalar type; strings only if their values repeat (at most `maxDistinctShare` distinct),
 * since a dictionary of unique values makes the file bigger and reads no faster. Paths that are
 * sometimes an object, an array or of two types stay in `data` only. At most `maxColumns`, the most
 * often present first; returned in name order.
 */
export function chooseShredded(rows: readonly ReplicaRow[], options?: ShredOptions): ShreddedColumn[] {
  const parsed = rows.map((r) => parseData(r.data));
  return choose(parsed, options);
}

/** The value at `path` (own properties of objects only), or null. */
function valueAt(root: unknown, path: readonly string[]): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, seg)) return null;
    v = (v as Record<string, unknown>)[seg];
  }
  return v ?? null;
}

// ---------------------------------------------------------------------------------------------
// Arrow columns from typed arrays (no builders)

const utf8 = new TextEncoder();

/**
 * Compares strings in code point order, which is UTF-8 byte order and so Parquet's and DuckDB's.
 * JavaScript's `<` compares UTF-16 code units, which differs between surrogates and U+E000–U+FFFF;
 * statistics in the wrong order would prune rows that match.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) return (x >= 0xe000 ? x - 0x800 : x + 0x2000) - (y >= 0xe000 ? y - 0x800 : y + 0x2000);
      return x - y;
    }
  }
  return a.length - b.length;
}

function validity(valid: (i: number) => boolean, n: number): { nullBitmap: Uint8Array | undefined; nullCount: number } {
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nullCount = 0;
  for (let i = 0; i < n; i++) {
    if (valid(i)) bitmap[i >> 3]! |= 1 << (i & 7);
    else nullCount++;
  }
  return { nullBitmap: nullCount === 0 ? undefined : bitmap, nullCount };
}

/** Utf8 data of `values` (a null is empty and invalid). */
function utf8Data(values: readonly (string | null)[]): Data<Utf8> {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  let chars = 0;
  for (const v of values) if (v) chars += v.length;
  // Sized for ASCII plus some slack; grown when a value might not fit (at most 3 bytes per UTF-16 unit).
  let bytes = new Uint8Array(chars + (chars >> 3) + 64);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v) {
      if (at + v.length * 3 > bytes.length) {
        const grown = new Uint8Array(Math.max(bytes.length * 2, at + v.length * 3));
        grown.set(bytes.subarray(0, at));
        bytes = grown;
      }
      at += utf8.encodeInto(v, bytes.subarray(at)).written;
    }
    offsets[i + 1] = at;
  }
  const { nullBitmap, nullCount } = validity((i) => values[i] !== null, n);
  return makeData({ type: new Utf8(), length: n, nullCount, nullBitmap, valueOffsets: offsets, data: bytes.subarray(0, at) });
}

interface Column {
  field: Field;
  data: Data;
  stats: ColumnStats;
  /** A double column with many distinct values: byte-stream-split beats a dictionary (decision 7). */
  split?: boolean;
}

function stringStats(values: readonly (string | null)[], nulls: number): ColumnStats {
  let min: string | null = null;
  let max: string | null = null;
  for (const v of values) {
    if (v === null) continue;
    if (min === null || compareCodePoints(v, min) < 0) min = v;
    if (max === null || compareCodePoints(v, max) > 0) max = v;
  }
  return { min, max, nulls };
}

function numberStats(values: ArrayLike<number>, valid?: (i: number) => boolean): ColumnStats {
  let min: number | null = null;
  let max: number | null = null;
  let nulls = 0;
  for (let i = 0; i < values.length; i++) {
    if (valid && !valid(i)) {
      nulls++;
      continue;
    }
    const v = values[i]!;
    if (min === null || v < min) min = v;
    if (max === null || v > max) max = v;
  }
  return { min, max, nulls };
}

/** A Dictionary<Int32, Utf8> column, codes in first-seen order; min/max come from the distinct values. */
function dictColumn(name: string, values: readonly (string | null)[], nullable: boolean): Column {
  const n = values.length;
  const codes = new Int32Array(n);
  const index = new Map<string, number>();
  const distinct: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    let c = index.get(v);
    if (c === undefined) {
      c = distinct.length;
      index.set(v, c);
      distinct.push(v);
    }
    codes[i] = c;
  }
  const { nullBitmap, nullCount } = validity((i) => values[i] !== null, n);
  if (nullCount > 0 && !nullable) throw new RangeError(`column ${name} has ${nullCount} null values`);
  const type = new Dictionary(new Utf8(), new Int32());
  const data = makeData({ type, length: n, nullCount, nullBitmap, data: codes, dictionary: makeVector(utf8Data(distinct)) });
  return { field: new Field(name, type, nullable), data, stats: stringStats(distinct, nullCount) };
}

function int64Column(name: string, values: readonly number[], type: Int64 | TimestampMillisecond): Column {
  const length = values.length;
  const data = new BigInt64Array(length);
  for (let i = 0; i < length; i++) data[i] = BigInt(values[i]!);
  return {
    field: new Field(name, type, false),
    data: type instanceof Int64 ? makeData({ type, length, data }) : makeData({ type, length, data }),
    stats: numberStats(values),
  };
}

/** The column of a shredded path, or null when some row holds another type there. */
function shreddedColumn(col: ShreddedColumn, parsed: readonly unknown[]): Column | null {
  const n = parsed.length;
  const values = parsed.map((p) => valueAt(p, col.path));
  const want = TYPE_OF[col.type];
  for (const v of values) if (v !== null && typeof v !== want) return null;
  if (col.type === 'string') return dictColumn(col.name, values as (string | null)[], true);
  const { nullBitmap, nullCount } = validity((i) => values[i] !== null, n);
  if (col.type === 'double') {
    const data = new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = (values[i] as number | null) ?? 0;
    const type = new Float64();
    return {
      field: new Field(col.name, type, true),
      data: makeData({ type, length: n, nullCount, nullBitmap, data }),
      stats: numberStats(data, (i) => values[i] !== null),
      split: new Set(values).size > (n - nullCount) / SPLIT_DISTINCT_RATIO,
    };
  }
  const bits = new Uint8Array((n + 7) >> 3);
  let min: boolean | null = null;
  let max: boolean | null = null;
  for (let i = 0; i < n; i++) {
    const v = values[i] as boolean | null;
    if (v === null) continue;
    if (v) bits[i >> 3]! |= 1 << (i & 7);
    min = min === null ? v : min && v;
    max = max === null ? v : max || v;
  }
  const type = new Bool();
  return {
    field: new Field(col.name, type, true),
    data: makeData({ type, length: n, nullCount, nullBitmap, data: bits }),
    stats: { min, max, nulls: nullCount },
  };
}

// ---------------------------------------------------------------------------------------------
// Encode

/**
 * Writer settings (measured in decision 7). parquet-wasm's zstd is level 1 (no level is exposed),
 * so encodings do what a higher level would: ids share prefixes (DELTA_BYTE_ARRAY), seq, time and
 * received_at move in small steps (DELTA_BINARY_PACKED), JSON text compresses better with its
 * lengths apart (DELTA_LENGTH_BYTE_ARRAY), and many-valued doubles compress by byte plane
 * (BYTE_STREAM_SPLIT). Columns of unique values skip the dictionary that parquet would build and
 * then abandon. `data` gets no statistics: min/max of JSON documents prune nothing.
 */
function writerProperties(rowGroupSize: number, shredded: readonly ShreddedColumn[], split: readonly string[]) {
  let b = new WriterPropertiesBuilder()
    .setWriterVersion(WriterVersion.V1)
    .setCompression(Compression.ZSTD)
    .setDictionaryEnabled(true)
    .setStatisticsEnabled(EnabledStatistics.Chunk)
    .setMaxRowGroupSize(rowGroupSize)
    .setDataPageSizeLimit(8 << 20)
    .setColumnDictionaryEnabled('id', false)
    .setColumnEncoding('id', Encoding.DELTA_BYTE_ARRAY)
    .setColumnDictionaryEnabled('data', false)
    .setColumnEncoding('data', Encoding.DELTA_LENGTH_BYTE_ARRAY)
    .setColumnStatisticsEnabled('data', EnabledStatistics.None);
  for (const name of ['time', 'received_at', 'seq'])
    b = b.setColumnDictionaryEnabled(name, false).setColumnEncoding(name, Encoding.DELTA_BINARY_PACKED);
  for (const name of split) b = b.setColumnDictionaryEnabled(name, false).setColumnEncoding(name, Encoding.BYTE_STREAM_SPLIT);
  return b
    .setKeyValueMetadata(
      new Map([
        ['eventstore.format', REPLICA_FORMAT],
        ['eventstore.shredded', JSON.stringify(shredded.map(({ path, type }) => ({ path, type })))],
      ]),
    )
    .build();
}

/** The shredded columns of rows; the parsed `data` values live only while this runs. */
function shreddedColumns(rows: readonly ReplicaRow[], options: EncodeOptions): { shredded: ShreddedColumn[]; cols: Column[] } {
  const parsed = rows.map((r) => parseData(r.data));
  const wanted = options.shredded ?? choose(parsed, options.shredOptions);
  const shredded: ShreddedColumn[] = [];
  const cols: Column[] = [];
  const taken = new Set<string>(EVENT_COLUMNS);
  for (const s of wanted) {
    if (taken.has(s.name)) continue;
    const col = shreddedColumn(s, parsed);
    if (!col) continue;
    taken.add(s.name);
    shredded.push({ name: s.name, path: [...s.path], type: s.type });
    cols.push(col);
  }
  return { shredded, cols };
}

/** The Arrow IPC stream of the rows and their statistics; the Arrow vectors live only while this runs. */
function toIpc(
  rows: readonly ReplicaRow[],
  shredded: readonly Column[],
): { ipc: Uint8Array; stats: Record<string, ColumnStats>; split: string[] } {
  const n = rows.length;
  const of = <K extends keyof ReplicaRow>(key: K): ReplicaRow[K][] => rows.map((r) => r[key]);
  const ids = of('id');
  const shards = Int32Array.from(rows, (r) => r.shard);
  const cols: Column[] = [
    { field: new Field('id', new Utf8(), false), data: utf8Data(ids), stats: stringStats(ids, 0) },
    dictColumn('stream', of('stream'), false),
    dictColumn('type', of('type'), false),
    // Nullable whatever this file holds, so that every file has the same schema.
    dictColumn('source', of('source'), true),
    dictColumn('subject', of('subject'), true),
    int64Column('time', of('time'), new TimestampMillisecond('UTC')),
    int64Column('received_at', of('receivedAt'), new TimestampMillisecond('UTC')),
    {
      field: new Field('shard', new Int32(), false),
      data: makeData({ type: new Int32(), length: n, data: shards }),
      stats: numberStats(shards),
    },
    int64Column('seq', of('seq'), new Int64()),
    int64Column('version', of('version'), new Int64()),
    { field: new Field('data', new Utf8(), false), data: utf8Data(of('data')), stats: { min: null, max: null, nulls: 0 } },
    ...shredded,
  ];
  const schema = new Schema(cols.map((c) => c.field));
  const struct = makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children: cols.map((c) => c.data) });
  const stats: Record<string, ColumnStats> = {};
  for (const c of cols) stats[c.field.name] = c.stats;
  return {
    ipc: tableToIPC(new Table(schema, [new RecordBatch(schema, struct)]), 'stream'),
    stats,
    split: cols.filter((c) => c.split).map((c) => c.field.name),
  };
}

/**
 * Encodes rows (one shard's, in seq order; written in the order given) as one Parquet file.
 * `shredded` defaults to `chooseShredded(rows, shredOptions)`; a given column that holds a value of
 * another type in some row is left out, so a shredded column always agrees with `data` (the
 * answer's `shredded` says what the file holds). Steps are split into functions so that each
 * step's garbage (parsed JSON, Arrow vectors) can be collected before the next allocates.
 */
export function encodeParquet(rows: readonly ReplicaRow[], options: EncodeOptions = {}): EncodedParquet {
  assertReady();
  const rowGroupSize = options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE;
  if (!Number.isInteger(rowGroupSize) || rowGroupSize < 1)
    throw new RangeError(`rowGroupSize must be a positive integer, not ${rowGroupSize}`);
  const { shredded, cols } = shreddedColumns(rows, options);
  const { ipc, stats, split } = toIpc(rows, cols);
  cols.length = 0;
  // Both are consumed (freed) by writeParquet.
  const table = WasmTable.fromIPCStream(ipc);
  const bytes = writeParquet(table, writerProperties(rowGroupSize, shredded, split));
  const rowGroups = Math.ceil(rows.length / rowGroupSize);
  const encoded: EncodedParquet = { bytes, rows: rows.length, rowGroups, shredded, stats };
  if (rowGroups > 1) {
    encoded.rowGroupStats = [];
    for (let at = 0; at < rows.length; at += rowGroupSize) encoded.rowGroupStats.push(baseStats(rows.slice(at, at + rowGroupSize)));
  }
  return encoded;
}

/** The base columns' stats over some rows (one row group); see EncodedParquet.rowGroupStats. */
function baseStats(rows: readonly ReplicaRow[]): RowGroupStats {
  const text = (of: (r: ReplicaRow) => string | null) => {
    const values = rows.map(of);
    return stringStats(
      values,
      values.reduce((n, v) => n + (v === null ? 1 : 0), 0),
    );
  };
  const num = (of: (r: ReplicaRow) => number) => numberStats(rows.map(of));
  return {
    rows: rows.length,
    stats: {
      id: text((r) => r.id),
      stream: text((r) => r.stream),
      type: text((r) => r.type),
      source: text((r) => r.source),
      subject: text((r) => r.subject),
      time: num((r) => r.time),
      received_at: num((r) => r.receivedAt),
      shard: num((r) => r.shard),
      seq: num((r) => r.seq),
      version: num((r) => r.version),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Decode

const utf8Decoder = new TextDecoder();

/**
 * Strings of a Utf8 chunk, null where invalid. Arrow slices the offset and value buffers with the
 * chunk, so they are indexed from 0; only the validity bitmap goes by `offset` (getValid does that).
 */
function strings(d: Data): (string | null)[] {
  const offsets = d.valueOffsets as Int32Array;
  const bytes = d.values as Uint8Array;
  const out = new Array<string | null>(d.length);
  for (let i = 0; i < d.length; i++) out[i] = d.getValid(i) ? utf8Decoder.decode(bytes.subarray(offsets[i]!, offsets[i + 1]!)) : null;
  return out;
}

/** Strings of a Utf8 or Dictionary<_, Utf8> chunk: a dictionary's values are decoded once. */
function stringsOf(d: Data): (string | null)[] {
  if (d.typeId !== Type.Dictionary) return strings(d);
  const dict = d.dictionary!.data.flatMap(strings);
  const codes = d.values as ArrayLike<number>;
  const out = new Array<string | null>(d.length);
  for (let i = 0; i < d.length; i++) out[i] = d.getValid(i) ? dict[codes[i]!]! : null;
  return out;
}

/** Numbers of an integer, timestamp or float chunk (Int64 and timestamps arrive as BigInt64Array). */
function numbersOf(d: Data): number[] {
  const v = d.values as ArrayLike<number | bigint>;
  const out = new Array<number>(d.length);
  for (let i = 0; i < d.length; i++) out[i] = Number(v[i]!);
  return out;
}

type Kind = 'string' | 'integer' | 'timestamp';

function isKind(type: DataType, kind: Kind): boolean {
  if (kind === 'string') return DataType.isUtf8(type) || (DataType.isDictionary(type) && DataType.isUtf8(type.dictionary));
  return kind === 'integer' ? DataType.isInt(type) : DataType.isTimestamp(type);
}

/** A base column's values; a missing column or one of another type means the file is not a replica segment. */
function column<T>(table: Table, name: string, kind: Kind, read: (d: Data) => T[]): T[] {
  const vector = table.getChild(name);
  if (!vector || !isKind(vector.type, kind)) {
    throw new TypeError(`not a replica segment: column "${name}" is ${vector ? String(vector.type) : 'missing'}, expected a ${kind}`);
  }
  return vector.data.flatMap((d: Data) => read(d));
}

/** Rows read per call into parquet-wasm while decoding: bounds its memory, which never shrinks (decision 7). */
const DECODE_CHUNK_ROWS = 10_000;

/** Appends the rows of a table of the base columns to `rows`. */
function appendRows(table: Table, rows: ReplicaRow[]): void {
  const id = column(table, 'id', 'string', stringsOf);
  const stream = column(table, 'stream', 'string', stringsOf);
  const type = column(table, 'type', 'string', stringsOf);
  const source = column(table, 'source', 'string', stringsOf);
  const subject = column(table, 'subject', 'string', stringsOf);
  const time = column(table, 'time', 'timestamp', numbersOf);
  const receivedAt = column(table, 'received_at', 'timestamp', numbersOf);
  const shard = column(table, 'shard', 'integer', numbersOf);
  const seq = column(table, 'seq', 'integer', numbersOf);
  const version = column(table, 'version', 'integer', numbersOf);
  const data = column(table, 'data', 'string', stringsOf);
  for (let i = 0; i < table.numRows; i++) {
    rows.push({
      seq: seq[i]!,
      id: id[i]!,
      stream: stream[i]!,
      version: version[i]!,
      type: type[i]!,
      source: source[i] ?? null,
      subject: subject[i] ?? null,
      time: time[i]!,
      receivedAt: receivedAt[i]!,
      data: data[i]!,
      shard: shard[i]!,
    });
  }
}

/**
 * Decodes a replica file back into its rows, exactly (for compaction). Reads the base columns only
 * (the shredded ones are derived from `data`), DECODE_CHUNK_ROWS at a time: read whole, a 50,000-row
 * file grew parquet-wasm's memory to ~120 MB, read in chunks it stays at the size one chunk needs.
 */
export function decodeParquet(bytes: Uint8Array): ReplicaRow[] {
  assertReady();
  const rows: ReplicaRow[] = [];
  for (;;) {
    const options = { columns: [...EVENT_COLUMNS], offset: rows.length, limit: DECODE_CHUNK_ROWS, batchSize: DECODE_CHUNK_ROWS };
    const table = tableFromIPC(readParquet(bytes, options).intoIPCStream()); // intoIPCStream frees the wasm table
    appendRows(table, rows);
    if (table.numRows < DECODE_CHUNK_ROWS) return rows;
  }
}

// ---------------------------------------------------------------------------------------------
// Layout: where each column chunk lies, so a reader fetches only what it decodes (R2 range reads)

/**
 * The byte ranges of a file: per row group, per column (in `columns` order), `[offset, length]` of
 * its column chunk; and `tail`, from the end of the last chunk to the end of the file (page indexes,
 * the footer, its length and the magic), which every read needs.
 */
export interface ParquetLayout {
  size: number;
  columns: string[];
  chunks: [offset: number, length: number][][];
  tail: [offset: number, length: number];
}

/**
 * The layout of a file parquet-wasm wrote: its writer lays column chunks end to end from offset 4
 * (after the magic), row group by row group, each `compressedSize` long (headers included). Checked
 * against the footer's position; null when the file does not fit that shape (a reader then fetches
 * it whole).
 */
export async function parquetLayout(bytes: Uint8Array): Promise<ParquetLayout | null> {
  assertReady();
  const size = bytes.byteLength;
  if (size < 12) return null;
  const footerLength = new DataView(bytes.buffer, bytes.byteOffset, size).getUint32(size - 8, true);
  const footerStart = size - 8 - footerLength;
  const file = await ParquetFile.fromFile(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  try {
    const meta = file.metadata();
    let at = 4;
    let columns: string[] = [];
    const chunks: [number, number][][] = [];
    for (const group of meta.rowGroups()) {
      const row: [number, number][] = [];
      const names: string[] = [];
      for (const chunk of group.columns()) {
        const length = Number(chunk.compressedSize());
        names.push(chunk.columnPath().join('.'));
        row.push([at, length]);
        at += length;
      }
      if (chunks.length === 0) columns = names;
      else if (names.join('\u0000') !== columns.join('\u0000')) return null;
      chunks.push(row);
    }
    if (at > footerStart) return null;
    return { size, columns, chunks, tail: [at, size - at] };
  } finally {
    file.free();
  }
}

/**
 * The byte ranges a read of `columns` in `rowGroups` (null: all) needs: those column chunks and the
 * tail, sorted, with ranges less than `gap` bytes apart read as one (a request costs about as much
 * as some bytes; the gap's bytes are read and never decoded). Null when a column or row group is not
 * in the layout. parquet-wasm projects columns by dotted prefix (`data` also reads every
 * `data.<path>`), so the ranges include the columns a name is a prefix of.
 */
export function layoutRanges(
  layout: ParquetLayout,
  columns: readonly string[],
  rowGroups: readonly number[] | null,
  gap = 0,
): [number, number][] | null {
  if (columns.some((c) => !layout.columns.includes(c))) return null;
  const indexes = layout.columns.flatMap((name, i) => (columns.some((c) => name === c || name.startsWith(`${c}.`)) ? [i] : []));
  const wanted: [number, number][] = [layout.tail];
  for (const g of rowGroups ?? layout.chunks.map((_, i) => i)) {
    const row = layout.chunks[g];
    if (!row) return null;
    for (const i of indexes) wanted.push(row[i]!);
  }
  wanted.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [offset, length] of wanted) {
    const last = merged[merged.length - 1];
    if (last && offset <= last[0] + last[1] + gap) last[1] = Math.max(last[1], offset + length - last[0]);
    else merged.push([offset, length]);
  }
  return merged;
}

/**
 * A file of `size` bytes of which only `parts` were read (zeros elsewhere), as the Blob that
 * parquet-wasm's `ParquetFile.fromFile` reads ranges from (it calls only `size`, `slice` and
 * `arrayBuffer`). Nothing the size of the file is allocated: a range inside one part is that part
 * (no copy when it is the whole part), a range across parts is put together from them. A real Blob
 * would answer `arrayBuffer()` through the platform's blob store, a thread hop per range on Node.
 */
export function fileOfRanges(size: number, parts: readonly { offset: number; bytes: Uint8Array }[]): Blob {
  const sorted = [...parts].sort((a, b) => a.offset - b.offset);
  const range = (start: number, end: number): ArrayBuffer => {
    for (const p of sorted) {
      const pEnd = p.offset + p.bytes.byteLength;
      if (p.offset <= start && end <= pEnd) {
        const view = p.bytes.subarray(start - p.offset, end - p.offset);
        const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer;
        // A copy of the range (not view.slice(): on a Node Buffer that is a view of the whole buffer).
        return whole ? (view.buffer as ArrayBuffer) : new Uint8Array(view).buffer;
      }
    }
    const out = new Uint8Array(end - start);
    for (const p of sorted) {
      const from = Math.max(start, p.offset);
      const to = Math.min(end, p.offset + p.bytes.byteLength);
      if (from < to) out.set(p.bytes.subarray(from - p.offset, to - p.offset), from - start);
    }
    return out.buffer;
  };
  const slice = (start = 0, end = size) => {
    const from = Math.min(Math.max(0, start < 0 ? size + start : start), size);
    const to = Math.min(Math.max(from, end < 0 ? size + end : end), size);
    return { size: to - from, arrayBuffer: () => Promise.resolve(range(from, to)) };
  };
  return { size, slice, arrayBuffer: () => slice().arrayBuffer() } as unknown as Blob;
}
