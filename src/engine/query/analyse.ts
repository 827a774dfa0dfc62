// The SQL analyser: turns the parser's `SelectStatement` into the `QuerySpec` the planner and the
// executor work from. It type-checks every expression (strings compared with timestamps become
// timestamp literals; a string compared with a number is refused, where DuckDB would try a cast),
// pulls the aggregate calls out into `spec.aggregates` (each distinct call once), replaces group keys
// and aggregates in the post-aggregation expressions with `groupRef`/`aggRef`, resolves GROUP BY and
// ORDER BY ordinals, names the outputs and lists the columns and `data` paths the rows must supply.
//
// Output names: the alias when there is one; else a column's name, `data.a.b` for a path, and for
// other expressions a DuckDB-like rendering (`count_star()`, `count(DISTINCT x)`, `(a + 1)`,
// `date_trunc('day', time)`, `CAST(x AS VARCHAR)`, …), see `exprName`. Names are for
// people; results are compared with DuckDB by position.

import { EVENT_COLUMNS, SqlError } from './ast.js';
import type { AggregateCall, EventColumn, Expr, OrderItem, QuerySpec, SelectStatement, Span, SqlType } from './ast.js';
import { parseTimestamp, positionText } from './sql.js';

const COLUMN_TYPES: Record<EventColumn, SqlType> = {
  id: 'string',
  stream: 'string',
  type: 'string',
  source: 'string',
  subject: 'string',
  time: 'timestamp',
  received_at: 'timestamp',
  shard: 'integer',
  seq: 'integer',
  version: 'integer',
  data: 'string',
};

/** The static type of an event column. */
export function columnType(name: EventColumn): SqlType {
  return COLUMN_TYPES[name];
}

/** A key equal for structurally equal expressions (spans ignored): how group keys and aggregates are matched. */
export function exprKey(e: Expr | AggregateCall | null): string {
  return JSON.stringify(e, (k, v: unknown) => (k === 'span' ? undefined : v));
}

/** The direct sub-expressions of `e`. */
export function children(e: Expr): Expr[] {
  switch (e.kind) {
    case 'unary':
      return [e.arg];
    case 'binary':
      return [e.left, e.right];
    case 'in':
      return [e.arg, ...e.list];
    case 'between':
      return [e.arg, e.low, e.high];
    case 'like':
    case 'isNull':
    case 'cast':
      return [e.arg];
    case 'call':
      return e.args;
    case 'case':
      return [...e.whens.flatMap((w) => [w.when, w.then]), ...(e.otherwise ? [e.otherwise] : [])];
    case 'aggregate':
      return e.call.arg ? [e.call.arg] : [];
    default:
      return [];
  }
}

/** A copy of `e` with each direct sub-expression replaced by `f(child)`. */
export function mapChildren(e: Expr, f: (c: Expr) => Expr): Expr {
  switch (e.kind) {
    case 'unary':
      return { ...e, arg: f(e.arg) };
    case 'binary':
      return { ...e, left: f(e.left), right: f(e.right) };
    case 'in':
      return { ...e, arg: f(e.arg), list: e.list.map(f) };
    case 'between':
      return { ...e, arg: f(e.arg), low: f(e.low), high: f(e.high) };
    case 'like':
    case 'isNull':
    case 'cast':
      return { ...e, arg: f(e.arg) };
    case 'call':
      return { ...e, args: e.args.map(f) };
    case 'case':
      return { ...e, whens: e.whens.map((w) => ({ when: f(w.when), then: f(w.then) })), otherwise: e.otherwise ? f(e.otherwise) : null };
    case 'aggregate':
      return { ...e, call: { ...e.call, arg: e.call.arg ? f(e.call.arg) : null } };
    default:
      return e;
  }
}

function containsAggregate(e: Expr): Expr | null {
  if (e.kind === 'aggregate') return e;
  for (const c of children(e)) {
    const a = containsAggregate(c);
    if (a) return a;
  }
  return null;
}

interface Typed {
  e: Expr;
  t: SqlType;
}

type TypeGroup = 'number' | 'string' | 'boolean' | 'timestamp';

function typeGroup(t: SqlType): TypeGroup | null {
  switch (t) {
    case 'integer':
    case 'double':
      return 'number';
    case 'string':
    case 'boolean':
    case 'timestamp':
      return t;
    default:
      return null; // json and null go with anything
  }
}

