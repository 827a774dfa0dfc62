// The SQL parser of the query engine: a hand-written tokenizer and recursive-descent parser for the
// SELECT subset of DESIGN.md §3, producing a `SelectStatement` (ast.ts) with aggregates still inline.
// Runs anywhere (Workers, Node): no dependencies, no code generation. Every problem the caller can fix
// is a `SqlError` with the span of the offending token and a message that names what is supported.
//
// Column names, aliases in ORDER BY / GROUP BY and ordinals are resolved here only as far as the
// syntax goes: a bare identifier in ORDER BY that names an output alias becomes that output's
// expression (DuckDB: alias first), in GROUP BY an event column wins over an alias (DuckDB too);
// ordinals stay integer literals for the analyser (analyse.ts).

import { EVENT_COLUMNS, SqlError } from './ast.js';
import type {
  AggregateCall,
  AggregateFn,
  BinaryOp,
  DateUnit,
  EventColumn,
  Expr,
  OrderItem,
  ScalarFn,
  SelectStatement,
  Span,
  SqlType,
} from './ast.js';

/** Longest accepted SQL text, in UTF-8 bytes. */
export const MAX_SQL_BYTES = 16 * 1024;
/** Deepest nesting of parentheses, function calls, CASE, NOT and unary minus. */
export const MAX_EXPR_NESTING = 64;
/** Deepest expression tree, counting chains such as `a OR b OR c …` (protects every recursive walker). */
export const MAX_EXPR_TREE_DEPTH = 256;
/** Most items in one IN list. */
export const MAX_IN_ITEMS = 1000;
/** Largest LIMIT. */
export const MAX_LIMIT = 100_000;

export const DATE_UNITS: readonly DateUnit[] = ['millisecond', 'second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year'];

const COLUMN_LIST = EVENT_COLUMNS.join(', ');
const SCALAR_FNS: readonly ScalarFn[] = ['date_trunc', 'lower', 'upper', 'length', 'coalesce', 'abs', 'round'];
const AGGREGATE_FNS: readonly AggregateFn[] = ['count', 'sum', 'avg', 'min', 'max', 'approx_count_distinct', 'approx_quantile'];
const FUNCTION_LIST =
  'count(*), count(x), count(DISTINCT x), sum, avg, min, max, approx_count_distinct(x), approx_quantile(x, q), ' +
  "date_trunc('unit', ts), lower, upper, length, coalesce, abs, round(x[, digits]), CAST(x AS type), " +
  "json_extract(data, '$.a.b'), json_extract_string(data, '$.a.b')";
const CLAUSES = 'SELECT … FROM events [WHERE …] [GROUP BY …] [HAVING …] [ORDER BY …] [LIMIT n] [OFFSET n]';
const TYPE_LIST = 'integer, bigint, int, double, float, real, decimal, varchar, text, string, boolean, timestamp, timestamptz';
const WINDOW_FNS = new Set([
  'row_number',
  'rank',
  'dense_rank',
  'percent_rank',
  'cume_dist',
  'ntile',
  'lag',
  'lead',
  'first_value',
  'last_value',
  'nth_value',
]);

/** Words that end an expression or start a clause: never a column name or an implicit alias. */
const RESERVED = new Set([
  'select',
  'from',
  'where',
  'group',
  'by',
  'having',
  'order',
  'limit',
  'offset',
  'as',
  'and',
  'or',
  'not',
  'in',
  'is',
  'null',
  'like',
  'ilike',
  'between',
  'case',
  'when',
  'then',
  'else',
  'end',
  'asc',
  'desc',
  'nulls',
  'true',
  'false',
  'distinct',
  'join',
  'inner',
  'left',
  'right',
  'full',
  'outer',
  'cross',
  'natural',
  'on',
  'using',
  'union',
  'intersect',
  'except',
  'window',
  'qualify',
  'over',
  'filter',
  'with',
  'escape',
  'all',
  'exists',
  'cast',
  'interval',
  'fetch',
  'sample',
  'pivot',
  'unpivot',
  'returning',
  'into',
]);

// ---------------------------------------------------------------------------------------------
// Tokens

type TokenKind = 'ident' | 'qident' | 'string' | 'number' | 'op' | 'eof';

interface Token {
  kind: TokenKind;
  /** ident: lower-cased; qident and string: the unescaped content; number and op: the text. */
  value: string;
  /** The text as written. */
  raw: string;
  start: number;
  end: number;
}

const OPERATORS = [
  '->>',
  '<>',
  '!=',
  '<=',
  '>=',
  '||',
  '::',
  '->',
  '(',
  ')',
  ',',
  '.',
  ';',
  '*',
  '+',
  '-',
  '/',
  '%',
  '=',
  '<',
  '>',
  '[',
  ']',
];

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}
function isIdentPart(c: string): boolean {
  return isIdentStart(c) || isDigit(c) || c === '$';
}
function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

