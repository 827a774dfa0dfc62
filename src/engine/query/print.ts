// SQL printers for the query engine's shapes: a parsed statement or an analysed spec back to SQL.
// Two dialects:
// - 'own': the engine's own SQL (paths as data.a.b); parse(print(x)) gives x back (spans aside).
// - 'duckdb': SQL DuckDB runs on the replica's Parquet files, for differential tests. A `data` path
//   becomes json_extract_string/json_type calls typed by the context it sits in, following the
//   engine's per-row typing (JSON number → DOUBLE, string → VARCHAR, boolean → BOOLEAN,
//   null/missing → NULL, object/array → its JSON text): compared with a number it is the number or
//   NULL, compared with a string it is the string (or JSON text) or NULL, and so on. Override with
//   `PrintOptions.path`.
//
// Expressions print fully parenthesised, so precedence never changes the meaning.

import type { EventColumn, Expr, OrderItem, QuerySpec, SelectStatement, SqlType } from './ast.js';
import { castTypeName, exprKey, literalSql, staticType } from './analyse.js';

export interface PrintOptions {
  dialect?: 'own' | 'duckdb';
  /** The table expression (default `events`); in DuckDB e.g. `read_parquet(['a.parquet'])`. */
  from?: string;
  /** Renders a column (default: its name). */
  column?: (name: EventColumn) => string;
  /** Renders a data path; `want` is the type its context expects, null when any. */
  path?: (path: string[], want: SqlType | null) => string;
}

type Want = SqlType | null;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** `'$.a."b c"'`: a JSON path literal for DuckDB's json functions. */
export function jsonPathLiteral(path: string[]): string {
  return literalSql('$' + path.map((s) => '.' + (IDENT.test(s) ? s : `"${s}"`)).join(''), 'string');
}

/** The default DuckDB rendering of a data path in a context that expects `want`. */
export function duckdbPath(path: string[], want: Want): string {
  const jp = jsonPathLiteral(path);
  const type = `json_type(data, ${jp})`;
  const str = `json_extract_string(data, ${jp})`;
  switch (want) {
    case 'integer':
    case 'double':
      return `(CASE WHEN ${type} IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT') THEN CAST(${str} AS DOUBLE) END)`;
    case 'string':
      return `(CASE WHEN ${type} IN ('VARCHAR', 'OBJECT', 'ARRAY') THEN ${str} END)`;
    case 'boolean':
      return `(CASE WHEN ${type} = 'BOOLEAN' THEN CAST(${str} AS BOOLEAN) END)`;
    case 'timestamp':
      return `TRY_CAST((CASE WHEN ${type} = 'VARCHAR' THEN ${str} END) AS TIMESTAMP)`;
    default:
      return str;
  }
}

class Printer {
  constructor(
    private readonly opts: PrintOptions,
    private readonly spec?: Pick<QuerySpec, 'groupBy' | 'aggregates'>,
  ) {}

  private get duck(): boolean {
    return this.opts.dialect === 'duckdb';
  }

  /** The type siblings of a comparison agree on, for typing paths among them. */
  private common(es: Expr[], fallback: Want = null): Want {
    for (const e of es) {
      const t = this.concrete(e);
      if (t) return t;
    }
    return fallback;
  }

  /** The SQL type `e` has in DuckDB when it is not a bare data path (coalesce/CASE over paths and columns: the column's). */
  private concrete(e: Expr): Want {
    if (e.kind === 'call' && e.name === 'coalesce') return this.common(e.args);
    if (e.kind === 'case') return this.common([...e.whens.map((w) => w.then), ...(e.otherwise ? [e.otherwise] : [])]);
    const t = staticType(e, this.spec);
    return t === 'json' || t === 'null' ? null : t;
  }