const TYPE_WORDS: Record<SqlType, string> = {
  integer: 'an integer',
  double: 'a number',
  string: 'a string',
  boolean: 'a boolean',
  timestamp: 'a timestamp',
  json: 'a data field',
  null: 'NULL',
};

type Clause = 'SELECT' | 'WHERE' | 'GROUP BY' | 'HAVING' | 'ORDER BY';

class Analyser {
  constructor(private readonly sql: string) {}

  fail(message: string, span: Span, hint?: string): never {
    throw new SqlError(`${message} at ${positionText(this.sql, span.start)}${hint ? `: ${hint}` : ''}`, span, hint);
  }

  text(e: Expr): string {
    const s = this.sql.slice(e.span.start, e.span.end);
    return s.length > 40 ? s.slice(0, 37) + '…' : s;
  }

  /** A string literal as a timestamp literal (epoch ms), or an error at the literal. */
  toTimestamp(e: Expr): Expr {
    if (e.kind !== 'literal' || e.type !== 'string' || typeof e.value !== 'string') return e;
    const ms = parseTimestamp(e.value);
    if (ms === null) {
      this.fail(`Invalid timestamp '${e.value}'`, e.span, "write '2026-01-01', '2026-01-01 13:45:00' or '2026-01-01T13:45:00Z'");
    }
    return { kind: 'literal', value: ms, type: 'timestamp', span: e.span };
  }

  /**
   * Makes `list` comparable: with a timestamp among them, string literals become timestamps; then
   * all typed members must be of one kind (numbers with numbers, …). Returns the common type.
   */
  unify(list: Typed[], what: string): { list: Typed[]; t: SqlType } {
    if (list.some((x) => x.t === 'timestamp')) {
      list = list.map((x) => (x.e.kind === 'literal' && x.t === 'string' ? { e: this.toTimestamp(x.e), t: 'timestamp' } : x));
    }
    let base: Typed | null = null;
    for (const x of list) {
      const g = typeGroup(x.t);
      if (!g) continue;
      if (!base) base = x;
      else if (typeGroup(base.t) !== g) this.mismatch(base, x, what);
    }
    let t: SqlType;
    if (list.some((x) => x.t === 'json')) t = 'json';
    else if (!base) t = 'null';
    else if (typeGroup(base.t) === 'number') t = list.some((x) => x.t === 'double') ? 'double' : 'integer';
    else t = base.t;
    return { list, t };
  }

  mismatch(a: Typed, b: Typed, what: string): never {
    const [ga, gb] = [typeGroup(a.t), typeGroup(b.t)];
    let hint: string;
    if ((ga === 'string' && gb === 'number') || (ga === 'number' && gb === 'string')) {
      const [s, n] = ga === 'string' ? [a, b] : [b, a];
      if (s.e.kind === 'literal' && typeof s.e.value === 'string' && s.e.value.trim() !== '' && Number.isFinite(Number(s.e.value))) {
        hint = `no implicit casts; write the number without quotes: ${s.e.value.trim()}`;
      } else {
        hint = `no implicit casts; write CAST(${this.text(s.e)} AS double) to compare as numbers`;
        if (n.e.kind === 'literal') hint += `, or compare with the string '${String(n.e.value)}'`;
      }
    } else if (ga === 'timestamp' || gb === 'timestamp') {
      hint = "compare timestamps with TIMESTAMP '2026-01-01 00:00:00' or a string like '2026-01-01'";
    } else {
      hint = 'no implicit casts; use CAST(x AS type) on one side';
    }
    return this.fail(`Cannot ${what} ${TYPE_WORDS[a.t]} (${this.text(a.e)}) with ${TYPE_WORDS[b.t]} (${this.text(b.e)})`, b.e.span, hint);
  }

  expect(x: Typed, allowed: SqlType[], what: string, hint?: string): void {
    if (x.t === 'null' || x.t === 'json' || allowed.includes(x.t)) return;
    this.fail(
      `${what} takes ${allowed.map((t) => TYPE_WORDS[t]).join(' or ')}, not ${TYPE_WORDS[x.t]} (${this.text(x.e)})`,
      x.e.span,
      hint,
    );
  }