/** Renders an offset as a position a person can find: `23` (1-based), or `line 2, column 5`. */
export function positionText(sql: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < sql.length; i++) {
    if (sql[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  const column = offset - lineStart + 1;
  return sql.includes('\n') ? `line ${line}, column ${column}` : String(column);
}

function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  const fail = (message: string, start: number, end: number, hint?: string): never => {
    throw new SqlError(
      `${message} at ${positionText(sql, start)}${hint ? `: ${hint}` : ''}`,
      { start, end: Math.max(end, start + 1) },
      hint,
    );
  };
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v' || c === '\u00a0') {
      i++;
      continue;
    }
    if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) fail('Unterminated /* comment', i, i + 2, 'close it with */');
      i = close + 2;
      continue;
    }
    const start = i;
    if (isIdentStart(c)) {
      i++;
      while (i < n && isIdentPart(sql[i]!)) i++;
      const raw = sql.slice(start, i);
      tokens.push({ kind: 'ident', value: raw.toLowerCase(), raw, start, end: i });
      continue;
    }
    if (c === '"' || c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= n) {
          fail(c === '"' ? 'Unterminated quoted identifier' : 'Unterminated string literal', start, start + 1, `close it with ${c}`);
        }
        const d = sql[i]!;
        if (d === c) {
          if (sql[i + 1] === c) {
            value += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += d;
        i++;
      }
      if (c === '"' && value === '') fail('Empty quoted identifier', start, i);
      tokens.push({ kind: c === '"' ? 'qident' : 'string', value, raw: sql.slice(start, i), start, end: i });
      continue;
    }
    const prev = tokens[tokens.length - 1];
    const dotNumber =
      c === '.' &&
      isDigit(sql[i + 1] ?? '') &&
      !(prev && ((prev.kind === 'ident' && !RESERVED.has(prev.value)) || prev.kind === 'qident' || prev.raw === ')'));
    if (isDigit(c) || dotNumber) {
      while (i < n && isDigit(sql[i]!)) i++;
      if (sql[i] === '.' && !(sql[i + 1] === '.')) {
        i++;
        while (i < n && isDigit(sql[i]!)) i++;
      }
      if (sql[i] === 'e' || sql[i] === 'E') {
        let j = i + 1;
        if (sql[j] === '+' || sql[j] === '-') j++;
        if (isDigit(sql[j] ?? '')) {
          i = j;
          while (i < n && isDigit(sql[i]!)) i++;
        }
      }
      if (i < n && isIdentStart(sql[i]!)) fail(`Malformed number "${sql.slice(start, i + 1)}"`, start, i + 1);
      const raw = sql.slice(start, i);
      tokens.push({ kind: 'number', value: raw, raw, start, end: i });
      continue;
    }
    const op = OPERATORS.find((o) => sql.startsWith(o, i));
    if (op) {
      i += op.length;
      tokens.push({ kind: 'op', value: op, raw: op, start, end: i });
      continue;
    }
    if (c === '?' || c === '$') fail(`Parameters ("${c}") are not supported`, start, start + 1, 'write the values into the SQL text');
    const cp = sql.codePointAt(i)!;
    fail(`Unexpected character "${String.fromCodePoint(cp)}"`, start, start + (cp > 0xffff ? 2 : 1));
  }
  tokens.push({ kind: 'eof', value: '', raw: '', start: n, end: n });
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Literals shared with the analyser

/**
 * Parses a timestamp text to epoch milliseconds (UTC): `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.fff…]]`,
 * the same with `T`, and an optional `Z` or `±HH[:MM]` offset. Digits past milliseconds are
 * truncated. Returns null when the text is not such a timestamp or names no real date.
 */
export function parseTimestamp(text: string): number | null {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$/.exec(text);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const dim = month === 2 ? (isLeap(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  if (day > dim) return null;
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  let t = d.getTime();
  const zone = m[8];
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 23 || om > 59) return null;
    t -= sign * (oh * 60 + om) * 60_000;
  }
  return t;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/**
 * Parses a JSON path as DuckDB's json_extract takes it: `$.a.b`, `$."a b".c`. Returns the segments,
 * or a message saying what is wrong (array indexes and wildcards are not supported).
 */
export function parseJsonPath(text: string): string[] | string {
  if (!text.startsWith('$')) return `a JSON path starts with "$." (like '$.a.b')`;
  const out: string[] = [];
  let i = 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '[') return 'array indexes in JSON paths are not supported; name object fields only (like $.a.b)';
    if (c !== '.') return `unexpected "${c}" in JSON path; use $.field.field`;
    i++;
    if (text[i] === '"') {
      const close = text.indexOf('"', i + 1);
      if (close < 0) return 'unterminated quoted field in JSON path';
      out.push(text.slice(i + 1, close));
      i = close + 1;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
      if (!m) return text[i] === '*' ? 'wildcards in JSON paths are not supported' : 'expected a field name after "." in JSON path';
      out.push(m[0]);
      i += m[0].length;
    }
  }
  if (out.length === 0) return 'the JSON path must name a field of data (like $.a.b); for the whole document use data';
  for (const seg of out) {
    const bad = checkPathSegment(seg);
    if (bad) return bad;
  }
  return out;
}

function checkPathSegment(seg: string): string | null {
  if (seg === '') return 'a data field name cannot be empty';
  if (seg.includes('.')) return `a data field name containing "." ("${seg}") is not supported`;
  if (seg.includes('"')) return 'a data field name containing a double quote is not supported';
  return null;
}

/** The SQL type names CAST and `::` accept, mapped to the engine's types. */
export const CAST_TYPES: Record<string, Exclude<SqlType, 'json' | 'null'>> = {
  integer: 'integer',
  int: 'integer',
  bigint: 'integer',
  int4: 'integer',
  int8: 'integer',
  smallint: 'integer',
  double: 'double',
  float: 'double',
  float8: 'double',
  real: 'double',
  decimal: 'double',
  numeric: 'double',
  varchar: 'string',
  text: 'string',
  string: 'string',
  boolean: 'boolean',
  bool: 'boolean',
  timestamp: 'timestamp',
  timestamptz: 'timestamp',
};

// ---------------------------------------------------------------------------------------------
// Parser

function spanOf(a: { span: Span } | Token, b: { span: Span } | Token): Span {
  const s = 'span' in a ? a.span.start : a.start;
  const e = 'span' in b ? b.span.end : b.end;
  return { start: s, end: e };
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'the end of the query';
    case 'string':
      return `string ${t.raw.length > 30 ? t.raw.slice(0, 27) + '…' : t.raw}`;
    case 'number':
      return `number ${t.raw}`;
    case 'ident':
      return RESERVED.has(t.value) ? t.raw.toUpperCase() : `"${t.raw}"`;
    default:
      return `"${t.raw}"`;
  }
}

class Parser {
  private pos = 0;
  private nesting = 0;
  private inAggregate: Expr | null = null;
  private readonly depths = new WeakMap<Expr, number>();

  constructor(
    private readonly sql: string,
    private readonly tokens: Token[],
  ) {}

  // --- token helpers

