// The query planner: which replica segments and row groups a query must read, which of their
// columns, and how the scan is split into sub-requests. A pure function from an analysed QuerySpec
// and the catalog's segment rows to a plain-data QueryPlan (it crosses sub-request boundaries as JSON).
//
// Pruning works from the WHERE clause: it is reduced to per-column domains (a union of ranges, and
// whether NULL can match) for the columns the catalog keeps statistics of: time, received_at, stream,
// type, source, subject, shard, seq, version, id and the shredded `data.<path>` columns. `=`, `<`,
// `<=`, `>`, `>=`, BETWEEN, IN, a LIKE prefix, IS [NOT] NULL and `<>` (non-null) give domains; AND
// intersects them, OR unites them (a column constrained on one side only is dropped), and anything
// else (NOT, functions, casts, comparisons between columns) constrains nothing. A segment or row
// group is dropped only when some column's domain cannot meet its min/max/null statistics, so a
// segment that could hold a matching row is always kept: the domains over-approximate the rows that
// can match, the statistics over-approximate the values present.
//
// The other way round, a query that only counts (`count(*)`, no GROUP BY) need not read a segment
// whose statistics prove the WHERE clause TRUE for every row (`alwaysTrue`, an under-approximation:
// base-column comparisons with literals that hold for the whole [min, max], no NULLs): its count is
// the catalog's row count. A time-bounded count reads only the segments the bounds cut through.

import type { ColumnStats } from '../parquet.js';
import type { CatalogSegment } from '../replica.js';
import { compareCodePoints } from '../parquet.js';
import type { Expr, QuerySpec } from './ast.js';

export type { RowGroupStats } from '../parquet.js';

// ---------------------------------------------------------------------------------------------
// Inputs and outputs

/**
 * A segment as the planner needs it: a structural subset of the catalog row (`CatalogSegment` from
 * src/workers/catalog.ts is one). `stats.rowGroupStats` is the optional per-row-group layout the
 * replicator may record; when present the planner prunes row groups with it.
 */
export type PlanSegment = Pick<
  CatalogSegment,
  'key' | 'shard' | 'date' | 'firstSeq' | 'lastSeq' | 'minTime' | 'maxTime' | 'rows' | 'bytes' | 'stats'
> & {
  kind?: string;
};

export interface PlanOptions {
  /** At most this many segments per sub-request. */
  maxSegmentsPerScan: number;
  /** At most this many (estimated) bytes per sub-request, unless one segment is bigger. Default: no bound. */
  maxBytesPerScan?: number;
  /** At most this many sub-requests (the Worker's sub-request budget); segments per scan grows past its bound to fit. */
  maxSubrequests?: number;
  /**
   * Every event of a stream is on one shard (the routing is pinned per tenant), so a scan may finish
   * groups keyed by stream or shard when it holds all of a shard's segments. False when rows are
   * added after the scans (the hot tail of a strong query). Default false.
   */
  groupsByShard?: boolean;
}

/** Why a segment is not read. */
export type PruneReason = 'kind' | 'empty' | 'stats' | 'rowGroups';

/** One segment to read: its columns and, when known, its row groups. */
export interface PlannedSegment {
  key: string;
  shard: number;
  date: string | null;
  /** The file columns to read: base columns, shredded columns for paths the file has, `data` for the others. */
  columns: string[];
  /** The paths read from `data` because this file has no shredded column for them. */
  pathsFromData: string[];
  /** Row group indexes to read, or null for all. */
  rowGroups: number[] | null;
  rows: number;
  bytes: number;
  /** Rows and bytes after row-group pruning (bytes in proportion to rows). */
  estimatedRows: number;
  estimatedBytes: number;
}

/** One sub-request: the segments one scan reads and merges into one partial. */
export interface ScanTask {
  segments: PlannedSegment[];
  estimatedBytes: number;
  estimatedRows: number;
}