  /** Type-checks `e` (row level, aggregates typed by their arguments) and returns it rewritten. */
  tc(e: Expr, clause: Clause, inAggregate = false): Typed {
    const sub = (c: Expr): Typed => this.tc(c, clause, inAggregate);
    switch (e.kind) {
      case 'column':
        return { e, t: COLUMN_TYPES[e.name] };
      case 'path':
        return { e, t: 'json' };
      case 'literal':
        return { e, t: e.type };
      case 'groupRef':
      case 'aggRef':
        return this.fail('Internal: references before analysis', e.span);
      case 'unary': {
        const a = sub(e.arg);
        if (e.op === 'not') {
          this.expect(a, ['boolean'], 'NOT');
          return { e: { ...e, arg: a.e }, t: 'boolean' };
        }
        this.expect(a, ['integer', 'double'], 'Unary minus');
        return { e: { ...e, arg: a.e }, t: a.t === 'integer' ? 'integer' : a.t === 'null' ? 'null' : 'double' };
      }
      case 'binary': {
        const l = sub(e.left);
        const r = sub(e.right);
        switch (e.op) {
          case 'and':
          case 'or':
            this.expect(l, ['boolean'], e.op.toUpperCase());
            this.expect(r, ['boolean'], e.op.toUpperCase());
            return { e: { ...e, left: l.e, right: r.e }, t: 'boolean' };
          case '=':
          case '<>':
          case '<':
          case '<=':
          case '>':
          case '>=': {
            const u = this.unify([l, r], 'compare');
            return { e: { ...e, left: u.list[0]!.e, right: u.list[1]!.e }, t: 'boolean' };
          }
          case '||':
            return { e: { ...e, left: l.e, right: r.e }, t: 'string' };
          default: {
            const hint =
              l.t === 'timestamp' || r.t === 'timestamp' ? 'timestamp arithmetic is not supported; use date_trunc' : 'CAST(x AS double)';
            this.expect(l, ['integer', 'double'], `"${e.op}"`, hint);
            this.expect(r, ['integer', 'double'], `"${e.op}"`, hint);
            const intish = (t: SqlType) => t === 'integer' || t === 'null';
            const t: SqlType =
              e.op === '/' ? 'double' : l.t === 'null' && r.t === 'null' ? 'null' : intish(l.t) && intish(r.t) ? 'integer' : 'double';
            return { e: { ...e, left: l.e, right: r.e }, t };
          }
        }
      }
      case 'in': {
        const u = this.unify([sub(e.arg), ...e.list.map(sub)], 'compare');
        return { e: { ...e, arg: u.list[0]!.e, list: u.list.slice(1).map((x) => x.e) }, t: 'boolean' };
      }
      case 'between': {
        const u = this.unify([sub(e.arg), sub(e.low), sub(e.high)], 'compare');
        return { e: { ...e, arg: u.list[0]!.e, low: u.list[1]!.e, high: u.list[2]!.e }, t: 'boolean' };
      }
      case 'like': {
        const a = sub(e.arg);
        this.expect(a, ['string'], e.caseInsensitive ? 'ILIKE' : 'LIKE', `CAST(${this.text(a.e)} AS varchar) LIKE …`);
        return { e: { ...e, arg: a.e }, t: 'boolean' };
      }
      case 'isNull':
        return { e: { ...e, arg: sub(e.arg).e }, t: 'boolean' };
      case 'cast': {
        const a = sub(e.arg);
        if (e.to === 'timestamp' && a.e.kind === 'literal' && a.t === 'string')
          return { e: { ...this.toTimestamp(a.e), span: e.span }, t: 'timestamp' };
        const numericish = (t: SqlType) => t === 'integer' || t === 'double' || t === 'boolean';
        if ((a.t === 'timestamp' && numericish(e.to)) || (e.to === 'timestamp' && numericish(a.t))) {
          this.fail(`Cannot cast ${TYPE_WORDS[a.t]} to ${e.to}`, e.span, 'timestamps cast to and from strings only');
        }
        return { e: { ...e, arg: a.e }, t: e.to };
      }
      case 'call':
        return this.tcCall(e, sub);
      case 'case': {
        const whens = e.whens.map((w) => {
          const c = sub(w.when);
          this.expect(c, ['boolean'], 'CASE WHEN');
          return { when: c.e, then: sub(w.then) };
        });
        const results = [...whens.map((w) => w.then), ...(e.otherwise ? [sub(e.otherwise)] : [])];
        const u = this.unify(results, 'mix in one CASE');
        return {
          e: {
            ...e,
            whens: whens.map((w, i) => ({ when: w.when, then: u.list[i]!.e })),
            otherwise: e.otherwise ? u.list[whens.length]!.e : null,
          },
          t: u.t,
        };
      }
      case 'aggregate':
        return this.tcAggregate(e, clause, inAggregate);
    }
  }