  private peek(k = 0): Token {
    return this.tokens[Math.min(this.pos + k, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }
  private isKw(word: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'ident' && t.value === word;
  }
  private isOp(op: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'op' && t.value === op;
  }
  private acceptKw(word: string): Token | null {
    return this.isKw(word) ? this.next() : null;
  }
  private acceptOp(op: string): Token | null {
    return this.isOp(op) ? this.next() : null;
  }
  private fail(message: string, span: Span, hint?: string): never {
    throw new SqlError(`${message} at ${positionText(this.sql, span.start)}${hint ? `: ${hint}` : ''}`, span, hint);
  }
  private tokSpan(t: Token): Span {
    return { start: t.start, end: Math.max(t.end, t.start + (t.kind === 'eof' ? 0 : 1)) };
  }
  private expected(what: string, hint?: string): never {
    const t = this.peek();
    this.unsupportedAt(t);
    return this.fail(`Expected ${what}, found ${describe(t)}`, this.tokSpan(t), hint);
  }
  private expectOp(op: string, what?: string): Token {
    return this.acceptOp(op) ?? this.expected(what ?? `"${op}"`);
  }
  private expectKw(word: string, hint?: string): Token {
    return this.acceptKw(word) ?? this.expected(word.toUpperCase(), hint);
  }

  /** Throws the "not supported" error when `t` starts a construct outside the subset. */
  private unsupportedAt(t: Token): void {
    if (t.kind !== 'ident') return;
    const span = this.tokSpan(t);
    const supported = `supported is ${CLAUSES}`;
    switch (t.value) {
      case 'join':
      case 'inner':
      case 'left':
      case 'right':
      case 'full':
      case 'cross':
      case 'natural':
        return this.fail('JOIN is not supported', span, `queries read the one table events; ${supported}`);
      case 'union':
      case 'intersect':
      case 'except':
        return this.fail(`${t.value.toUpperCase()} is not supported`, span, `one SELECT per query; ${supported}`);
      case 'window':
      case 'over':
      case 'qualify':
        return this.fail('Window functions are not supported', span, `use GROUP BY with aggregates; ${supported}`);
      case 'with':
        return this.fail('WITH (common table expressions) is not supported', span, supported);
      case 'fetch':
        return this.fail('FETCH is not supported', span, 'use LIMIT n');
      case 'sample':
      case 'using':
        return this.fail(`${t.value.toUpperCase()} is not supported`, span, supported);
      case 'pivot':
      case 'unpivot':
        return this.fail(`${t.value.toUpperCase()} is not supported`, span, supported);
      case 'interval':
        return this.fail('INTERVAL is not supported', span, "compare time with TIMESTAMP '2026-01-01 00:00:00' literals instead");
      case 'exists':
        return this.fail('Subqueries (EXISTS) are not supported', span, supported);
    }
  }

  private enter(t: Token): void {
    if (++this.nesting > MAX_EXPR_NESTING) {
      this.fail(`Expression nested too deeply (more than ${MAX_EXPR_NESTING} levels)`, this.tokSpan(t), 'simplify the expression');
    }
  }
  private leave(): void {
    this.nesting--;
  }

  /** Records a node's tree depth and refuses trees deeper than MAX_EXPR_TREE_DEPTH. */
  private mk<E extends Expr>(e: E, ...children: (Expr | null | undefined)[]): E {
    let d = 0;
    for (const c of children) if (c) d = Math.max(d, this.depths.get(c) ?? 1);
    if (d + 1 > MAX_EXPR_TREE_DEPTH) {
      this.fail(`Expression too deep (more than ${MAX_EXPR_TREE_DEPTH} levels)`, e.span, 'use IN (…) instead of long OR chains');
    }
    this.depths.set(e, d + 1);
    return e;
  }

  // --- statement

  parseStatement(): SelectStatement {
    const first = this.peek();
    if (!this.isKw('select')) {
      this.unsupportedAt(first);
      if (
        first.kind === 'ident' &&
        /^(insert|update|delete|create|drop|alter|truncate|merge|copy|attach|detach|pragma|set|install|load|call|explain|describe|show|begin|commit|rollback|vacuum|export|import|replace|upsert)$/.test(
          first.value,
        )
      ) {
        this.fail(`${first.raw.toUpperCase()} is not supported`, this.tokSpan(first), `queries are read-only; supported is ${CLAUSES}`);
      }
      if (first.kind === 'eof') this.fail('Empty query', { start: 0, end: 0 }, `supported is ${CLAUSES}`);
      this.expected('SELECT', `supported is ${CLAUSES}`);
    }
    this.next();
    if (this.isKw('distinct')) {
      this.fail('SELECT DISTINCT is not supported', this.tokSpan(this.peek()), 'use GROUP BY on the selected expressions');
    }
    this.acceptKw('all');

    let items: SelectStatement['items'];
    const star = this.acceptOp('*');
    if (star) {
      items = 'star';
      if (this.isOp(',')) this.fail('"*" must be the only item of the select list', this.tokSpan(this.peek()), 'list the columns instead');
    } else {
      items = [];
      do {
        if (this.isOp('*'))
          this.fail('"*" must be the only item of the select list', this.tokSpan(this.peek()), 'list the columns instead');
        if (this.isKw('from') && items.length > 0) this.fail('Trailing comma in select list', this.tokSpan(this.peek()));
        const expr = this.parseExpr();
        let alias: string | null = null;
        let end: Span = expr.span;
        if (this.acceptKw('as')) {
          const a = this.next();
          if (a.kind !== 'qident' && !(a.kind === 'ident' && !RESERVED.has(a.value))) {
            this.fail(`Expected an alias after AS, found ${describe(a)}`, this.tokSpan(a), 'quote reserved words: AS "order"');
          }
          alias = a.kind === 'qident' ? a.value : a.raw;
          end = this.tokSpan(a);
        } else {
          const a = this.peek();
          if ((a.kind === 'ident' && !RESERVED.has(a.value)) || a.kind === 'qident') {
            this.next();
            alias = a.kind === 'qident' ? a.value : a.raw;
            end = this.tokSpan(a);
          }
        }
        items.push({ expr, alias, span: { start: expr.span.start, end: end.end } });
      } while (this.acceptOp(','));
    }

    this.parseFrom();

    let where: Expr | null = null;
    if (this.acceptKw('where')) where = this.parseExpr();

    const groupBy: Expr[] = [];
    if (this.isKw('group')) {
      this.next();
      this.expectKw('by');
      if (this.isKw('all')) this.fail('GROUP BY ALL is not supported', this.tokSpan(this.peek()), 'list the group keys');
      do groupBy.push(this.parseKeyItem(items, 'group'));
      while (this.acceptOp(','));
    }

    let having: Expr | null = null;
    if (this.acceptKw('having')) having = this.parseExpr();

    const orderBy: OrderItem[] = [];
    if (this.isKw('order')) {
      this.next();
      this.expectKw('by');
      do {
        const expr = this.parseKeyItem(items, 'order');
        let desc = false;
        if (this.acceptKw('desc')) desc = true;
        else this.acceptKw('asc');
        let nullsFirst = false;
        if (this.acceptKw('nulls')) {
          if (this.acceptKw('first')) nullsFirst = true;
          else if (!this.acceptKw('last')) this.expected('FIRST or LAST after NULLS');
        }
        orderBy.push({ expr, desc, nullsFirst });
      } while (this.acceptOp(','));
    }

    let limit: number | null = null;
    let offset = 0;
    let sawLimit = false;
    let sawOffset = false;
    for (;;) {
      if (!sawLimit && this.isKw('limit')) {
        this.next();
        sawLimit = true;
        limit = this.parseCount('LIMIT', MAX_LIMIT);
      } else if (!sawOffset && this.isKw('offset')) {
        this.next();
        sawOffset = true;
        offset = this.parseCount('OFFSET', Number.MAX_SAFE_INTEGER);
        if (!this.acceptKw('rows')) this.acceptKw('row');
      } else break;
    }

    this.acceptOp(';');
    const t = this.peek();
    if (t.kind !== 'eof') {
      this.unsupportedAt(t);
      if (this.tokens[this.pos - 1]?.raw === ';') {
        this.fail('Only one statement per query', this.tokSpan(t), 'send one SELECT');
      }
      this.fail(
        `Unexpected ${describe(t)}`,
        this.tokSpan(t),
        `expected ${this.clauseAfter(where, groupBy, having, orderBy, sawLimit, sawOffset)}, or the end of the query`,
      );
    }
    return { items, where, groupBy, having, orderBy, limit, offset };
  }

  private clauseAfter(
    where: Expr | null,
    groupBy: Expr[],
    having: Expr | null,
    orderBy: OrderItem[],
    limit: boolean,
    offset: boolean,
  ): string {
    const next: string[] = [];
    if (!where && groupBy.length === 0 && !having && orderBy.length === 0 && !limit && !offset) next.push('WHERE');
    if (groupBy.length === 0 && !having && orderBy.length === 0 && !limit && !offset) next.push('GROUP BY');
    if (!having && orderBy.length === 0 && !limit && !offset) next.push('HAVING');
    if (orderBy.length === 0 && !limit && !offset) next.push('ORDER BY');
    if (!limit) next.push('LIMIT');
    if (!offset) next.push('OFFSET');
    return next.length ? `an operator, ${next.join(', ')}` : 'an operator';
  }

  private parseFrom(): void {
    if (!this.isKw('from')) {
      const t = this.peek();
      this.unsupportedAt(t);
      this.fail(`Expected FROM events, found ${describe(t)}`, this.tokSpan(t), 'every query reads FROM events');
    }
    this.next();
    const t = this.peek();
    if (this.isOp('(')) {
      this.fail('Subqueries are not supported', this.tokSpan(t), 'the only table is events: SELECT … FROM events');
    }
    if ((t.kind === 'ident' && t.value === 'events') || (t.kind === 'qident' && t.value.toLowerCase() === 'events')) {
      this.next();
    } else if (t.kind === 'ident' || t.kind === 'qident' || t.kind === 'string') {
      this.fail(`Unknown table "${t.kind === 'ident' ? t.raw : t.value}"`, this.tokSpan(t), 'the only table is events');
    } else {
      this.fail(`Expected the table name events, found ${describe(t)}`, this.tokSpan(t), 'the only table is events');
    }
    if (this.isOp('.')) this.fail('Qualified table names are not supported', this.tokSpan(this.peek()), 'the only table is events');
    if (this.isOp(',')) this.fail('Joins are not supported', this.tokSpan(this.peek()), 'queries read the one table events');
    const a = this.peek();
    this.unsupportedAt(a);
    if (this.isKw('as') || (a.kind === 'ident' && !RESERVED.has(a.value)) || a.kind === 'qident') {
      this.fail('Table aliases are not supported', this.tokSpan(a), 'name columns directly: SELECT type FROM events');
    }
  }

  /** A GROUP BY or ORDER BY item: an expression, an output alias (bare identifier), or an ordinal. */
  private parseKeyItem(items: SelectStatement['items'], clause: 'group' | 'order'): Expr {
    const t = this.peek();
    const after = this.peek(1);
    const bare =
      (t.kind === 'ident' || t.kind === 'qident') &&
      (after.kind === 'eof' ||
        (after.kind === 'op' && (after.value === ',' || after.value === ';')) ||
        (after.kind === 'ident' && ['asc', 'desc', 'nulls', 'limit', 'offset', 'having', 'order'].includes(after.value)));
    if (bare && items !== 'star') {
      const name = t.kind === 'qident' ? t.value : t.raw;
      const isColumn = t.kind === 'ident' ? (EVENT_COLUMNS as readonly string[]).includes(t.value) : isQuotedColumnOrPath(t.value);
      const item = items.find((it) => it.alias !== null && it.alias.toLowerCase() === name.toLowerCase());
      if (item && (clause === 'order' || !isColumn)) {
        this.next();
        return item.expr;
      }
    }
    return this.parseExpr();
  }

  private parseCount(what: string, max: number): number {
    const t = this.peek();
    if (t.kind === 'op' && t.value === '-' && this.peek(1).kind === 'number') {
      this.fail(`${what} cannot be negative`, spanOf(t, this.peek(1)));
    }
    if (t.kind !== 'number' || !/^\d+$/.test(t.value)) this.expected(`a whole number after ${what}`);
    this.next();
    const v = Number(t.value);
    if (!Number.isSafeInteger(v) || v > max) this.fail(`${what} ${t.value} is too large`, this.tokSpan(t), `the largest ${what} is ${max}`);
    return v;
  }

  // --- expressions, lowest precedence first

  parseExpr(): Expr {
    const t = this.peek();
    this.enter(t);
    try {
      return this.parseOr();
    } finally {
      this.leave();
    }
  }

  private parseOr(): Expr {
    let left = this.parseAnd();
    while (this.acceptKw('or')) {
      const right = this.parseAnd();
      left = this.mk({ kind: 'binary', op: 'or', left, right, span: spanOf(left, right) }, left, right);
    }
    return left;
  }

  private parseAnd(): Expr {
    let left = this.parseNot();
    while (this.acceptKw('and')) {
      const right = this.parseNot();
      left = this.mk({ kind: 'binary', op: 'and', left, right, span: spanOf(left, right) }, left, right);
    }
    return left;
  }

  private parseNot(): Expr {
    const t = this.peek();
    if (this.isKw('not')) {
      this.next();
      this.enter(t);
      try {
        const arg = this.parseNot();
        return this.mk({ kind: 'unary', op: 'not', arg, span: spanOf(t, arg) }, arg);
      } finally {
        this.leave();
      }
    }
    return this.parsePredicate();
  }

  private parsePredicate(): Expr {
    let left = this.parseConcat();
    for (;;) {
      const t = this.peek();
      if (t.kind === 'op' && ['=', '<>', '!=', '<', '<=', '>', '>='].includes(t.value)) {
        this.next();
        const op = (t.value === '!=' ? '<>' : t.value) as BinaryOp;
        const right = this.parseConcat();
        left = this.mk({ kind: 'binary', op, left, right, span: spanOf(left, right) }, left, right);
        continue;
      }
      if (this.isKw('is')) {
        this.next();
        const negated = !!this.acceptKw('not');
        if (this.isKw('distinct'))
          this.fail('IS [NOT] DISTINCT FROM is not supported', this.tokSpan(this.peek()), 'use =, <> and IS [NOT] NULL');
        if (this.isKw('true') || this.isKw('false')) {
          this.fail(
            `IS ${negated ? 'NOT ' : ''}${this.peek().raw.toUpperCase()} is not supported`,
            this.tokSpan(this.peek()),
            'use = TRUE / = FALSE, or IS [NOT] NULL',
          );
        }
        const end = this.expectKw('null');
        left = this.mk({ kind: 'isNull', arg: left, negated, span: spanOf(left, end) }, left);
        continue;
      }
      let negated = false;
      if (this.isKw('not') && (this.isKw('in', 1) || this.isKw('like', 1) || this.isKw('ilike', 1) || this.isKw('between', 1))) {
        this.next();
        negated = true;
      }
      if (this.acceptKw('in')) {
        const open = this.expectOp('(', '"(" after IN');
        if (this.isKw('select') || this.isKw('with')) {
          this.fail('Subqueries are not supported', this.tokSpan(this.peek()), 'IN takes a list of values: x IN (1, 2, 3)');
        }
        if (this.isOp(')')) this.fail('Empty IN list', this.tokSpan(this.peek()), 'IN takes at least one value');
        const list: Expr[] = [];
        this.enter(open);
        try {
          do {
            if (list.length >= MAX_IN_ITEMS) this.fail(`IN list too long`, this.tokSpan(this.peek()), `at most ${MAX_IN_ITEMS} items`);
            list.push(this.parseExpr());
          } while (this.acceptOp(','));
        } finally {
          this.leave();
        }
        const close = this.expectOp(')', '"," or ")" in the IN list');
        left = this.mk({ kind: 'in', arg: left, list, negated, span: spanOf(left, close) }, left, ...list);
        continue;
      }
      if (this.isKw('like') || this.isKw('ilike')) {
        const kw = this.next();
        const p = this.peek();
        if (p.kind !== 'string')
          this.expected(`a string literal pattern after ${kw.raw.toUpperCase()}`, "patterns are literals like 'abc%'");
        this.next();
        let escape: string | null = null;
        let end: Token = p;
        if (this.acceptKw('escape')) {
          const e = this.peek();
          if (e.kind !== 'string') this.expected('a string literal after ESCAPE');
          this.next();
          if ([...e.value].length > 1) this.fail('ESCAPE takes one character', this.tokSpan(e));
          escape = e.value === '' ? null : e.value;
          end = e;
        }
        left = this.mk(
          { kind: 'like', arg: left, pattern: p.value, escape, negated, caseInsensitive: kw.value === 'ilike', span: spanOf(left, end) },
          left,
        );
        continue;
      }
      if (this.acceptKw('between')) {
        const low = this.parseConcat();
        this.expectKw('and', 'BETWEEN takes low AND high');
        const high = this.parseConcat();
        left = this.mk({ kind: 'between', arg: left, low, high, negated, span: spanOf(left, high) }, left, low, high);
        continue;
      }
      if (negated) this.expected('IN, LIKE, ILIKE or BETWEEN after NOT');
      if (this.isKw('similar') || this.isKw('glob') || this.isKw('regexp')) {
        this.fail(`${this.peek().raw.toUpperCase()} is not supported`, this.tokSpan(this.peek()), 'use LIKE or ILIKE');
      }
      return left;
    }
  }

  private parseConcat(): Expr {
    let left = this.parseAdditive();
    while (this.acceptOp('||')) {
      const right = this.parseAdditive();
      left = this.mk({ kind: 'binary', op: '||', left, right, span: spanOf(left, right) }, left, right);
    }
    return left;
  }

  private parseAdditive(): Expr {
    let left = this.parseMultiplicative();
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || (t.value !== '+' && t.value !== '-')) return left;
      this.next();
      const right = this.parseMultiplicative();
      left = this.mk({ kind: 'binary', op: t.value, left, right, span: spanOf(left, right) }, left, right);
    }
  }