  expr(e: Expr, want: Want = null): string {
    const p = (x: Expr, w: Want = null) => this.expr(x, w);
    switch (e.kind) {
      case 'column':
        return this.opts.column ? this.opts.column(e.name) : e.name;
      case 'path':
        if (this.opts.path) return this.opts.path(e.path, want);
        if (this.duck) return duckdbPath(e.path, want);
        return 'data' + e.path.map((s) => '.' + (IDENT.test(s) ? s : quoteIdent(s))).join('');
      case 'literal':
        if (this.duck && e.type === 'double') return `CAST(${literalSql(e.value, e.type)} AS DOUBLE)`;
        return literalSql(e.value, e.type);
      case 'unary':
        return e.op === 'not' ? `(NOT ${p(e.arg, 'boolean')})` : `(- ${p(e.arg, 'double')})`;
      case 'binary': {
        switch (e.op) {
          case 'and':
          case 'or':
            return `(${p(e.left, 'boolean')} ${e.op.toUpperCase()} ${p(e.right, 'boolean')})`;
          case '||':
            return `(${p(e.left, 'string')} || ${p(e.right, 'string')})`;
          case '=':
          case '<>':
          case '<':
          case '<=':
          case '>':
          case '>=': {
            const w = this.common([e.left, e.right]);
            return `(${p(e.left, w)} ${e.op} ${p(e.right, w)})`;
          }
          default:
            return `(${p(e.left, 'double')} ${e.op} ${p(e.right, 'double')})`;
        }
      }
      case 'in': {
        const w = this.common([e.arg, ...e.list]);
        return `(${p(e.arg, w)} ${e.negated ? 'NOT IN' : 'IN'} (${e.list.map((x) => p(x, w)).join(', ')}))`;
      }
      case 'between': {
        const w = this.common([e.arg, e.low, e.high]);
        return `(${p(e.arg, w)} ${e.negated ? 'NOT BETWEEN' : 'BETWEEN'} ${p(e.low, w)} AND ${p(e.high, w)})`;
      }
      case 'like': {
        const op = `${e.negated ? 'NOT ' : ''}${e.caseInsensitive ? 'ILIKE' : 'LIKE'}`;
        const esc = e.escape !== null ? ` ESCAPE ${literalSql(e.escape, 'string')}` : '';
        return `(${p(e.arg, 'string')} ${op} ${literalSql(e.pattern, 'string')}${esc})`;
      }
      case 'isNull':
        return `(${p(e.arg)} IS ${e.negated ? 'NOT ' : ''}NULL)`;
      case 'cast':
        if (this.duck && !this.opts.path && e.arg.kind === 'path' && (e.to === 'integer' || e.to === 'double')) {
          // Per the engine's per-row typing: a JSON number is a double (CAST(2.5 AS BIGINT) is 2), a
          // boolean 0/1, a string parsed as text ('2.5' is 3); a failed cast is NULL.
          const t = castTypeName(e.to);
          const [num, bool, str] = (['double', 'boolean', 'string'] as const).map((w) =>
            duckdbPath(e.arg.kind === 'path' ? e.arg.path : [], w),
          );
          return `coalesce(CAST(${num} AS ${t}), CAST(CAST(${bool} AS INTEGER) AS ${t}), TRY_CAST(${str} AS ${t}))`;
        }
        return `CAST(${p(e.arg)} AS ${castTypeName(e.to)})`;
      case 'call':
        switch (e.name) {
          case 'date_trunc':
            return `date_trunc('${e.unit ?? 'day'}', ${p(e.args[0]!, 'timestamp')})`;
          case 'lower':
          case 'upper':
          case 'length':
            return `${e.name}(${p(e.args[0]!, 'string')})`;
          case 'abs':
            return `abs(${p(e.args[0]!, 'double')})`;
          case 'round':
            return `round(${p(e.args[0]!, 'double')}${e.args[1] ? `, ${p(e.args[1], 'integer')}` : ''})`;
          case 'coalesce': {
            const w = this.common(e.args, want);
            return `coalesce(${e.args.map((x) => p(x, w)).join(', ')})`;
          }
        }
        return '';
      case 'case': {
        const results = [...e.whens.map((w) => w.then), ...(e.otherwise ? [e.otherwise] : [])];
        const w = this.common(results, want);
        const whens = e.whens.map((x) => `WHEN ${p(x.when, 'boolean')} THEN ${p(x.then, w)}`).join(' ');
        return `(CASE ${whens}${e.otherwise ? ` ELSE ${p(e.otherwise, w)}` : ''} END)`;
      }
      case 'aggregate': {
        const { fn, arg, distinct, q } = e.call;
        if (!arg) return 'count(*)';
        if (this.duck && !this.opts.path && (fn === 'min' || fn === 'max') && arg.kind === 'path') {
          // The engine orders a path's values across types: false < true < numbers < strings (JSON
          // text of objects among the strings). The least (greatest) kind present decides, as text.
          const [b, n, s] = (['boolean', 'double', 'string'] as const).map((w) => `${fn}(${duckdbPath(arg.path, w)})`);
          const kinds = [`CAST(${b} AS VARCHAR)`, `CAST(${n} AS VARCHAR)`, s];
          return `coalesce(${(fn === 'min' ? kinds : kinds.reverse()).join(', ')})`;
        }
        const w: Want = fn === 'sum' || fn === 'avg' || fn === 'approx_quantile' ? 'double' : null;
        return `${fn}(${distinct ? 'DISTINCT ' : ''}${p(arg, w)}${q !== undefined ? `, ${literalSql(q, 'double')}` : ''})`;
      }
      case 'groupRef': {
        const g = this.spec?.groupBy[e.index];
        if (!g) throw new RangeError(`groupRef ${e.index} has no group key`);
        // A group key prints exactly as in GROUP BY (DuckDB matches them by text).
        return this.retype(p(g), staticType(g, this.spec), want);
      }
      case 'aggRef': {
        const a = this.spec?.aggregates[e.index];
        if (!a) throw new RangeError(`aggRef ${e.index} has no aggregate`);
        return this.retype(p({ kind: 'aggregate', call: a, span: e.span }), staticType(e, this.spec), want);
      }
    }
  }