  tcCall(e: Extract<Expr, { kind: 'call' }>, sub: (c: Expr) => Typed): Typed {
    let args = e.args.map(sub);
    const a0 = args[0]!;
    switch (e.name) {
      case 'date_trunc': {
        if (a0.t === 'string' && a0.e.kind === 'literal') args = [{ e: this.toTimestamp(a0.e), t: 'timestamp' }];
        else if (a0.t === 'json')
          this.fail(
            'date_trunc of a data field needs a cast',
            a0.e.span,
            `date_trunc('${e.unit ?? 'day'}', CAST(${this.text(a0.e)} AS timestamp))`,
          );
        else this.expect(a0, ['timestamp'], 'date_trunc');
        return { e: { ...e, args: args.map((x) => x.e) }, t: 'timestamp' };
      }
      case 'lower':
      case 'upper':
        this.expect(a0, ['string'], `${e.name}()`, `${e.name}(CAST(x AS varchar))`);
        return { e: { ...e, args: args.map((x) => x.e) }, t: 'string' };
      case 'length':
        this.expect(a0, ['string'], 'length()', 'length(CAST(x AS varchar))');
        return { e: { ...e, args: args.map((x) => x.e) }, t: 'integer' };
      case 'abs':
        this.expect(a0, ['integer', 'double'], 'abs()');
        return { e: { ...e, args: args.map((x) => x.e) }, t: a0.t === 'integer' ? 'integer' : 'double' };
      case 'round': {
        this.expect(a0, ['integer', 'double'], 'round()');
        const d = args[1];
        if (d && d.t !== 'integer' && d.t !== 'null') this.fail('round() takes a whole number of digits', d.e.span, 'round(x, 2)');
        return { e: { ...e, args: args.map((x) => x.e) }, t: a0.t === 'integer' ? 'integer' : 'double' };
      }
      case 'coalesce': {
        const u = this.unify(args, 'mix in one coalesce');
        return { e: { ...e, args: u.list.map((x) => x.e) }, t: u.t };
      }
    }
  }

  tcAggregate(e: Extract<Expr, { kind: 'aggregate' }>, clause: Clause, inAggregate: boolean): Typed {
    if (clause === 'WHERE') this.fail(`Aggregates are not allowed in WHERE`, e.span, 'filter groups with HAVING');
    if (clause === 'GROUP BY') this.fail(`Aggregates are not allowed in GROUP BY`, e.span, 'group by columns or expressions of them');
    if (inAggregate) this.fail('Aggregates cannot be nested', e.span);
    const { call } = e;
    if (!call.arg) return { e, t: 'integer' };
    const a = this.tc(call.arg, clause, true);
    const out: Expr = { ...e, call: { ...call, arg: a.e } };
    const num = a.t === 'integer' ? 'integer' : 'double';
    switch (call.fn) {
      case 'count':
      case 'approx_count_distinct':
        return { e: out, t: 'integer' };
      case 'sum':
        this.expect(a, ['integer', 'double'], 'sum()', 'sum(CAST(x AS double))');
        return { e: out, t: num };
      case 'avg':
        this.expect(a, ['integer', 'double'], 'avg()', 'avg(CAST(x AS double))');
        return { e: out, t: 'double' };
      case 'min':
      case 'max':
        return { e: out, t: a.t };
      case 'approx_quantile':
        this.expect(a, ['integer', 'double', 'timestamp'], 'approx_quantile()');
        return { e: out, t: a.t === 'timestamp' || a.t === 'integer' ? a.t : 'double' };
    }
  }

  expectCondition(x: Typed, clause: Clause): void {
    if (x.t === 'boolean' || x.t === 'json' || x.t === 'null') return;
    this.fail(`${clause} needs a condition, not ${TYPE_WORDS[x.t]}`, x.e.span, `${clause} x = 1, x IN (…), x LIKE '…', …`);
  }
}

/** Integer literal at the top of a GROUP BY / ORDER BY item: a 1-based position in the select list. */
function ordinal(e: Expr): number | null {
  return e.kind === 'literal' && e.type === 'integer' && typeof e.value === 'number' ? e.value : null;
}

/**
 * Checks and resolves a parsed statement into the spec the planner and executor run. `sql` is the
 * text it was parsed from (for error positions and `spec.sql`). Throws `SqlError`.
 */