export interface QueryPlan {
  segmentsTotal: number;
  segmentsScanned: number;
  rowGroupsPruned: number;
  /** The per-column domains the WHERE clause implies (for explanation; `false` when it can never be true). */
  constraints: Record<string, Domain> | false;
  pruned: { key: string; reason: PruneReason; column?: string }[];
  /**
   * Each task holds whole shards and the query groups by stream or shard and has a LIMIT: a scan's
   * groups are complete, so it answers only its first OFFSET + LIMIT groups after HAVING and ORDER BY
   * (`topPartial`), and a million streams never reach the coordinator.
   */
  topInScans: boolean;
  /**
   * Segments not read because the query only counts and every row of them matches: their rows (in
   * the row groups not pruned) are added to the count as they are.
   */
  counted: { key: string; rows: number }[];
  tasks: ScanTask[];
  /** The coordinator merges the tasks' partials (in any order) and then finishes: HAVING, ORDER BY, OFFSET/LIMIT. */
  merge: { partials: number; finish: ('having' | 'orderBy' | 'offset' | 'limit')[] };
}

// ---------------------------------------------------------------------------------------------
// Domains

type Value = number | string | boolean;

/** An interval of values; an absent bound is unbounded. */
export interface Range {
  lo?: Value;
  loInc?: boolean;
  hi?: Value;
  hiInc?: boolean;
}

/** The values of a column a matching row can have: a union of ranges, and NULL when `nulls`. */
export interface Domain {
  ranges: Range[];
  nulls: boolean;
}

/** Per column, the domain; a column not listed is unconstrained. `false`: no row can match. */
type Constraints = Map<string, Domain> | false;

const FULL: Range = {};

function cmp(a: Value, b: Value): number | null {
  if (typeof a !== typeof b) return null;
  if (typeof a === 'string') return compareCodePoints(a, b as string);
  if (typeof a === 'number') return a < (b as number) ? -1 : a > (b as number) ? 1 : 0;
  return (a ? 1 : 0) - (b ? 1 : 0);
}

/** Whether the range holds no value (only decided for comparable bounds). */
function emptyRange(r: Range): boolean {
  if (r.lo === undefined || r.hi === undefined) return false;
  const c = cmp(r.lo, r.hi);
  if (c === null) return false;
  return c > 0 || (c === 0 && !(r.loInc && r.hiInc));
}

function intersectRange(a: Range, b: Range): Range | null {
  const out: Range = { ...a };
  if (b.lo !== undefined) {
    const c = out.lo === undefined ? -1 : cmp(out.lo, b.lo);
    if (c === null) return a; // incomparable bounds: keep one side, never prune by mistake
    if (c < 0) {
      out.lo = b.lo;
      out.loInc = b.loInc;
    } else if (c === 0) out.loInc = !!out.loInc && !!b.loInc;
  }
  if (b.hi !== undefined) {
    const c = out.hi === undefined ? 1 : cmp(out.hi, b.hi);
    if (c === null) return a;
    if (c > 0) {
      out.hi = b.hi;
      out.hiInc = b.hiInc;
    } else if (c === 0) out.hiInc = !!out.hiInc && !!b.hiInc;
  }
  return emptyRange(out) ? null : out;
}

function intersect(a: Domain, b: Domain): Domain {
  const ranges: Range[] = [];
  for (const x of a.ranges)
    for (const y of b.ranges) {
      const r = intersectRange(x, y);
      if (r) ranges.push(r);
    }
  return { ranges, nulls: a.nulls && b.nulls };
}

function union(a: Domain, b: Domain): Domain {
  return { ranges: [...a.ranges, ...b.ranges], nulls: a.nulls || b.nulls };
}

function andConstraints(a: Constraints, b: Constraints): Constraints {
  if (a === false || b === false) return false;
  const out = new Map(a);
  for (const [col, d] of b) {
    const prev = out.get(col);
    const next = prev ? intersect(prev, d) : d;
    if (next.ranges.length === 0 && !next.nulls) return false;
    out.set(col, next);
  }
  return out;
}