  private parseMultiplicative(): Expr {
    let left = this.parseUnary();
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || (t.value !== '*' && t.value !== '/' && t.value !== '%')) return left;
      this.next();
      const right = this.parseUnary();
      left = this.mk({ kind: 'binary', op: t.value, left, right, span: spanOf(left, right) }, left, right);
    }
  }

  private parseUnary(): Expr {
    const t = this.peek();
    if (t.kind === 'op' && (t.value === '-' || t.value === '+')) {
      this.next();
      this.enter(t);
      try {
        const arg = this.parseUnary();
        if (t.value === '+') return arg;
        // Fold a minus into a number literal, as DuckDB does: `-5` is the literal -5.
        if (arg.kind === 'literal' && typeof arg.value === 'number' && (arg.type === 'integer' || arg.type === 'double')) {
          return this.mk({ ...arg, value: arg.value === 0 ? 0 : -arg.value, span: spanOf(t, arg) });
        }
        return this.mk({ kind: 'unary', op: 'neg', arg, span: spanOf(t, arg) }, arg);
      } finally {
        this.leave();
      }
    }
    return this.parsePostfix();
  }

  private parsePostfix(): Expr {
    let e = this.parsePrimary();
    for (;;) {
      if (this.acceptOp('::')) {
        const { to, end } = this.parseType();
        e = this.mk({ kind: 'cast', arg: e, to, span: { start: e.span.start, end } }, e);
        continue;
      }
      if (this.isOp('[')) this.fail('Subscripts ([…]) are not supported', this.tokSpan(this.peek()), 'name data fields with data.a.b');
      if (this.isOp('->') || this.isOp('->>')) {
        const arrow = this.next();
        if (e.kind !== 'column' || e.name !== 'data') {
          this.fail(`${arrow.value} applies to the data column only`, this.tokSpan(arrow), "use data->>'$.a.b' or data.a.b");
        }
        const p = this.peek();
        if (p.kind !== 'string') this.expected(`a JSON path string after ${arrow.value}`, "like data->>'$.a.b'");
        this.next();
        const path = parseJsonPath(p.value);
        if (typeof path === 'string') this.fail(`Unsupported JSON path ${p.raw}`, this.tokSpan(p), path);
        e = this.mk({ kind: 'path', path, span: spanOf(e, p) });
        continue;
      }
      return e;
    }
  }

  private parseType(): { to: Exclude<SqlType, 'json' | 'null'>; end: number } {
    const t = this.peek();
    if (t.kind !== 'ident') this.expected('a type name', `types are ${TYPE_LIST}`);
    this.next();
    let name = t.value;
    let end = t.end;
    if (name === 'double' && this.isKw('precision')) end = this.next().end;
    if (name === 'timestamp' && this.isKw('with')) {
      this.next();
      this.expectKw('time');
      end = this.expectKw('zone').end;
      name = 'timestamptz';
    }
    const to = CAST_TYPES[name];
    if (!to) this.fail(`Unknown type "${t.raw}"`, this.tokSpan(t), `types are ${TYPE_LIST}`);
    if ((name === 'decimal' || name === 'numeric' || name === 'varchar') && this.isOp('(')) {
      this.next();
      do {
        const n = this.peek();
        if (n.kind !== 'number' || !/^\d+$/.test(n.value)) this.expected('a whole number in the type parameters');
        this.next();
      } while (this.acceptOp(','));
      end = this.expectOp(')').end;
    }
    return { to, end };
  }

  private parsePrimary(): Expr {
    const t = this.peek();
    switch (t.kind) {
      case 'number':
        return this.parseNumber();
      case 'string':
        this.next();
        return this.mk({ kind: 'literal', value: t.value, type: 'string', span: this.tokSpan(t) });
      case 'qident':
        this.next();
        return this.columnRef(t);
      case 'op':
        if (t.value === '(') {
          this.next();
          if (this.isKw('select') || this.isKw('with')) {
            this.fail('Subqueries are not supported', this.tokSpan(this.peek()), `supported is ${CLAUSES}`);
          }
          const e = this.parseExpr();
          this.expectOp(')', '")"');
          return e;
        }
        if (t.value === '*') this.fail('"*" is only allowed as SELECT * or count(*)', this.tokSpan(t));
        return this.expected('an expression');
      case 'eof':
        return this.expected('an expression');
      case 'ident':
        break;
    }
    const w = t.value;
    if (this.isOp('(', 1)) return this.parseCall();
    switch (w) {
      case 'true':
      case 'false':
        this.next();
        return this.mk({ kind: 'literal', value: w === 'true', type: 'boolean', span: this.tokSpan(t) });
      case 'null':
        this.next();
        return this.mk({ kind: 'literal', value: null, type: 'null', span: this.tokSpan(t) });
      case 'timestamp':
      case 'timestamptz': {
        if (this.peek(1).kind === 'string') {
          this.next();
          const s = this.next();
          const ms = parseTimestamp(s.value);
          if (ms === null) {
            this.fail(`Invalid timestamp ${s.raw}`, this.tokSpan(s), "write TIMESTAMP '2026-01-01 00:00:00' or '2026-01-01T00:00:00Z'");
          }
          return this.mk({ kind: 'literal', value: ms, type: 'timestamp', span: spanOf(t, s) });
        }
        break;
      }
      case 'date':
        if (this.peek(1).kind === 'string') {
          this.fail(
            'DATE literals are not supported',
            this.tokSpan(t),
            "use TIMESTAMP '2026-01-01 00:00:00' (or a plain '2026-01-01' compared with time)",
          );
        }
        break;
      case 'case':
        return this.parseCase();
      case 'select':
        return this.fail('Subqueries are not supported', this.tokSpan(t), `supported is ${CLAUSES}`);
    }
    this.unsupportedAt(t);
    if (RESERVED.has(w)) this.expected('an expression');
    this.next();
    return this.columnRef(t);
  }

  private parseNumber(): Expr {
    const t = this.next();
    const isInt = /^\d+$/.test(t.value);
    const v = Number(t.value);
    if (!Number.isFinite(v)) this.fail(`Number ${t.raw} is out of range`, this.tokSpan(t));
    if (isInt && !Number.isSafeInteger(v)) {
      this.fail(
        `Integer ${t.raw} is out of range`,
        this.tokSpan(t),
        `integers are exact up to ${Number.MAX_SAFE_INTEGER}; write ${t.raw}.0 for a double`,
      );
    }
    return this.mk({ kind: 'literal', value: v, type: isInt ? 'integer' : 'double', span: this.tokSpan(t) });
  }

  /** A column, `data.a.b`, `"data.a.b"`, `events.type`. `first` is consumed. */
  private columnRef(first: Token): Expr {
    let head = first;
    if (head.kind === 'ident' && head.value === 'events' && this.isOp('.')) {
      this.next();
      const h = this.next();
      if (h.kind !== 'ident' && h.kind !== 'qident')
        this.fail(`Expected a column name after "events.", found ${describe(h)}`, this.tokSpan(h));
      head = h;
    }
    if (head.kind === 'qident') {
      const parts = head.value.split('.');
      const p0 = parts[0]!.toLowerCase();
      if (parts.length > 1 && p0 === 'data') {
        const path = parts.slice(1);
        for (const seg of path) {
          const bad = checkPathSegment(seg);
          if (bad) this.fail(`Bad data field ${head.raw}`, this.tokSpan(head), bad);
        }
        return this.pathTail(path, head);
      }
      if ((EVENT_COLUMNS as readonly string[]).includes(head.value.toLowerCase())) {
        return this.columnTail(head.value.toLowerCase() as EventColumn, head);
      }
      return this.unknownColumn(head, head.value);
    }
    if ((EVENT_COLUMNS as readonly string[]).includes(head.value)) return this.columnTail(head.value as EventColumn, head);
    return this.unknownColumn(head, head.raw);
  }

  private columnTail(name: EventColumn, head: Token): Expr {
    if (name === 'data' && this.isOp('.')) return this.pathTail([], head);
    if (this.isOp('.')) {
      this.fail(`Column ${name} has no fields`, this.tokSpan(this.peek()), 'only data has fields: data.a.b');
    }
    return this.mk({ kind: 'column', name, span: this.tokSpan(head) });
  }

  private pathTail(path: string[], head: Token): Expr {
    let end = head.end;
    while (this.acceptOp('.')) {
      const s = this.next();
      if (s.kind === 'ident') path.push(s.raw);
      else if (s.kind === 'qident') {
        const bad = checkPathSegment(s.value);
        if (bad) this.fail(`Bad data field ${s.raw}`, this.tokSpan(s), bad);
        path.push(s.value);
      } else
        this.fail(
          `Expected a field name after ".", found ${describe(s)}`,
          this.tokSpan(s),
          'fields are names like data.post.id or data."my-field"',
        );
      end = s.end;
    }
    if (this.isOp('[')) this.fail('Array indexes are not supported', this.tokSpan(this.peek()), 'name object fields only: data.a.b');
    if (path.length === 0) this.fail('Expected a field name after data.', this.tokSpan(this.peek()));
    return this.mk({ kind: 'path', path, span: { start: head.start, end } });
  }

  private unknownColumn(t: Token, name: string): never {
    if (this.isOp('.')) {
      this.fail(`Unknown table or column "${name}"`, this.tokSpan(t), `columns are ${COLUMN_LIST}; data fields are data.a.b`);
    }
    const field = /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `"${name}"`;
    return this.fail(
      `Unknown column "${name}"`,
      this.tokSpan(t),
      `columns are ${COLUMN_LIST}; use data.${field} for a field of the event's data`,
    );
  }

  private parseCase(): Expr {
    const start = this.next();
    this.enter(start);
    try {
      let operand: Expr | null = null;
      if (!this.isKw('when')) operand = this.parseExpr();
      const whens: { when: Expr; then: Expr }[] = [];
      const children: Expr[] = [];
      while (this.acceptKw('when')) {
        let when = this.parseExpr();
        if (operand) when = this.mk({ kind: 'binary', op: '=', left: operand, right: when, span: when.span }, operand, when);
        this.expectKw('then');
        const then = this.parseExpr();
        whens.push({ when, then });
        children.push(when, then);
      }
      if (whens.length === 0) this.expected('WHEN', 'CASE WHEN condition THEN value [ELSE value] END');
      let otherwise: Expr | null = null;
      if (this.acceptKw('else')) otherwise = this.parseExpr();
      const end = this.expectKw('end', 'close CASE with END');
      return this.mk({ kind: 'case', whens, otherwise, span: spanOf(start, end) }, ...children, otherwise);
    } finally {
      this.leave();
    }
  }

  private parseCall(): Expr {
    const nameTok = this.next();
    const name = nameTok.value;
    const open = this.next(); // "("
    this.enter(open);
    try {
      if (name === 'cast') {
        const arg = this.parseExpr();
        this.expectKw('as', 'CAST(x AS type)');
        const { to } = this.parseType();
        const close = this.expectOp(')');
        return this.mk({ kind: 'cast', arg, to, span: spanOf(nameTok, close) }, arg);
      }
      if (name === 'json_extract' || name === 'json_extract_string') {
        const d = this.parseExpr();
        if (d.kind !== 'column' || d.name !== 'data') {
          this.fail(`${name} reads the data column only`, d.span, `${name}(data, '$.a.b')`);
        }
        this.expectOp(',', `"," and a JSON path: ${name}(data, '$.a.b')`);
        const p = this.peek();
        if (p.kind !== 'string') this.expected('a JSON path string literal', `${name}(data, '$.a.b')`);
        this.next();
        const path = parseJsonPath(p.value);
        if (typeof path === 'string') this.fail(`Unsupported JSON path ${p.raw}`, this.tokSpan(p), path);
        const close = this.expectOp(')');
        return this.mk({ kind: 'path', path, span: spanOf(nameTok, close) });
      }
      if ((AGGREGATE_FNS as readonly string[]).includes(name)) return this.parseAggregate(nameTok, name as AggregateFn);
      if ((SCALAR_FNS as readonly string[]).includes(name)) return this.parseScalar(nameTok, name as ScalarFn);
      if (WINDOW_FNS.has(name))
        this.fail(`Window function ${nameTok.raw} is not supported`, this.tokSpan(nameTok), `supported functions are ${FUNCTION_LIST}`);
      if (name === 'try_cast') this.fail('TRY_CAST is not supported', this.tokSpan(nameTok), 'use CAST(x AS type)');
      return this.fail(`Unknown function ${nameTok.raw}`, this.tokSpan(nameTok), `supported functions are ${FUNCTION_LIST}`);
    } finally {
      this.leave();
    }
  }

  private parseAggregate(nameTok: Token, fn: AggregateFn): Expr {
    if (this.inAggregate) {
      this.fail(`Aggregate ${fn}() inside another aggregate`, this.tokSpan(nameTok), 'aggregates cannot be nested');
    }
    let distinct = false;
    let arg: Expr | null = null;
    let q: number | undefined;
    const distinctTok = this.acceptKw('distinct');
    if (distinctTok) {
      if (fn !== 'count') {
        this.fail(
          `${fn}(DISTINCT …) is not supported`,
          this.tokSpan(distinctTok),
          'only count(DISTINCT x) takes DISTINCT; approx_count_distinct(x) estimates it',
        );
      }
      distinct = true;
    } else this.acceptKw('all');
    if (fn === 'count' && !distinct && this.isOp('*')) {
      this.next();
    } else {
      if (this.isOp(')')) this.expected(`an argument to ${fn}()`, fn === 'count' ? 'count(*) or count(x)' : `${fn}(x)`);
      if (this.isOp('*'))
        this.fail(
          `${fn}(${distinct ? 'DISTINCT ' : ''}*) is not supported`,
          this.tokSpan(this.peek()),
          fn === 'count' ? 'use count(*) or count(DISTINCT x)' : `use ${fn}(x)`,
        );
      this.inAggregate = { kind: 'literal', value: null, type: 'null', span: this.tokSpan(nameTok) };
      try {
        arg = this.parseExpr();
      } finally {
        this.inAggregate = null;
      }
      if (fn === 'approx_quantile') {
        this.expectOp(',', '"," and the quantile: approx_quantile(x, 0.5)');
        const qStart = this.peek();
        const qe = this.parseExpr();
        if (qe.kind !== 'literal' || (qe.type !== 'integer' && qe.type !== 'double') || typeof qe.value !== 'number') {
          this.fail('approx_quantile takes a number literal as its quantile', spanOf(qStart, qe), 'approx_quantile(x, 0.5)');
        }
        if (qe.value < 0 || qe.value > 1) this.fail(`Quantile ${qe.value} is out of range`, qe.span, 'the quantile is between 0 and 1');
        q = qe.value;
      }
    }
    if (this.isOp(','))
      this.fail(
        `Too many arguments to ${fn}()`,
        this.tokSpan(this.peek()),
        fn === 'approx_quantile' ? 'approx_quantile(x, q)' : `${fn}(x)`,
      );
    if (this.isKw('order')) this.fail('ORDER BY inside an aggregate is not supported', this.tokSpan(this.peek()));
    const close = this.expectOp(')');
    if (this.isKw('over')) this.fail('Window functions (OVER) are not supported', this.tokSpan(this.peek()), 'use GROUP BY');
    if (this.isKw('filter'))
      this.fail('FILTER (WHERE …) is not supported', this.tokSpan(this.peek()), 'use count(CASE WHEN … THEN 1 END) or sum(CASE …)');
    const call: AggregateCall = { fn, arg, distinct };
    if (q !== undefined) call.q = q;
    return this.mk({ kind: 'aggregate', call, span: spanOf(nameTok, close) }, arg);
  }

  private parseScalar(nameTok: Token, name: ScalarFn): Expr {
    const args: Expr[] = [];
    let unit: DateUnit | undefined;
    if (name === 'date_trunc') {
      const u = this.peek();
      if (u.kind !== 'string')
        this.expected("the unit as a string literal, like date_trunc('day', time)", `units are ${DATE_UNITS.join(', ')}`);
      this.next();
      const lu = u.value.toLowerCase();
      if (!(DATE_UNITS as readonly string[]).includes(lu))
        this.fail(`Unknown date_trunc unit ${u.raw}`, this.tokSpan(u), `units are ${DATE_UNITS.join(', ')}`);
      unit = lu as DateUnit;
      this.expectOp(',', `"," and a timestamp: date_trunc('${lu}', time)`);
      args.push(this.parseExpr());
    } else if (!this.isOp(')')) {
      do args.push(this.parseExpr());
      while (this.acceptOp(','));
    }
    const close = this.expectOp(')', `"," or ")" in ${name}()`);
    const arity: Record<ScalarFn, [number, number]> = {
      date_trunc: [1, 1],
      lower: [1, 1],
      upper: [1, 1],
      length: [1, 1],
      abs: [1, 1],
      round: [1, 2],
      coalesce: [1, MAX_IN_ITEMS],
    };
    const [min, max] = arity[name];
    if (args.length < min || args.length > max) {
      const usage =
        name === 'round'
          ? 'round(x) or round(x, digits)'
          : name === 'coalesce'
            ? 'coalesce(a, b, …)'
            : name === 'date_trunc'
              ? "date_trunc('unit', ts)"
              : `${name}(x)`;
      this.fail(`Wrong number of arguments to ${name}()`, spanOf(nameTok, close), usage);
    }
    const e: Expr = { kind: 'call', name, args, span: spanOf(nameTok, close) };
    if (unit) e.unit = unit;
    return this.mk(e, ...args);
  }
}