export function analyse(stmt: SelectStatement, sql: string): QuerySpec {
  const an = new Analyser(sql);
  const star = stmt.items === 'star';
  const items =
    stmt.items === 'star'
      ? EVENT_COLUMNS.map((name) => {
          const expr: Expr = { kind: 'column', name, span: { start: 0, end: 0 } };
          return { expr, alias: null as string | null, span: expr.span };
        })
      : stmt.items;

  // Row-level type check of everything, aggregates still inline.
  const where = stmt.where ? an.tc(stmt.where, 'WHERE') : null;
  if (where) an.expectCondition(where, 'WHERE');
  const selected = items.map((it) => an.tc(it.expr, 'SELECT'));

  const groupExprs: Typed[] = [];
  for (const g of stmt.groupBy) {
    const n = ordinal(g);
    if (n !== null) {
      if (star) an.fail('GROUP BY with SELECT * is not supported', g.span, 'list the columns you group by');
      if (n < 1 || n > items.length)
        an.fail(`GROUP BY ${n} is not a position in the select list`, g.span, `positions are 1 to ${items.length}`);
      const item = items[n - 1]!;
      const agg = containsAggregate(item.expr);
      if (agg) an.fail(`GROUP BY ${n} refers to an aggregate (${an.text(agg)})`, g.span, 'group by columns or expressions of them');
      groupExprs.push(selected[n - 1]!);
    } else groupExprs.push(an.tc(g, 'GROUP BY'));
  }

  const having = stmt.having ? an.tc(stmt.having, 'HAVING') : null;
  if (having) an.expectCondition(having, 'HAVING');
  const orderTyped = stmt.orderBy.map((o) => ({
    item: o,
    n: ordinal(o.expr),
    typed: ordinal(o.expr) === null ? an.tc(o.expr, 'ORDER BY') : null,
  }));
  for (const o of orderTyped) {
    const e = o.item.expr;
    if (e.kind === 'literal' && o.n === null && !(stmt.items !== 'star' && stmt.items.some((it) => it.expr === e))) {
      an.fail('ORDER BY a constant has no effect', e.span, 'order by an output position (ORDER BY 1), an alias or an expression');
    }
    if (o.n !== null && (o.n < 1 || o.n > items.length)) {
      an.fail(`ORDER BY ${o.n} is not a position in the select list`, o.item.expr.span, `positions are 1 to ${items.length}`);
    }
  }

  const aggregated =
    stmt.groupBy.length > 0 ||
    items.some((it) => containsAggregate(it.expr)) ||
    (stmt.having !== null && containsAggregate(stmt.having) !== null) ||
    stmt.orderBy.some((o) => containsAggregate(o.expr));

  if (star && aggregated) {
    const at = stmt.groupBy[0]?.span ?? { start: 0, end: Math.min(sql.length, 6) };
    an.fail('SELECT * cannot be aggregated', at, 'list the group keys and aggregates: SELECT type, count(*) FROM events GROUP BY type');
  }
  if (stmt.having && !aggregated) an.fail('HAVING needs GROUP BY or an aggregate', stmt.having.span, 'use WHERE to filter rows');

  const names = items.map((it) => it.alias ?? exprName(it.expr));
  let outputs: QuerySpec['outputs'];
  let groupBy: Expr[] = [];
  const aggregates: AggregateCall[] = [];
  let havingOut: Expr | null = null;
  let orderBy: OrderItem[];

  if (!aggregated) {
    outputs = selected.map((s, i) => ({ name: names[i]!, expr: s.e, type: s.t }));
    orderBy = orderTyped.map((o) => ({ ...o.item, expr: o.n !== null ? outputs[o.n - 1]!.expr : o.typed!.e }));
  } else {
    // Group keys, each once.
    const groupIndex = new Map<string, number>();
    for (const g of groupExprs) {
      const k = exprKey(g.e);
      if (groupIndex.has(k)) continue;
      groupIndex.set(k, groupBy.length);
      groupBy.push(g.e);
    }
    const aggIndex = new Map<string, number>();
    const post = (e: Expr, clause: Clause): Expr => {
      const gi = groupIndex.get(exprKey(e));
      if (gi !== undefined) return { kind: 'groupRef', index: gi, span: e.span };
      switch (e.kind) {
        case 'aggregate': {
          const k = exprKey(e.call);
          let ai = aggIndex.get(k);
          if (ai === undefined) {
            ai = aggregates.length;
            aggIndex.set(k, ai);
            aggregates.push(e.call);
          }
          return { kind: 'aggRef', index: ai, span: e.span };
        }
        case 'column':
        case 'path': {
          const what = e.kind === 'column' ? `Column ${e.name}` : `data.${e.path.join('.')}`;
          return an.fail(
            `${what} must appear in GROUP BY or be used in an aggregate`,
            e.span,
            clause === 'ORDER BY'
              ? 'in an aggregated query ORDER BY sorts by group keys, aggregates or output positions'
              : `add it to GROUP BY, or use min(${an.text(e)}), count(…), …`,
          );
        }
        default:
          return mapChildren(e, (c) => post(c, clause));
      }
    };
    outputs = selected.map((s, i) => ({ name: names[i]!, expr: post(s.e, 'SELECT'), type: s.t }));
    havingOut = having ? post(having.e, 'HAVING') : null;
    orderBy = orderTyped.map((o) => ({ ...o.item, expr: o.n !== null ? outputs[o.n - 1]!.expr : post(o.typed!.e, 'ORDER BY') }));
  }

  // The columns and paths the rows must supply.
  const cols = new Set<EventColumn>(star ? EVENT_COLUMNS : []);
  const paths = new Set<string>();
  const visit = (e: Expr | null): void => {
    if (!e) return;
    if (e.kind === 'column') cols.add(e.name);
    else if (e.kind === 'path') paths.add(e.path.join('.'));
    for (const c of children(e)) visit(c);
  };
  visit(where?.e ?? null);
  groupBy.forEach(visit);
  for (const a of aggregates) visit(a.arg);
  if (!aggregated) {
    for (const o of outputs) visit(o.expr);
    for (const o of orderBy) visit(o.expr);
  }

  if (!aggregated) groupBy = [];
  return {
    sql,
    aggregated,
    outputs,
    where: where?.e ?? null,
    groupBy,
    aggregates,
    having: havingOut,
    orderBy,
    limit: stmt.limit,
    offset: stmt.offset,
    columns: EVENT_COLUMNS.filter((c) => cols.has(c)),
    paths: [...paths].sort(),
  };
}