  /** A post-aggregation value of a data path (VARCHAR in DuckDB) converted to what its context wants. */
  private retype(sql: string, t: SqlType, want: Want): string {
    if (!this.duck || this.opts.path || t !== 'json' || !want || want === 'string' || want === 'json' || want === 'null') return sql;
    return `TRY_CAST(${sql} AS ${castTypeName(want)})`;
  }

  /** An ORDER BY key: a bare column is qualified so that no output alias can capture it. */
  orderKey(o: OrderItem): string {
    let e = o.expr;
    if (e.kind === 'groupRef' && this.spec?.groupBy[e.index]) e = this.spec.groupBy[e.index]!;
    const key = e.kind === 'column' && !this.opts.column ? `events.${e.name}` : this.expr(e);
    return `${key} ${o.desc ? 'DESC' : 'ASC'} NULLS ${o.nullsFirst ? 'FIRST' : 'LAST'}`;
  }

  from(): string {
    const from = this.opts.from ?? 'events';
    return this.duck ? `${from} AS events` : from;
  }
}

function tail(parts: string[], limit: number | null, offset: number): void {
  if (limit !== null) parts.push(`LIMIT ${limit}`);
  if (offset > 0) parts.push(`OFFSET ${offset}`);
}

/** One expression as SQL. `spec` resolves groupRef/aggRef (post-aggregation expressions). */
export function exprToSql(e: Expr, opts: PrintOptions = {}, spec?: Pick<QuerySpec, 'groupBy' | 'aggregates'>): string {
  return new Printer(opts, spec).expr(e);
}

/** A parsed statement as SQL (the engine's dialect unless `opts.dialect` says otherwise). */
export function selectToSql(stmt: SelectStatement, opts: PrintOptions = {}): string {
  const pr = new Printer(opts);
  const items =
    stmt.items === 'star'
      ? '*'
      : stmt.items.map((it) => pr.expr(it.expr) + (it.alias !== null ? ` AS ${quoteIdent(it.alias)}` : '')).join(', ');
  const parts = [`SELECT ${items} FROM ${pr.from()}`];
  if (stmt.where) parts.push(`WHERE ${pr.expr(stmt.where, 'boolean')}`);
  if (stmt.groupBy.length) parts.push(`GROUP BY ${stmt.groupBy.map((g) => pr.expr(g)).join(', ')}`);
  if (stmt.having) parts.push(`HAVING ${pr.expr(stmt.having, 'boolean')}`);
  if (stmt.orderBy.length) parts.push(`ORDER BY ${stmt.orderBy.map((o) => pr.orderKey(o)).join(', ')}`);
  tail(parts, stmt.limit, stmt.offset);
  return parts.join(' ');
}

/**
 * An analysed spec as one SELECT: outputs aliased with their names, group keys and aggregates
 * written back in place of groupRef/aggRef. With `dialect: 'duckdb'` it is the query DuckDB runs to
 * check the engine's answer.
 */
export function toSql(spec: QuerySpec, opts: PrintOptions = {}): string {
  const pr = new Printer(opts, spec);
  const items = spec.outputs.map((o) => `${pr.expr(o.expr)} AS ${quoteIdent(o.name)}`).join(', ');
  const parts = [`SELECT ${items} FROM ${pr.from()}`];
  if (spec.where) parts.push(`WHERE ${pr.expr(spec.where, 'boolean')}`);
  // A literal key would read as a position: print the position of the output that holds it.
  const position = (e: Expr): string | null => {
    const resolved = e.kind === 'groupRef' ? spec.groupBy[e.index] : e;
    if (resolved?.kind !== 'literal') return null;
    const k = exprKey(e);
    const j = spec.outputs.findIndex((o) => exprKey(o.expr) === k);
    return j >= 0 ? String(j + 1) : null;
  };
  if (spec.aggregated && spec.groupBy.length) {
    const keys = spec.groupBy.map((g, i) => {
      const j = g.kind === 'literal' ? spec.outputs.findIndex((o) => o.expr.kind === 'groupRef' && o.expr.index === i) : -1;
      return j >= 0 ? String(j + 1) : pr.expr(g);
    });
    parts.push(`GROUP BY ${keys.join(', ')}`);
  }
  if (spec.having) parts.push(`HAVING ${pr.expr(spec.having, 'boolean')}`);
  if (spec.orderBy.length) {
    const keys = spec.orderBy.map((o) => {
      const j = position(o.expr);
      return j !== null ? `${j} ${o.desc ? 'DESC' : 'ASC'} NULLS ${o.nullsFirst ? 'FIRST' : 'LAST'}` : pr.orderKey(o);
    });
    parts.push(`ORDER BY ${keys.join(', ')}`);
  }
  tail(parts, spec.limit, spec.offset);
  return parts.join(' ');
}