function isQuotedColumnOrPath(v: string): boolean {
  const l = v.toLowerCase();
  return (EVENT_COLUMNS as readonly string[]).includes(l) || l.startsWith('data.');
}

/**
 * Parses one SELECT of the supported subset (DESIGN.md §3) into a statement with aggregates still
 * inline. Throws `SqlError` (never anything else) for text it does not accept.
 */
export function parseSelect(sql: string): SelectStatement {
  if (typeof sql !== 'string') throw new SqlError('The query must be a string of SQL', { start: 0, end: 0 });
  if (sql.length > MAX_SQL_BYTES || new TextEncoder().encode(sql).length > MAX_SQL_BYTES) {
    throw new SqlError(
      `Query too long: at most ${MAX_SQL_BYTES} bytes of SQL`,
      { start: MAX_SQL_BYTES, end: sql.length },
      'shorten the query',
    );
  }
  const parser = new Parser(sql, tokenize(sql));
  return parser.parseStatement();
}

/**
 * Renders an error for a problem document's detail: the message, then the line of SQL around the
 * error (at most ~80 characters), then a caret line under the offending span.
 */
export function formatSqlError(sql: string, err: SqlError): string {
  const { start, end } = err.span;
  const s = Math.max(0, Math.min(start, sql.length));
  const lineStart = s === 0 ? 0 : sql.lastIndexOf('\n', s - 1) + 1;
  let lineEnd = sql.indexOf('\n', s);
  if (lineEnd < 0) lineEnd = sql.length;
  let from = lineStart;
  let to = lineEnd;
  const width = 80;
  if (to - from > width) {
    from = Math.max(lineStart, s - 30);
    to = Math.min(lineEnd, from + width);
  }
  const prefix = from > lineStart ? '…' : '';
  const suffix = to < lineEnd ? '…' : '';
  const excerpt = prefix + sql.slice(from, to).replace(/\t/g, ' ') + suffix;
  const caretStart = prefix.length + (s - from);
  const caretLen = Math.max(1, Math.min(Math.max(end, s + 1), to) - s);
  const caret = ' '.repeat(caretStart) + '^'.repeat(caretLen);
  return `${err.message}\n${excerpt}\n${caret}`;
}