const CAST_NAMES: Record<Exclude<SqlType, 'json' | 'null'>, string> = {
  integer: 'BIGINT',
  double: 'DOUBLE',
  string: 'VARCHAR',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
};

/** The DuckDB type name a cast to `t` prints as. */
export function castTypeName(t: Exclude<SqlType, 'json' | 'null'>): string {
  return CAST_NAMES[t];
}

/** `2026-01-01 00:00:00.000` for epoch ms (UTC), the text of a TIMESTAMP literal. */
export function timestampText(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** A SQL literal: strings quoted with '' escaping, doubles always with a point or exponent. */
export function literalSql(value: string | number | boolean | null, type: SqlType): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'string') return `'${value.replace(/'/g, "''")}'`;
  if (type === 'timestamp') return `TIMESTAMP '${timestampText(value)}'`;
  const s = String(value);
  return type === 'double' && /^-?\d+$/.test(s) ? `${s}.0` : s;
}

/** The output name of an expression that has no alias: DuckDB-like (see the top of this file). */
export function exprName(e: Expr): string {
  switch (e.kind) {
    case 'column':
      return e.name;
    case 'path':
      return `data.${e.path.join('.')}`;
    case 'literal':
      return e.type === 'timestamp' && typeof e.value === 'number'
        ? `CAST('${timestampText(e.value)}' AS TIMESTAMP)`
        : literalSql(e.value, e.type);
    case 'unary':
      return e.op === 'not' ? `(NOT ${exprName(e.arg)})` : `-(${exprName(e.arg)})`;
    case 'binary':
      return `(${exprName(e.left)} ${e.op === 'and' || e.op === 'or' ? e.op.toUpperCase() : e.op} ${exprName(e.right)})`;
    case 'in':
      return `(${exprName(e.arg)} ${e.negated ? 'NOT IN' : 'IN'} (${e.list.map(exprName).join(', ')}))`;
    case 'between':
      return `(${exprName(e.arg)} ${e.negated ? 'NOT BETWEEN' : 'BETWEEN'} ${exprName(e.low)} AND ${exprName(e.high)})`;
    case 'like': {
      const op = `${e.negated ? 'NOT ' : ''}${e.caseInsensitive ? 'ILIKE' : 'LIKE'}`;
      return `(${exprName(e.arg)} ${op} ${literalSql(e.pattern, 'string')}${e.escape !== null ? ` ESCAPE ${literalSql(e.escape, 'string')}` : ''})`;
    }
    case 'isNull':
      return `(${exprName(e.arg)} IS ${e.negated ? 'NOT ' : ''}NULL)`;
    case 'cast':
      return `CAST(${exprName(e.arg)} AS ${CAST_NAMES[e.to]})`;
    case 'call':
      if (e.name === 'date_trunc') return `date_trunc('${e.unit ?? 'day'}', ${e.args.map(exprName).join(', ')})`;
      return `${e.name === 'coalesce' ? 'COALESCE' : e.name}(${e.args.map(exprName).join(', ')})`;
    case 'case':
      return `CASE ${e.whens.map((w) => `WHEN ${exprName(w.when)} THEN ${exprName(w.then)}`).join(' ')} ELSE ${e.otherwise ? exprName(e.otherwise) : 'NULL'} END`;
    case 'aggregate': {
      const { fn, arg, distinct, q } = e.call;
      if (!arg) return 'count_star()';
      return `${fn}(${distinct ? 'DISTINCT ' : ''}${exprName(arg)}${q !== undefined ? `, ${q}` : ''})`;
    }
    case 'groupRef':
      return `#group${e.index}`;
    case 'aggRef':
      return `#aggregate${e.index}`;
  }
}