function orConstraints(a: Constraints, b: Constraints): Constraints {
  if (a === false) return b;
  if (b === false) return a;
  const out = new Map<string, Domain>();
  for (const [col, d] of a) {
    const e = b.get(col);
    if (e) out.set(col, union(d, e));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// From WHERE to constraints

/** The columns with statistics, and the kind of value their statistics hold. */
const STAT_COLUMNS: Record<string, 'number' | 'string'> = {
  time: 'number',
  received_at: 'number',
  shard: 'number',
  seq: 'number',
  version: 'number',
  id: 'string',
  stream: 'string',
  type: 'string',
  source: 'string',
  subject: 'string',
};

/** The file column an expression reads directly (a base column with stats, or a path's shredded name). */
function columnOf(e: Expr): string | null {
  if (e.kind === 'column') return Object.hasOwn(STAT_COLUMNS, e.name) ? e.name : null;
  if (e.kind === 'path') return `data.${e.path.join('.')}`;
  return null;
}

function literalOf(e: Expr): Value | null | undefined {
  if (e.kind !== 'literal') return undefined;
  return e.value;
}

/** Whether a literal of this JS kind can be compared with the column's stats (paths: any scalar kind). */
function fits(col: string, v: Value): boolean {
  const want = STAT_COLUMNS[col];
  if (want) return typeof v === want;
  return typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean';
}

function point(v: Value): Range {
  return { lo: v, loInc: true, hi: v, hiInc: true };
}

function single(col: string, d: Domain): Constraints {
  return new Map([[col, d]]);
}

const NONE: Constraints = new Map();

/** The successor of a string prefix in code point order: every string starting with p is below it. */
function prefixEnd(p: string): string | undefined {
  const cps = Array.from(p);
  while (cps.length > 0) {
    const last = cps.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return cps.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

/** The literal prefix of a LIKE pattern (up to its first unescaped wildcard). */
function likePrefix(pattern: string, escape: string | null): { prefix: string; exact: boolean } {
  let prefix = '';
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (escape !== null && c === escape && i + 1 < chars.length) prefix += chars[++i]!;
    else if (c === '%' || c === '_') return { prefix, exact: false };
    else prefix += c;
  }
  return { prefix, exact: true };
}

/** The per-column domains a WHERE clause implies (an over-approximation of the matching rows). */
export function constraintsOf(e: Expr | null): Constraints {
  if (!e) return NONE;
  switch (e.kind) {
    case 'literal':
      return e.value === false || e.value === null ? false : NONE;
    case 'binary': {
      if (e.op === 'and') return andConstraints(constraintsOf(e.left), constraintsOf(e.right));
      if (e.op === 'or') return orConstraints(constraintsOf(e.left), constraintsOf(e.right));
      if (!['=', '<>', '<', '<=', '>', '>='].includes(e.op)) return NONE;
      let col = columnOf(e.left);
      let lit = literalOf(e.right);
      let op = e.op;
      if (col === null || lit === undefined) {
        col = columnOf(e.right);
        lit = literalOf(e.left);
        op = ({ '<': '>', '<=': '>=', '>': '<', '>=': '<=' } as Record<string, typeof op>)[op] ?? op;
      }
      if (col === null || lit === undefined) return NONE;
      if (lit === null) return false; // a comparison with NULL is never TRUE
      if (!fits(col, lit)) return NONE;
      const r: Range =
        op === '='
          ? point(lit)
          : op === '<'
            ? { hi: lit, hiInc: false }
            : op === '<='
              ? { hi: lit, hiInc: true }
              : op === '>'
                ? { lo: lit, loInc: false }
                : op === '>='
                  ? { lo: lit, loInc: true }
                  : FULL;
      return single(col, { ranges: [r], nulls: false });
    }
    case 'between': {
      const col = columnOf(e.arg);
      const lo = literalOf(e.low);
      const hi = literalOf(e.high);
      if (col === null || lo === undefined || hi === undefined) return NONE;
      if (lo === null || hi === null) return e.negated ? NONE : false;
      if (!fits(col, lo) || !fits(col, hi)) return NONE;
      const ranges = e.negated
        ? [
            { hi: lo, hiInc: false },
            { lo: hi, loInc: false },
          ]
        : [{ lo, loInc: true, hi, hiInc: true }];
      return single(col, { ranges: ranges.filter((r) => !emptyRange(r)), nulls: false });
    }
    case 'in': {
      const col = columnOf(e.arg);
      if (col === null || e.negated) return NONE;
      const ranges: Range[] = [];
      for (const item of e.list) {
        const v = literalOf(item);
        if (v === undefined) return NONE;
        if (v === null) continue; // x IN (…, NULL) is TRUE only through the other items
        if (!fits(col, v)) return NONE;
        ranges.push(point(v));
      }
      return ranges.length === 0 ? false : single(col, { ranges, nulls: false });
    }
    case 'isNull': {
      const col = columnOf(e.arg);
      if (col === null) return NONE;
      return single(col, e.negated ? { ranges: [FULL], nulls: false } : { ranges: [], nulls: true });
    }
    case 'like': {
      const col = columnOf(e.arg);
      if (col === null || e.negated || e.caseInsensitive) return NONE;
      if (STAT_COLUMNS[col] === 'number') return NONE;
      const { prefix, exact } = likePrefix(e.pattern, e.escape);
      if (exact) return single(col, { ranges: [point(prefix)], nulls: false });
      const end = prefixEnd(prefix);
      const r: Range =
        prefix === '' ? { lo: '', loInc: true } : { lo: prefix, loInc: true, ...(end === undefined ? {} : { hi: end, hiInc: false }) };
      return single(col, { ranges: [r], nulls: false });
    }
    default:
      return NONE;
  }
}

// ---------------------------------------------------------------------------------------------
// Testing domains against statistics

/** Whether any value in [min, max] can lie in the range. Incomparable values: yes. */
function rangeMeets(r: Range, min: Value, max: Value): boolean {
  if (r.lo !== undefined) {
    const c = cmp(max, r.lo);
    if (c !== null && (c < 0 || (c === 0 && !r.loInc))) return false;
  }
  if (r.hi !== undefined) {
    const c = cmp(min, r.hi);
    if (c !== null && (c > 0 || (c === 0 && !r.hiInc))) return false;
  }
  return true;
}

/** Whether a column with these statistics (over `rows` rows) can hold a value of the domain. */
function domainMeets(d: Domain, s: ColumnStats, rows: number): boolean {
  if (d.nulls && s.nulls > 0) return true;
  if (s.nulls >= rows) return false; // only NULLs
  if (s.min === null || s.max === null) return d.ranges.length > 0; // non-null values of unknown range
  return d.ranges.some((r) => rangeMeets(r, s.min as Value, s.max as Value));
}

/** The statistics of a column in a segment, from the catalog's columns or the fixed fields. */
function segmentStats(seg: PlanSegment, col: string): ColumnStats | undefined {
  const s = seg.stats.columns?.[col];
  if (s) return s;
  if (col === 'time') return { min: seg.minTime, max: seg.maxTime, nulls: 0 };
  if (col === 'seq') return { min: seg.firstSeq, max: seg.lastSeq, nulls: 0 };
  if (col === 'shard') return { min: seg.shard, max: seg.shard, nulls: 0 };
  return undefined;
}

function hasShredded(seg: PlanSegment, col: string): boolean {
  return !!seg.stats.shredded?.some((s) => s.name === col);
}

/** The first column whose domain the statistics rule out, or null when the rows may match. */
function ruledOutBy(
  constraints: Map<string, Domain>,
  seg: PlanSegment,
  stats: (col: string) => ColumnStats | undefined,
  rows: number,
): string | null {
  for (const [col, d] of constraints) {
    // A path's statistics are only those of its shredded column, which agrees with `data` exactly.
    if (col.startsWith('data.') && !hasShredded(seg, col)) continue;
    const s = stats(col);
    if (s && !domainMeets(d, s, rows)) return col;
  }
  return null;
}

/** Whether every value in [min, max] satisfies `value op lit` (both comparable; false when unsure). */
function holdsForAll(op: string, min: Value, max: Value, lit: Value): boolean {
  const lo = cmp(min, lit);
  const hi = cmp(max, lit);
  if (lo === null || hi === null) return false;
  switch (op) {
    case '=':
      return lo === 0 && hi === 0;
    case '<>':
      return hi < 0 || lo > 0;
    case '<':
      return hi < 0;
    case '<=':
      return hi <= 0;
    case '>':
      return lo > 0;
    case '>=':
      return lo >= 0;
    default:
      return false;
  }
}

/**
 * Whether the WHERE clause is TRUE for every one of `rows` rows with these statistics. An
 * under-approximation (false when unsure): only base columns with exact statistics compared with
 * literals of their kind, BETWEEN, IN, IS [NOT] NULL, AND, OR and TRUE are decided.
 */
export function alwaysTrue(e: Expr | null, stats: (col: string) => ColumnStats | undefined, rows: number): boolean {
  if (!e) return true;
  const base = (x: Expr): { col: string; s: ColumnStats; min: Value; max: Value } | null => {
    if (x.kind !== 'column' || !Object.hasOwn(STAT_COLUMNS, x.name)) return null;
    const s = stats(x.name);
    if (!s || s.nulls !== 0 || s.min === null || s.max === null) return null;
    return { col: x.name, s, min: s.min as Value, max: s.max as Value };
  };
  const lit = (x: Expr, col: string): Value | null => {
    const v = literalOf(x);
    return v === undefined || v === null || !fits(col, v) ? null : v;
  };
  switch (e.kind) {
    case 'literal':
      return e.value === true;
    case 'binary': {
      if (e.op === 'and') return alwaysTrue(e.left, stats, rows) && alwaysTrue(e.right, stats, rows);
      if (e.op === 'or') return alwaysTrue(e.left, stats, rows) || alwaysTrue(e.right, stats, rows);
      if (!['=', '<>', '<', '<=', '>', '>='].includes(e.op)) return false;
      const left = base(e.left);
      if (left) {
        const v = lit(e.right, left.col);
        return v !== null && holdsForAll(e.op, left.min, left.max, v);
      }
      const right = base(e.right);
      if (!right) return false;
      const v = lit(e.left, right.col);
      const op = ({ '<': '>', '<=': '>=', '>': '<', '>=': '<=' } as Record<string, string>)[e.op] ?? e.op;
      return v !== null && holdsForAll(op, right.min, right.max, v);
    }
    case 'between': {
      const c = base(e.arg);
      if (!c) return false;
      const lo = lit(e.low, c.col);
      const hi = lit(e.high, c.col);
      if (lo === null || hi === null) return false;
      return e.negated
        ? holdsForAll('<', c.min, c.max, lo) || holdsForAll('>', c.min, c.max, hi)
        : holdsForAll('>=', c.min, c.max, lo) && holdsForAll('<=', c.min, c.max, hi);
    }
    case 'in': {
      const c = base(e.arg);
      if (!c) return false;
      const values = e.list.map((x) => lit(x, c.col));
      if (e.negated) return values.every((v) => v !== null && holdsForAll('<>', c.min, c.max, v));
      return values.some((v) => v !== null && holdsForAll('=', c.min, c.max, v));
    }
    case 'isNull': {
      if (e.arg.kind !== 'column' || !Object.hasOwn(STAT_COLUMNS, e.arg.name)) return false;
      const s = stats(e.arg.name);
      if (!s) return false;
      return e.negated ? s.nulls === 0 : s.nulls >= rows;
    }
    default:
      return false;
  }
}

/** Whether the query only counts rows (`count(*)`s, no GROUP BY), so a segment of matching rows needs no reading. */
function countsOnly(spec: QuerySpec): boolean {
  return spec.aggregated && spec.groupBy.length === 0 && spec.aggregates.every((a) => a.fn === 'count' && a.arg === null);
}

// ---------------------------------------------------------------------------------------------
// The plan

/** The file columns a segment must be read with for the spec. */
function columnsFor(spec: QuerySpec, seg: PlanSegment): { columns: string[]; pathsFromData: string[] } {
  const cols = new Set<string>(spec.columns);
  const pathsFromData: string[] = [];
  for (const p of spec.paths) {
    const name = `data.${p}`;
    if (hasShredded(seg, name)) cols.add(name);
    else {
      cols.add('data');
      pathsFromData.push(p);
    }
  }
  // count(*) alone still needs the row count of each row group: read the narrowest column.
  if (cols.size === 0) cols.add('shard');
  return { columns: [...cols], pathsFromData };
}

/**
 * Plans a query over catalog segments: prunes with the WHERE clause and the statistics, picks each
 * kept segment's columns and row groups, and splits the scan into balanced sub-requests.
 */
export function planQuery(spec: QuerySpec, segments: readonly PlanSegment[], options: PlanOptions): QueryPlan {
  const constraints = constraintsOf(spec.where);
  const counting = countsOnly(spec);
  const pruned: QueryPlan['pruned'] = [];
  const counted: QueryPlan['counted'] = [];
  const kept: PlannedSegment[] = [];
  let rowGroupsPruned = 0;
  for (const seg of segments) {
    if (seg.kind !== undefined && seg.kind !== 'replica') {
      pruned.push({ key: seg.key, reason: 'kind' });
      continue;
    }
    if (seg.rows === 0) {
      pruned.push({ key: seg.key, reason: 'empty' });
      continue;
    }
    if (constraints === false) {
      pruned.push({ key: seg.key, reason: 'stats' });
      continue;
    }
    const column = ruledOutBy(constraints, seg, (c) => segmentStats(seg, c), seg.rows);
    if (column !== null) {
      pruned.push({ key: seg.key, reason: 'stats', column });
      continue;
    }
    if (counting && alwaysTrue(spec.where, (c) => segmentStats(seg, c), seg.rows)) {
      counted.push({ key: seg.key, rows: seg.rows });
      continue;
    }
    let rowGroups: number[] | null = null;
    let estimatedRows = seg.rows;
    const groups = seg.stats.rowGroupStats;
    if (groups && groups.length > 0) {
      rowGroups = [];
      estimatedRows = 0;
      let everyRowMatches = counting;
      groups.forEach((g, i) => {
        if (g.rows > 0 && ruledOutBy(constraints, seg, (c) => g.stats[c], g.rows) === null) {
          rowGroups!.push(i);
          estimatedRows += g.rows;
          everyRowMatches &&= alwaysTrue(spec.where, (c) => g.stats[c], g.rows);
        }
      });
      rowGroupsPruned += groups.length - rowGroups.length;
      if (rowGroups.length === 0) {
        pruned.push({ key: seg.key, reason: 'rowGroups' });
        continue;
      }
      if (everyRowMatches) {
        counted.push({ key: seg.key, rows: estimatedRows });
        continue;
      }
      if (rowGroups.length === groups.length) rowGroups = null;
    }
    kept.push({
      key: seg.key,
      shard: seg.shard,
      date: seg.date,
      ...columnsFor(spec, seg),
      rowGroups,
      rows: seg.rows,
      bytes: seg.bytes,
      estimatedRows,
      estimatedBytes: Math.ceil((seg.bytes * estimatedRows) / seg.rows),
    });
  }
  const finish: QueryPlan['merge']['finish'] = [];
  if (spec.having) finish.push('having');
  if (spec.orderBy.length > 0) finish.push('orderBy');
  if (spec.offset > 0) finish.push('offset');
  if (spec.limit !== null) finish.push('limit');
  const topInScans = !!options.groupsByShard && kept.length > 0 && groupsWithinShards(spec);
  const tasks = topInScans ? shardTasks(kept, options) : splitTasks(kept, options);
  return {
    segmentsTotal: segments.length,
    segmentsScanned: kept.length,
    rowGroupsPruned,
    constraints: constraints === false ? false : Object.fromEntries(constraints),
    pruned,
    topInScans,
    counted,
    tasks,
    merge: { partials: tasks.length + counted.length, finish },
  };
}

/** Whether the query's groups each lie within one shard (a GROUP BY key is `stream` or `shard`) and only its top groups are answered. */
function groupsWithinShards(spec: QuerySpec): boolean {
  return (
    spec.aggregated &&
    spec.limit !== null &&
    spec.orderBy.length > 0 &&
    spec.groupBy.some((g) => g.kind === 'column' && (g.name === 'stream' || g.name === 'shard'))
  );
}

/**
 * Sub-requests of whole shards: one per shard, or (past the sub-request budget) several shards per
 * task, balanced by estimated bytes; segments in catalog order within a task.
 */
function shardTasks(segments: readonly PlannedSegment[], options: PlanOptions): ScanTask[] {
  const byShard = new Map<number, PlannedSegment[]>();
  for (const s of segments) byShard.set(s.shard, [...(byShard.get(s.shard) ?? []), s]);
  const count = Math.min(byShard.size, options.maxSubrequests && options.maxSubrequests > 0 ? options.maxSubrequests : byShard.size);
  const tasks: ScanTask[] = Array.from({ length: count }, () => ({ segments: [], estimatedBytes: 0, estimatedRows: 0 }));
  const shards = [...byShard.values()].map((segs) => ({
    segs,
    bytes: segs.reduce((n, s) => n + s.estimatedBytes, 0),
    rows: segs.reduce((n, s) => n + s.estimatedRows, 0),
  }));
  shards.sort((a, b) => b.bytes - a.bytes || a.segs[0]!.shard - b.segs[0]!.shard);
  for (const sh of shards) {
    const t = tasks.reduce((best, x) => (x.estimatedBytes < best.estimatedBytes ? x : best));
    t.segments.push(...sh.segs);
    t.estimatedBytes += sh.bytes;
    t.estimatedRows += sh.rows;
  }
  const rank = new Map(segments.map((s, i) => [s.key, i]));
  for (const t of tasks) t.segments.sort((a, b) => rank.get(a.key)! - rank.get(b.key)!);
  return tasks.filter((t) => t.segments.length > 0);
}

/**
 * Splits segments into sub-requests: as few as the bounds allow (segments and bytes per scan, then
 * the sub-request budget), balanced by estimated bytes (largest first, each to the lightest task
 * with room). Deterministic for a given input.
 */
export function splitTasks(segments: readonly PlannedSegment[], options: PlanOptions): ScanTask[] {
  if (segments.length === 0) return [];
  const perScan = Math.max(1, Math.floor(options.maxSegmentsPerScan));
  const total = segments.reduce((s, x) => s + x.estimatedBytes, 0);
  let count = Math.ceil(segments.length / perScan);
  if (options.maxBytesPerScan && options.maxBytesPerScan > 0) count = Math.max(count, Math.ceil(total / options.maxBytesPerScan));
  count = Math.min(count, segments.length);
  if (options.maxSubrequests && options.maxSubrequests > 0) count = Math.min(count, options.maxSubrequests);
  const cap = Math.ceil(segments.length / count) > perScan ? Math.ceil(segments.length / count) : perScan;
  const tasks: ScanTask[] = Array.from({ length: count }, () => ({ segments: [], estimatedBytes: 0, estimatedRows: 0 }));
  const order = [...segments].sort((a, b) => b.estimatedBytes - a.estimatedBytes || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const seg of order) {
    let best: ScanTask | undefined;
    for (const t of tasks) if (t.segments.length < cap && (!best || t.estimatedBytes < best.estimatedBytes)) best = t;
    best!.segments.push(seg);
    best!.estimatedBytes += seg.estimatedBytes;
    best!.estimatedRows += seg.estimatedRows;
  }
  // Each task reads its segments in catalog order (date, shard, seq), which keeps R2 reads local.
  const rank = new Map(segments.map((s, i) => [s.key, i]));
  for (const t of tasks) t.segments.sort((a, b) => rank.get(a.key)! - rank.get(b.key)!);
  return tasks.filter((t) => t.segments.length > 0);
}