/** The result type of aggregate `call` whose argument has type `arg` (null for count(*)). */
export function aggregateType(call: AggregateCall, arg: SqlType | null): SqlType {
  switch (call.fn) {
    case 'count':
    case 'approx_count_distinct':
      return 'integer';
    case 'sum':
      return arg === 'integer' ? 'integer' : 'double';
    case 'avg':
      return 'double';
    case 'min':
    case 'max':
      return arg ?? 'null';
    case 'approx_quantile':
      return arg === 'timestamp' || arg === 'integer' ? arg : 'double';
  }
}

/**
 * The static type of an analysed expression, without checks (use after `analyse`). `spec` resolves
 * `groupRef` and `aggRef`.
 */
export function staticType(e: Expr, spec?: Pick<QuerySpec, 'groupBy' | 'aggregates'>): SqlType {
  const t = (x: Expr): SqlType => staticType(x, spec);
  switch (e.kind) {
    case 'column':
      return COLUMN_TYPES[e.name];
    case 'path':
      return 'json';
    case 'literal':
      return e.type;
    case 'unary':
      return e.op === 'not' ? 'boolean' : t(e.arg) === 'integer' ? 'integer' : 'double';
    case 'binary': {
      if (e.op === '||') return 'string';
      if (['and', 'or', '=', '<>', '<', '<=', '>', '>='].includes(e.op)) return 'boolean';
      if (e.op === '/') return 'double';
      const [l, r] = [t(e.left), t(e.right)];
      return (l === 'integer' || l === 'null') && (r === 'integer' || r === 'null') ? 'integer' : 'double';
    }
    case 'in':
    case 'between':
    case 'like':
    case 'isNull':
      return 'boolean';
    case 'cast':
      return e.to;
    case 'call':
      switch (e.name) {
        case 'date_trunc':
          return 'timestamp';
        case 'lower':
        case 'upper':
          return 'string';
        case 'length':
          return 'integer';
        case 'abs':
        case 'round':
          return t(e.args[0]!) === 'integer' ? 'integer' : 'double';
        case 'coalesce':
          return firstTyped(e.args.map(t));
      }
      return 'null';
    case 'case':
      return firstTyped([...e.whens.map((w) => t(w.then)), ...(e.otherwise ? [t(e.otherwise)] : [])]);
    case 'aggregate':
      return aggregateType(e.call, e.call.arg ? t(e.call.arg) : null);
    case 'groupRef': {
      const g = spec?.groupBy[e.index];
      return g ? t(g) : 'null';
    }
    case 'aggRef': {
      const a = spec?.aggregates[e.index];
      return a ? aggregateType(a, a.arg ? t(a.arg) : null) : 'null';
    }
  }
}

function firstTyped(ts: SqlType[]): SqlType {
  if (ts.includes('json')) return 'json';
  if (ts.includes('double') && ts.includes('integer')) return 'double';
  return ts.find((x) => x !== 'null') ?? 'null';
}
