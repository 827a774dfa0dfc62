// The SQL parser (sql.ts), analyser (analyse.ts) and printer (print.ts): ASTs and specs as data,
// errors with their message and span, limits, fuzzing (only SqlError ever escapes; print∘parse is a
// fixed point) and the DuckDB dialect run by DuckDB itself.
import fc from 'fast-check';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { SqlError } from '../../src/engine/query/ast.js';
import type { Expr, QuerySpec, SelectStatement } from '../../src/engine/query/ast.js';
import { analyse } from '../../src/engine/query/analyse.js';
import { selectToSql, toSql } from '../../src/engine/query/print.js';
import { formatSqlError, parseSelect, parseTimestamp } from '../../src/engine/query/sql.js';

/** Drops spans (and the sql text) so shapes compare as data. */
function strip<T>(x: T): T {
  return JSON.parse(JSON.stringify(x, (k, v: unknown) => (k === 'span' || k === 'sql' ? undefined : v))) as T;
}

function where(sql: string): Expr {
  return strip(parseSelect(`SELECT 1 FROM events WHERE ${sql}`).where!);
}
function item(sql: string): Expr {
  const s = parseSelect(`SELECT ${sql} FROM events`);
  if (s.items === 'star') throw new Error('star');
  return strip(s.items[0]!.expr);
}
function spec(sql: string): QuerySpec {
  return strip(analyse(parseSelect(sql), sql));
}

const col = (name: string) => ({ kind: 'column', name });
const lit = (value: unknown, type: string) => ({ kind: 'literal', value, type });
const int = (v: number) => lit(v, 'integer');
const str = (v: string) => lit(v, 'string');
const path = (...p: string[]) => ({ kind: 'path', path: p });
const bin = (op: string, left: unknown, right: unknown) => ({ kind: 'binary', op, left, right });

/** Runs `fn` and returns the SqlError it throws (fails the test if it throws anything else or nothing). */
function sqlError(fn: () => unknown): SqlError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SqlError) return e;
    throw e;
  }
  throw new Error('expected a SqlError');
}
function parseError(sql: string): { message: string; at: string } {
  const e = sqlError(() => analyse(parseSelect(sql), sql));
  return { message: e.message, at: sql.slice(e.span.start, e.span.end) };
}

describe('parseSelect: statements', () => {
  it('parses a full statement', () => {
    const s = parseSelect(
      "select type, count(*) as n from events where stream like 'user-%' group by type having count(*) > 1 order by n desc nulls first, 1 limit 10 offset 5;",
    );
    expect(strip(s)).toEqual({
      items: [
        { expr: col('type'), alias: null },
        { expr: { kind: 'aggregate', call: { fn: 'count', arg: null, distinct: false } }, alias: 'n' },
      ],
      where: { kind: 'like', arg: col('stream'), pattern: 'user-%', escape: null, negated: false, caseInsensitive: false },
      groupBy: [col('type')],
      having: bin('>', { kind: 'aggregate', call: { fn: 'count', arg: null, distinct: false } }, int(1)),
      orderBy: [
        { expr: { kind: 'aggregate', call: { fn: 'count', arg: null, distinct: false } }, desc: true, nullsFirst: true },
        { expr: int(1), desc: false, nullsFirst: false },
      ],
      limit: 10,
      offset: 5,
    } satisfies SelectStatement | object);
  });

  it('takes SELECT *, comments, any keyword case and OFFSET before LIMIT', () => {
    const s = parseSelect('SeLeCt * -- all\nFROM /* the table */ EVENTS offset 3 LIMIT 2');
    expect(s.items).toBe('star');
    expect([s.limit, s.offset]).toEqual([2, 3]);
  });

  it('takes implicit and quoted aliases', () => {
    const s = parseSelect('SELECT type t, stream AS "My Stream" FROM events');
    expect(s.items !== 'star' && s.items.map((i) => i.alias)).toEqual(['t', 'My Stream']);
  });

  it('resolves ORDER BY alias to the output (alias first) and GROUP BY alias unless a column has the name', () => {
    const s = parseSelect('SELECT lower(type) AS k, stream AS type FROM events GROUP BY k, type ORDER BY type, k');
    expect(strip(s.groupBy)).toEqual([{ kind: 'call', name: 'lower', args: [col('type')] }, col('type')]);
    expect(strip(s.orderBy.map((o) => o.expr))).toEqual([col('stream'), { kind: 'call', name: 'lower', args: [col('type')] }]);
  });

  it('records spans of nodes', () => {
    const sql = 'SELECT data.post.id, count(DISTINCT stream) FROM events';
    const s = parseSelect(sql);
    if (s.items === 'star') throw new Error('star');
    expect(s.items.map((i) => sql.slice(i.expr.span.start, i.expr.span.end))).toEqual(['data.post.id', 'count(DISTINCT stream)']);
  });
});

describe('parseSelect: expressions', () => {
  it('follows the standard precedence', () => {
    expect(where('seq = 1 OR 1 = 1')).toEqual(bin('or', bin('=', col('seq'), int(1)), bin('=', int(1), int(1))));
    expect(where('seq = 1 OR seq = 2 AND NOT shard = 3')).toEqual(
      bin(
        'or',
        bin('=', col('seq'), int(1)),
        bin('and', bin('=', col('seq'), int(2)), { kind: 'unary', op: 'not', arg: bin('=', col('shard'), int(3)) }),
      ),
    );
    expect(item('1 + 2 * 3 - 4 % 5')).toEqual(bin('-', bin('+', int(1), bin('*', int(2), int(3))), bin('%', int(4), int(5))));
    expect(item("'a' || 'b' || 1 + 2")).toEqual(bin('||', bin('||', str('a'), str('b')), bin('+', int(1), int(2))));
    expect(item('(1 + 2) * 3')).toEqual(bin('*', bin('+', int(1), int(2)), int(3)));
  });

  it('folds a minus into number literals and keeps it on other operands', () => {
    expect(item('-5')).toEqual(int(-5));
    expect(item('- -2.5')).toEqual(lit(2.5, 'double'));
    expect(item('-seq')).toEqual({ kind: 'unary', op: 'neg', arg: col('seq') });
    expect(item('-seq::double')).toEqual({ kind: 'unary', op: 'neg', arg: { kind: 'cast', arg: col('seq'), to: 'double' } });
  });

  it('reads literals', () => {
    expect(item('42')).toEqual(int(42));
    expect(item('4.5')).toEqual(lit(4.5, 'double'));
    expect(item('.5')).toEqual(lit(0.5, 'double'));
    expect(item('1e3')).toEqual(lit(1000, 'double'));
    expect(item('2.5E-1')).toEqual(lit(0.25, 'double'));
    expect(item("'it''s'")).toEqual(str("it's"));
    expect(item('TRUE')).toEqual(lit(true, 'boolean'));
    expect(item('false')).toEqual(lit(false, 'boolean'));
    expect(item('NULL')).toEqual(lit(null, 'null'));
    expect(item("TIMESTAMP '2026-01-01 00:00:00'")).toEqual(lit(Date.UTC(2026, 0, 1), 'timestamp'));
    expect(item("timestamp '2026-01-01T12:30:00Z'")).toEqual(lit(Date.UTC(2026, 0, 1, 12, 30), 'timestamp'));
    expect(item("TIMESTAMP '2026-01-01T12:30:00.250+02:00'")).toEqual(lit(Date.UTC(2026, 0, 1, 10, 30, 0, 250), 'timestamp'));
  });

  it('reads predicates', () => {
    expect(where('seq IN (1, 2)')).toEqual({ kind: 'in', arg: col('seq'), list: [int(1), int(2)], negated: false });
    expect(where('seq NOT IN (1)')).toEqual({ kind: 'in', arg: col('seq'), list: [int(1)], negated: true });
    expect(where("type NOT LIKE 'a!%%' ESCAPE '!'")).toEqual({
      kind: 'like',
      arg: col('type'),
      pattern: 'a!%%',
      escape: '!',
      negated: true,
      caseInsensitive: false,
    });
    expect(where("type ILIKE 'A%'")).toMatchObject({ kind: 'like', caseInsensitive: true, negated: false });
    expect(where('subject IS NULL')).toEqual({ kind: 'isNull', arg: col('subject'), negated: false });
    expect(where('subject IS NOT NULL')).toEqual({ kind: 'isNull', arg: col('subject'), negated: true });
    expect(where('seq NOT BETWEEN 1 AND 2 AND TRUE')).toEqual(
      bin('and', { kind: 'between', arg: col('seq'), low: int(1), high: int(2), negated: true }, lit(true, 'boolean')),
    );
    expect(where('seq != 1')).toEqual(bin('<>', col('seq'), int(1)));
  });

  it('reads CASE, CAST and ::', () => {
    expect(item("CASE WHEN seq > 1 THEN 'a' ELSE 'b' END")).toEqual({
      kind: 'case',
      whens: [{ when: bin('>', col('seq'), int(1)), then: str('a') }],
      otherwise: str('b'),
    });
    expect(item("CASE type WHEN 'x' THEN 1 END")).toEqual({
      kind: 'case',
      whens: [{ when: bin('=', col('type'), str('x')), then: int(1) }],
      otherwise: null,
    });
    expect(item('CAST(seq AS varchar)')).toEqual({ kind: 'cast', arg: col('seq'), to: 'string' });
    expect(item('CAST(data.x AS decimal(18, 3))')).toEqual({ kind: 'cast', arg: path('x'), to: 'double' });
    expect(item('seq::bigint::text')).toEqual({ kind: 'cast', arg: { kind: 'cast', arg: col('seq'), to: 'integer' }, to: 'string' });
    for (const [t, to] of [
      ['int', 'integer'],
      ['integer', 'integer'],
      ['double', 'double'],
      ['float', 'double'],
      ['real', 'double'],
      ['string', 'string'],
      ['boolean', 'boolean'],
      ['timestamp', 'timestamp'],
      ['timestamptz', 'timestamp'],
    ]) {
      expect(item(`data.x::${t}`)).toEqual({ kind: 'cast', arg: path('x'), to });
    }
  });

  it('reads columns and data paths in every spelling', () => {
    expect(item('TYPE')).toEqual(col('type'));
    expect(item('"type"')).toEqual(col('type'));
    expect(item('events.received_at')).toEqual(col('received_at'));
    expect(item('data')).toEqual(col('data'));
    expect(item('data.post.id')).toEqual(path('post', 'id'));
    expect(item('data.postId')).toEqual(path('postId'));
    expect(item('data.select.from')).toEqual(path('select', 'from'));
    expect(item('"data.post.id"')).toEqual(path('post', 'id'));
    expect(item('data."my-field".x')).toEqual(path('my-field', 'x'));
    expect(item("json_extract(data, '$.post.id')")).toEqual(path('post', 'id'));
    expect(item('json_extract_string(data, \'$.a."b c"\')')).toEqual(path('a', 'b c'));
    expect(item("data->>'$.a'")).toEqual(path('a'));
    expect(item("data->'$.a.b'")).toEqual(path('a', 'b'));
  });

  it('reads functions and aggregates', () => {
    expect(item("date_trunc('Hour', time)")).toEqual({ kind: 'call', name: 'date_trunc', args: [col('time')], unit: 'hour' });
    expect(item('round(data.x, 2)')).toEqual({ kind: 'call', name: 'round', args: [path('x'), int(2)] });
    expect(item("coalesce(subject, source, 'x')")).toEqual({
      kind: 'call',
      name: 'coalesce',
      args: [col('subject'), col('source'), str('x')],
    });
    expect(item('count(DISTINCT stream)')).toEqual({ kind: 'aggregate', call: { fn: 'count', arg: col('stream'), distinct: true } });
    expect(item('approx_quantile(data.ms, 0.95)')).toEqual({
      kind: 'aggregate',
      call: { fn: 'approx_quantile', arg: path('ms'), distinct: false, q: 0.95 },
    });
    expect(item('APPROX_COUNT_DISTINCT(data.user)')).toEqual({
      kind: 'aggregate',
      call: { fn: 'approx_count_distinct', arg: path('user'), distinct: false },
    });
    expect(item('sum(seq) / count(*)')).toMatchObject({ kind: 'binary', op: '/' });
  });
});

describe('parseSelect and analyse: errors name the problem, point at it and say what is supported', () => {
  const cases: [sql: string, message: RegExp, at: string][] = [
    [
      'SELECT foo FROM events',
      /^Unknown column "foo" at 8: columns are id, stream, type, .*; use data\.foo for a field of the event's data$/,
      'foo',
    ],
    ['SELECT type FROM users', /Unknown table "users" at 18: the only table is events/, 'users'],
    ['SELECT type FROM events e', /Table aliases are not supported/, 'e'],
    ['SELECT type FROM events JOIN x ON true', /JOIN is not supported.*supported is SELECT/, 'JOIN'],
    ['SELECT type FROM events, other', /Joins are not supported/, ','],
    ['SELECT type FROM (SELECT 1)', /Subqueries are not supported/, '('],
    ['SELECT 1 FROM events WHERE seq IN (SELECT 1)', /Subqueries are not supported/, 'SELECT'],
    ['WITH x AS (SELECT 1) SELECT 1 FROM x', /WITH .* not supported/, 'WITH'],
    ['SELECT 1 FROM events UNION SELECT 2 FROM events', /UNION is not supported/, 'UNION'],
    ['SELECT DISTINCT type FROM events', /SELECT DISTINCT is not supported.*GROUP BY/, 'DISTINCT'],
    ['SELECT row_number() OVER () FROM events', /Window function row_number is not supported/, 'row_number'],
    ['SELECT count(*) OVER () FROM events', /Window functions \(OVER\) are not supported/, 'OVER'],
    ['INSERT INTO events VALUES (1)', /INSERT is not supported.*read-only/, 'INSERT'],
    ['DELETE FROM events', /DELETE is not supported/, 'DELETE'],
    ['', /Empty query/, ''],
    ['SELECT type', /Expected FROM events, found the end of the query/, ''],
    ['SELECT type FROM events WHERE', /Expected an expression, found the end of the query/, ''],
    ['SELECT type FROM events LIMIT 5 WHERE seq = 1', /Unexpected WHERE at 33: expected an operator, OFFSET, or the end/, 'WHERE'],
    ['SELECT type FROM events; SELECT 1', /Only one statement per query/, 'SELECT'],
    ["SELECT 'abc FROM events", /Unterminated string literal at 8/, "'"],
    ['SELECT #x FROM events', /Unexpected character "#"/, '#'],
    ['SELECT ? FROM events', /Parameters \("\?"\) are not supported/, '?'],
    ['SELECT sum(DISTINCT seq) FROM events', /sum\(DISTINCT …\) is not supported.*only count\(DISTINCT x\)/, 'DISTINCT'],
    ['SELECT count(sum(seq)) FROM events', /Aggregate sum\(\) inside another aggregate/, 'sum'],
    ['SELECT approx_quantile(seq, 1.5) FROM events', /Quantile 1.5 is out of range.*between 0 and 1/, '1.5'],
    ['SELECT approx_quantile(seq, seq) FROM events', /takes a number literal as its quantile/, 'seq'],
    [
      "SELECT date_trunc('fortnight', time) FROM events",
      /Unknown date_trunc unit 'fortnight'.*units are millisecond, second/,
      "'fortnight'",
    ],
    ['SELECT date_trunc(unit, time) FROM events', /Expected the unit as a string literal/, 'unit'],
    ['SELECT median(seq) FROM events', /Unknown function median.*supported functions are count\(\*\)/, 'median'],
    ["SELECT data->>'$.a[0]' FROM events", /array indexes in JSON paths are not supported/, "'$.a[0]'"],
    ["SELECT json_extract(data, '$.a[0]') FROM events", /array indexes/, "'$.a[0]'"],
    ["SELECT json_extract(type, '$.a') FROM events", /json_extract reads the data column only/, 'type'],
    ['SELECT data.a[0] FROM events', /Array indexes are not supported/, '['],
    ['SELECT type.x FROM events', /Column type has no fields/, '.'],
    ['SELECT seq::money FROM events', /Unknown type "money".*types are integer/, 'money'],
    ['SELECT 1 FROM events WHERE type LIKE type', /Expected a string literal pattern after LIKE/, 'type'],
    ['SELECT 1 FROM events WHERE type IS TRUE', /IS TRUE is not supported/, 'TRUE'],
    ['SELECT 1 FROM events WHERE seq IN ()', /Empty IN list/, ')'],
    ["SELECT TIMESTAMP '2026-02-30' FROM events", /Invalid timestamp '2026-02-30'/, "'2026-02-30'"],
    ['SELECT 1 FROM events LIMIT 100001', /LIMIT 100001 is too large.*100000/, '100001'],
    ['SELECT 1 FROM events LIMIT -1', /LIMIT cannot be negative/, '-1'],
    ['SELECT 99999999999999999999 FROM events', /Integer 99999999999999999999 is out of range/, '99999999999999999999'],
    ["SELECT time - INTERVAL '1 day' FROM events", /INTERVAL is not supported/, 'INTERVAL'],
    // analyser
    [
      'SELECT 1 FROM events WHERE stream = 5',
      /Cannot compare a string \(stream\) with an integer \(5\).*CAST\(stream AS double\).*'5'/,
      '5',
    ],
    ["SELECT 1 FROM events WHERE seq = '5'", /Cannot compare an integer \(seq\) with a string \('5'\).*without quotes: 5/, "'5'"],
    ["SELECT 1 FROM events WHERE time > 'yesterday'", /Invalid timestamp 'yesterday'/, "'yesterday'"],
    ["SELECT 1 FROM events WHERE time BETWEEN '2026-01-01' AND 5", /Cannot compare a timestamp/, '5'],
    ['SELECT 1 FROM events WHERE seq', /WHERE needs a condition, not an integer/, 'seq'],
    ['SELECT 1 FROM events WHERE count(*) > 1', /Aggregates are not allowed in WHERE.*HAVING/, 'count(*)'],
    ['SELECT count(*) FROM events GROUP BY count(*)', /Aggregates are not allowed in GROUP BY/, 'count(*)'],
    ['SELECT stream, count(*) FROM events', /Column stream must appear in GROUP BY or be used in an aggregate/, 'stream'],
    ['SELECT data.a, count(*) FROM events GROUP BY type', /data\.a must appear in GROUP BY/, 'data.a'],
    ['SELECT type FROM events GROUP BY type ORDER BY seq', /Column seq must appear in GROUP BY.*ORDER BY/, 'seq'],
    ["SELECT type FROM events HAVING type = 'x'", /HAVING needs GROUP BY or an aggregate/, "type = 'x'"],
    ['SELECT * FROM events GROUP BY type', /SELECT \* cannot be aggregated/, 'type'],
    ['SELECT type FROM events GROUP BY 2', /GROUP BY 2 is not a position in the select list/, '2'],
    ['SELECT count(*) FROM events GROUP BY 1', /GROUP BY 1 refers to an aggregate/, '1'],
    ['SELECT type FROM events ORDER BY 3', /ORDER BY 3 is not a position/, '3'],
    ["SELECT type FROM events ORDER BY 'x'", /ORDER BY a constant has no effect/, "'x'"],
    ['SELECT sum(type) FROM events', /sum\(\) takes an integer or a number, not a string/, 'type'],
    ["SELECT seq LIKE 'a%' FROM events", /LIKE takes a string, not an integer/, 'seq'],
    ['SELECT time + 1 FROM events', /"\+" takes .* not a timestamp.*timestamp arithmetic/, 'time'],
    ["SELECT date_trunc('day', data.t) FROM events", /date_trunc of a data field needs a cast/, 'data.t'],
    ["SELECT CASE WHEN true THEN 1 ELSE 'a' END FROM events", /Cannot mix in one CASE an integer/, "'a'"],
    ['SELECT CAST(time AS integer) FROM events', /Cannot cast a timestamp to integer/, 'CAST(time AS integer)'],
  ];
  for (const [sql, message, at] of cases) {
    it(sql || '(empty)', () => {
      const e = parseError(sql);
      expect(e.message).toMatch(message);
      expect(e.at).toBe(at);
    });
  }

  it('gives line and column for multi-line SQL', () => {
    expect(parseError('SELECT type\nFROM events\nWHERE nope = 1').message).toMatch(/^Unknown column "nope" at line 3, column 7/);
  });

  it('formats a caret excerpt', () => {
    const sql = 'SELECT foo FROM events';
    const e = sqlError(() => parseSelect(sql));
    expect(formatSqlError(sql, e).split('\n')).toEqual([e.message, sql, '       ^^^']);
    const long = `SELECT ${'seq + '.repeat(40)}nope FROM events`;
    const lines = formatSqlError(
      long,
      sqlError(() => parseSelect(long)),
    ).split('\n');
    expect(lines[1]!.length).toBeLessThanOrEqual(82);
    expect(lines[1]!.slice(lines[2]!.indexOf('^'), lines[2]!.length)).toBe('nope');
  });
});

describe('limits', () => {
  it('refuses more than 16 KB of SQL', () => {
    const sql = `SELECT 1 FROM events WHERE type = '${'x'.repeat(16 * 1024)}'`;
    expect(sqlError(() => parseSelect(sql)).message).toMatch(/Query too long: at most 16384 bytes/);
    expect(sqlError(() => parseSelect(`SELECT '${'é'.repeat(9000)}' FROM events`)).message).toMatch(/too long/);
  });

  it('refuses nesting deeper than 64 without overflowing the stack', () => {
    const ok = `SELECT ${'('.repeat(60)}1${')'.repeat(60)} FROM events`;
    expect(() => parseSelect(ok)).not.toThrow();
    for (const deep of [
      `SELECT ${'('.repeat(5000)}1${')'.repeat(5000)} FROM events`,
      `SELECT ${Array(3000).fill('-').join(' ')} seq FROM events`,
      `SELECT 1 FROM events WHERE ${'NOT '.repeat(3000)}TRUE`,
      `SELECT ${'abs('.repeat(3000)}1${')'.repeat(3000)} FROM events`,
      `SELECT ${'CASE WHEN TRUE THEN '.repeat(700)}1 FROM events`,
    ]) {
      expect(sqlError(() => parseSelect(deep)).message).toMatch(/nested too deeply \(more than 64 levels\)/);
    }
  });

  it('refuses operator chains deeper than 256 and takes long flat ones up to it', () => {
    expect(() => parseSelect(`SELECT 1 FROM events WHERE ${Array(200).fill('seq = 1').join(' OR ')}`)).not.toThrow();
    expect(sqlError(() => parseSelect(`SELECT ${Array(3000).fill('1').join(' + ')} FROM events`)).message).toMatch(/too deep/);
  });

  it('takes 1,000 IN items and refuses 1,001', () => {
    const list = (n: number) => `SELECT 1 FROM events WHERE seq IN (${Array.from({ length: n }, (_, i) => i).join(',')})`;
    expect(() => parseSelect(list(1000))).not.toThrow();
    expect(sqlError(() => parseSelect(list(1001))).message).toMatch(/IN list too long.*at most 1000/);
  });

  it('takes LIMIT 100000', () => {
    expect(parseSelect('SELECT 1 FROM events LIMIT 100000').limit).toBe(100000);
  });
});

describe('parseTimestamp', () => {
  it('reads the accepted forms as UTC epoch ms', () => {
    expect(parseTimestamp('2026-01-01')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTimestamp('2026-01-01 13:45')).toBe(Date.UTC(2026, 0, 1, 13, 45));
    expect(parseTimestamp('2026-01-01 13:45:07.5')).toBe(Date.UTC(2026, 0, 1, 13, 45, 7, 500));
    expect(parseTimestamp('2026-01-01T13:45:07.123456Z')).toBe(Date.UTC(2026, 0, 1, 13, 45, 7, 123));
    expect(parseTimestamp('2026-01-01T13:45:07-05:30')).toBe(Date.UTC(2026, 0, 1, 19, 15, 7));
    expect(parseTimestamp('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(parseTimestamp('0099-01-01')).toBe(new Date('0099-01-01T00:00:00Z').getTime());
  });
  it('refuses what is not a date', () => {
    for (const s of ['2025-02-29', '2026-13-01', '2026-01-32', '2026-01-01 24:00', '26-01-01', '2026/01/01', 'now', '']) {
      expect(parseTimestamp(s)).toBeNull();
    }
  });
});

describe('analyse', () => {
  it('builds the spec of a grouped query', () => {
    const s = spec(
      "SELECT type, date_trunc('day', time) AS day, count(*), count(*) AS n2, avg(data.ms) FROM events WHERE time >= '2026-01-01' AND data.env = 'prod' GROUP BY 1, day HAVING count(*) > 10 ORDER BY n2 DESC, 2",
    );
    expect(s).toEqual({
      aggregated: true,
      outputs: [
        { name: 'type', expr: { kind: 'groupRef', index: 0 }, type: 'string' },
        { name: 'day', expr: { kind: 'groupRef', index: 1 }, type: 'timestamp' },
        { name: 'count_star()', expr: { kind: 'aggRef', index: 0 }, type: 'integer' },
        { name: 'n2', expr: { kind: 'aggRef', index: 0 }, type: 'integer' },
        { name: 'avg(data.ms)', expr: { kind: 'aggRef', index: 1 }, type: 'double' },
      ],
      where: bin('and', bin('>=', col('time'), lit(Date.UTC(2026, 0, 1), 'timestamp')), bin('=', path('env'), str('prod'))),
      groupBy: [col('type'), { kind: 'call', name: 'date_trunc', args: [col('time')], unit: 'day' }],
      aggregates: [
        { fn: 'count', arg: null, distinct: false },
        { fn: 'avg', arg: path('ms'), distinct: false },
      ],
      having: bin('>', { kind: 'aggRef', index: 0 }, int(10)),
      orderBy: [
        { expr: { kind: 'aggRef', index: 0 }, desc: true, nullsFirst: false },
        { expr: { kind: 'groupRef', index: 1 }, desc: false, nullsFirst: false },
      ],
      limit: null,
      offset: 0,
      columns: ['type', 'time'],
      paths: ['env', 'ms'],
    });
  });

  it('builds the spec of a plain query', () => {
    const s = spec("SELECT id, data.post.id AS post, seq * 2 FROM events WHERE stream IN ('a', 'b') ORDER BY received_at DESC LIMIT 5");
    expect(s.aggregated).toBe(false);
    expect(s.outputs).toEqual([
      { name: 'id', expr: col('id'), type: 'string' },
      { name: 'post', expr: path('post', 'id'), type: 'json' },
      { name: '(seq * 2)', expr: bin('*', col('seq'), int(2)), type: 'integer' },
    ]);
    expect(s.orderBy).toEqual([{ expr: col('received_at'), desc: true, nullsFirst: false }]);
    expect(s.columns).toEqual(['id', 'stream', 'received_at', 'seq']);
    expect(s.paths).toEqual(['post.id']);
    expect([s.groupBy, s.aggregates, s.having, s.limit]).toEqual([[], [], null, 5]);
  });

  it('expands SELECT * to the 11 columns', () => {
    const s = spec('SELECT * FROM events ORDER BY 6');
    expect(s.outputs.map((o) => [o.name, o.type])).toEqual([
      ['id', 'string'],
      ['stream', 'string'],
      ['type', 'string'],
      ['source', 'string'],
      ['subject', 'string'],
      ['time', 'timestamp'],
      ['received_at', 'timestamp'],
      ['shard', 'integer'],
      ['seq', 'integer'],
      ['version', 'integer'],
      ['data', 'string'],
    ]);
    expect(s.orderBy[0]!.expr).toEqual(col('time'));
    expect(s.columns).toHaveLength(11);
  });

  it('deduplicates aggregates and group keys, and matches expressions of group keys', () => {
    const s = spec(
      'SELECT lower(type), upper(lower(type)), max(seq) + max(seq), count(DISTINCT stream) FROM events GROUP BY lower(type), lower(type)',
    );
    expect(s.groupBy).toEqual([{ kind: 'call', name: 'lower', args: [col('type')] }]);
    expect(s.outputs.map((o) => o.expr)).toEqual([
      { kind: 'groupRef', index: 0 },
      { kind: 'call', name: 'upper', args: [{ kind: 'groupRef', index: 0 }] },
      bin('+', { kind: 'aggRef', index: 0 }, { kind: 'aggRef', index: 0 }),
      { kind: 'aggRef', index: 1 },
    ]);
    expect(s.aggregates).toEqual([
      { fn: 'max', arg: col('seq'), distinct: false },
      { fn: 'count', arg: col('stream'), distinct: true },
    ]);
    expect(s.columns).toEqual(['stream', 'type', 'seq']);
  });

  it('aggregates without GROUP BY, and HAVING alone', () => {
    expect(spec('SELECT count(*) FROM events HAVING count(*) > 0')).toMatchObject({
      aggregated: true,
      groupBy: [],
      having: bin('>', { kind: 'aggRef', index: 0 }, int(0)),
    });
    expect(spec('SELECT type FROM events GROUP BY type')).toMatchObject({
      aggregated: true,
      aggregates: [],
      outputs: [{ expr: { kind: 'groupRef', index: 0 } }],
    });
  });

  it('turns strings compared with timestamps into timestamp literals everywhere', () => {
    const t = (d: string) => lit(Date.parse(d), 'timestamp');
    const s = spec(
      "SELECT coalesce(time, '2026-01-02') FROM events WHERE time BETWEEN '2026-01-01' AND '2026-01-01T10:00:00Z' AND received_at IN ('2026-01-01 05:00') AND '2026-03-01' > time AND date_trunc('day', '2026-05-05 10:00') = time AND CAST('2026-07-01' AS timestamp) < time",
    );
    expect(s.outputs[0]!.expr).toEqual({ kind: 'call', name: 'coalesce', args: [col('time'), t('2026-01-02T00:00:00Z')] });
    expect(JSON.stringify(s.where)).not.toMatch(/"string"/);
    expect(JSON.stringify(s.where)).toContain(JSON.stringify(t('2026-01-01T10:00:00Z')));
    expect(JSON.stringify(s.where)).toContain(JSON.stringify(t('2026-07-01T00:00:00Z')));
  });

  it('types expressions', () => {
    const types = (sel: string) => spec(`SELECT ${sel} FROM events`).outputs.map((o) => o.type);
    expect(types('seq + 1, seq / 2, seq * 1.5, -seq, data.x + 1, data.x, abs(seq), round(1.5), length(type), type || seq')).toEqual([
      'integer',
      'double',
      'double',
      'integer',
      'double',
      'json',
      'integer',
      'double',
      'integer',
      'string',
    ]);
    expect(types("seq = 1, data.x = 1, data.x = 'a', data.x > TIMESTAMP '2026-01-01', NULL, coalesce(NULL, 1)")).toEqual([
      'boolean',
      'boolean',
      'boolean',
      'boolean',
      'null',
      'integer',
    ]);
    expect(
      types('sum(seq), sum(data.x), avg(seq), min(time), max(data.x), approx_quantile(seq, 0.5), approx_count_distinct(type)'),
    ).toEqual(['integer', 'double', 'double', 'timestamp', 'json', 'integer', 'integer']);
  });

  it('names outputs like DuckDB', () => {
    const names = spec(
      "SELECT count(*), count(seq), count(DISTINCT seq), approx_quantile(seq, 0.5), date_trunc('day', time), lower(type), seq + 1, CAST(seq AS varchar), coalesce(seq, 1), data.a.b FROM events GROUP BY time, type, seq, data.a.b",
    ).outputs.map((o) => o.name);
    expect(names).toEqual([
      'count_star()',
      'count(seq)',
      'count(DISTINCT seq)',
      'approx_quantile(seq, 0.5)',
      "date_trunc('day', time)",
      'lower(type)',
      '(seq + 1)',
      'CAST(seq AS VARCHAR)',
      'COALESCE(seq, 1)',
      'data.a.b',
    ]);
  });

  it('lists data only when data itself is used', () => {
    expect(spec('SELECT data FROM events').columns).toEqual(['data']);
    expect(spec('SELECT data.a FROM events').columns).toEqual([]);
    expect(spec('SELECT count(*) FROM events').columns).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing

/** Only SqlError may escape parse + analyse. */
function onlySqlErrors(sql: string): void {
  try {
    analyse(parseSelect(sql), sql);
  } catch (e) {
    if (!(e instanceof SqlError)) throw e;
    expect(e.span.start).toBeGreaterThanOrEqual(0);
    expect(e.span.end).toBeGreaterThanOrEqual(e.span.start);
    expect(typeof formatSqlError(sql, e)).toBe('string');
  }
}

const WORDS = [
  'SELECT',
  'FROM',
  'events',
  'WHERE',
  'GROUP',
  'BY',
  'HAVING',
  'ORDER',
  'LIMIT',
  'OFFSET',
  'AS',
  'AND',
  'OR',
  'NOT',
  'IN',
  'IS',
  'NULL',
  'LIKE',
  'ILIKE',
  'ESCAPE',
  'BETWEEN',
  'CASE',
  'WHEN',
  'THEN',
  'ELSE',
  'END',
  'ASC',
  'DESC',
  'NULLS',
  'FIRST',
  'LAST',
  'TRUE',
  'FALSE',
  'DISTINCT',
  'CAST',
  'TIMESTAMP',
  'JOIN',
  'UNION',
  'OVER',
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'approx_quantile',
  'approx_count_distinct',
  'date_trunc',
  'lower',
  'coalesce',
  'round',
  'json_extract',
  'type',
  'stream',
  'time',
  'seq',
  'data',
  'data.a',
  'data.a.b',
  '"data.x"',
  '"type"',
  'foo',
  '(',
  ')',
  ',',
  '*',
  '+',
  '-',
  '/',
  '%',
  '=',
  '<>',
  '!=',
  '<',
  '>=',
  '||',
  '::',
  '->>',
  ';',
  '.',
  "'2026-01-01'",
  "'$.a'",
  "'day'",
  "'x'",
  "'",
  '"',
  '0',
  '1',
  '0.5',
  '1e3',
  '100001',
  '--',
  '/*',
];

/** Well-typed random statements (set up in the fuzz block, reused against DuckDB). */
let typedStatement: fc.Arbitrary<string>;

describe('fuzz', () => {
  it('arbitrary strings give a spec or a SqlError, nothing else', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), onlySqlErrors), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 100 }), onlySqlErrors), { numRuns: 500 });
  });

  it('token soups give a spec or a SqlError, nothing else', () => {
    const soup = fc.array(fc.constantFrom(...WORDS), { maxLength: 40 }).map((ws) => ws.join(' '));
    fc.assert(fc.property(soup, onlySqlErrors), { numRuns: 3000 });
    const prefixed = soup.map((s) => `SELECT ${s}`);
    fc.assert(fc.property(prefixed, onlySqlErrors), { numRuns: 3000 });
  });

  // A generator of mostly valid statements, for the round trip.
  const { expr } = fc.letrec<{ expr: string; atom: string }>((tie) => ({
    atom: fc.oneof(
      fc.constantFrom(
        'type',
        'stream',
        'seq',
        'time',
        'data.a',
        'data.b.c',
        'data."x-y"',
        'shard',
        'NULL',
        'TRUE',
        "'a''b'",
        "'2026-01-01'",
        "TIMESTAMP '2026-02-03 04:05:06.789'",
      ),
      fc.integer({ min: -1000, max: 1000 }).map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((d) => String(d).replace(/^(-?\d+)$/, '$1.0')),
    ),
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      tie('atom'),
      fc
        .tuple(tie('expr'), fc.constantFrom('=', '<>', '<', '>=', '+', '-', '*', '/', '%', '||', 'AND', 'OR'), tie('expr'))
        .map(([a, op, b]) => `${a} ${op} ${b}`),
      tie('expr').map((a) => `(${a})`),
      tie('expr').map((a) => `NOT ${a}`),
      tie('expr').map((a) => `-${a}`),
      fc.tuple(tie('expr'), fc.array(tie('expr'), { minLength: 1, maxLength: 3 })).map(([a, l]) => `${a} NOT IN (${l.join(', ')})`),
      fc.tuple(tie('expr'), tie('expr'), tie('expr')).map(([a, b, c]) => `${a} BETWEEN ${b} AND ${c}`),
      tie('expr').map((a) => `${a} ILIKE 'a%' ESCAPE '!'`),
      tie('expr').map((a) => `${a} IS NOT NULL`),
      tie('expr').map((a) => `CAST(${a} AS double)`),
      tie('expr').map((a) => `${a}::varchar`),
      fc.tuple(tie('expr'), tie('expr')).map(([a, b]) => `CASE WHEN ${a} THEN ${b} ELSE NULL END`),
      fc.tuple(tie('expr'), tie('expr')).map(([a, b]) => `coalesce(${a}, ${b})`),
      tie('expr').map((a) => `date_trunc('month', ${a})`),
      tie('expr').map((a) => `round(${a}, 2)`),
      tie('expr').map((a) => `lower(${a})`),
    ),
  }));
  const agg = fc.oneof(
    fc.constant('count(*)'),
    expr.map((e) => `count(DISTINCT ${e})`),
    expr.map((e) => `sum(${e})`),
    expr.map((e) => `max(${e})`),
    expr.map((e) => `approx_quantile(${e}, 0.25)`),
  );
  const statement = fc
    .record({
      items: fc.array(fc.oneof(expr, agg), { minLength: 1, maxLength: 3 }),
      where: fc.option(expr),
      group: fc.array(fc.oneof(expr, fc.constantFrom('1', 'type')), { maxLength: 2 }),
      having: fc.option(agg.map((a) => `${a} > 1`)),
      order: fc.array(fc.tuple(fc.oneof(expr, fc.constant('1'), agg), fc.constantFrom('', ' DESC', ' ASC NULLS FIRST')), { maxLength: 2 }),
      limit: fc.option(fc.nat(1000)),
    })
    .map(
      (r) =>
        `SELECT ${r.items.map((x, i) => `${x} AS c${i}`).join(', ')} FROM events` +
        (r.where ? ` WHERE ${r.where}` : '') +
        (r.group.length ? ` GROUP BY ${r.group.join(', ')}` : '') +
        (r.having ? ` HAVING ${r.having}` : '') +
        (r.order.length ? ` ORDER BY ${r.order.map(([e, d]) => e + d).join(', ')}` : '') +
        (r.limit !== null ? ` LIMIT ${r.limit}` : ''),
    );

  it('printing a parsed statement and parsing it again gives the same statement', () => {
    let parsed = 0;
    fc.assert(
      fc.property(statement, (sql) => {
        let stmt: SelectStatement;
        try {
          stmt = parseSelect(sql);
        } catch (e) {
          if (e instanceof SqlError) return;
          throw e;
        }
        parsed++;
        const printed = selectToSql(stmt);
        expect(strip(parseSelect(printed))).toEqual(strip(stmt));
      }),
      { numRuns: 1500 },
    );
    expect(parsed).toBeGreaterThan(500);
  });

  // A generator of well-typed statements, for the round trip through the analyser.
  const typed = fc.letrec<{ num: string; text: string; bool: string; ts: string }>((tie) => ({
    num: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom('seq', 'shard', 'version', 'data.n', '1', '-2', '2.5', '1e-3', 'NULL'),
      fc.tuple(tie('num'), fc.constantFrom('+', '-', '*', '/', '%'), tie('num')).map(([a, o, b]) => `${a} ${o} ${b}`),
      tie('num').map((a) => `(${a})`),
      tie('num').map((a) => `- ${a}`),
      tie('num').map((a) => `abs(${a})`),
      tie('num').map((a) => `round(${a}, 1)`),
      tie('text').map((a) => `length(${a})`),
      tie('num').map((a) => `CAST(${a} AS double)`),
      fc.tuple(tie('bool'), tie('num'), tie('num')).map(([c, a, b]) => `CASE WHEN ${c} THEN ${a} ELSE ${b} END`),
      fc.tuple(tie('num'), tie('num')).map(([a, b]) => `coalesce(${a}, ${b})`),
    ),
    text: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom('type', 'stream', 'subject', 'data.s', 'data."x-y".z', "json_extract_string(data, '$.q')", "'a''b'", "'%'"),
      fc.tuple(tie('text'), tie('text')).map(([a, b]) => `${a} || ${b}`),
      tie('text').map((a) => `lower(${a})`),
      tie('text').map((a) => `upper(${a})`),
      tie('num').map((a) => `CAST(${a} AS varchar)`),
      tie('num').map((a) => `(${a})::text`),
    ),
    bool: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom('TRUE', 'FALSE', 'data.ok'),
      fc.tuple(tie('num'), fc.constantFrom('=', '<>', '<', '<=', '>', '>='), tie('num')).map(([a, o, b]) => `${a} ${o} ${b}`),
      fc.tuple(tie('text'), fc.constantFrom('=', '<>', '<'), tie('text')).map(([a, o, b]) => `${a} ${o} ${b}`),
      fc.tuple(tie('ts'), fc.constantFrom('=', '>=', '<')).map(([a, o]) => `${a} ${o} '2026-01-01 10:00'`),
      fc.tuple(tie('bool'), fc.constantFrom('AND', 'OR'), tie('bool')).map(([a, o, b]) => `${a} ${o} ${b}`),
      tie('bool').map((a) => `NOT (${a})`),
      fc.tuple(tie('num'), fc.array(tie('num'), { minLength: 1, maxLength: 3 })).map(([a, l]) => `${a} IN (${l.join(', ')})`),
      fc.tuple(tie('text'), tie('text')).map(([a, b]) => `${a} NOT IN (${b}, 'x')`),
      tie('ts').map((a) => `${a} BETWEEN '2026-01-01' AND TIMESTAMP '2026-02-01T00:00:00Z'`),
      tie('text').map((a) => `${a} NOT LIKE 'a!_%' ESCAPE '!'`),
      tie('text').map((a) => `${a} ILIKE '%b'`),
      tie('num').map((a) => `${a} IS NULL`),
    ),
    ts: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom('time', 'received_at', "TIMESTAMP '2026-02-03 04:05:06.789'"),
      fc.tuple(fc.constantFrom('hour', 'day', 'week', 'month', 'quarter', 'year'), tie('ts')).map(([u, a]) => `date_trunc('${u}', ${a})`),
    ),
  }));
  const key = fc.oneof(typed.num, typed.text, typed.ts);
  const aggregate = fc.oneof(
    fc.constant('count(*)'),
    typed.text.map((e) => `count(DISTINCT ${e})`),
    typed.num.map((e) => `sum(${e})`),
    typed.num.map((e) => `avg(${e})`),
    typed.ts.map((e) => `min(${e})`),
    typed.text.map((e) => `max(${e})`),
    typed.num.map((e) => `approx_quantile(${e}, 0.5)`),
    typed.text.map((e) => `approx_count_distinct(${e})`),
  );
  typedStatement = fc
    .record({
      aggregated: fc.boolean(),
      keys: fc.array(key, { maxLength: 2 }),
      aggs: fc.array(aggregate, { minLength: 1, maxLength: 3 }),
      plain: fc.array(key, { minLength: 1, maxLength: 3 }),
      where: fc.option(typed.bool),
      having: fc.boolean(),
      order: fc.array(fc.tuple(fc.nat(5), fc.constantFrom('', ' DESC', ' DESC NULLS FIRST', ' ASC NULLS LAST')), { maxLength: 2 }),
      limit: fc.option(fc.nat(100_000)),
      offset: fc.option(fc.nat(1000)),
    })
    .map((r) => {
      const items = r.aggregated ? [...r.keys, ...r.aggs, `${r.aggs[0]} + 1`] : r.plain;
      const order = r.order.map(([i, d]) => `${(i % items.length) + 1}${d}`);
      return (
        `SELECT ${items.join(', ')} FROM events` +
        (r.where !== null ? ` WHERE ${r.where}` : '') +
        (r.aggregated && r.keys.length ? ` GROUP BY ${r.keys.join(', ')}` : '') +
        (r.aggregated && r.having ? ` HAVING ${r.aggs[0]} > 1 OR count(*) = 0` : '') +
        (order.length ? ` ORDER BY ${order.join(', ')}` : '') +
        (r.limit !== null ? ` LIMIT ${r.limit}` : '') +
        (r.offset !== null ? ` OFFSET ${r.offset}` : '')
      );
    });

  it('printing an analysed spec and analysing it again gives the same spec', () => {
    let analysed = 0;
    fc.assert(
      fc.property(fc.oneof(typedStatement, statement), (sql) => {
        let s: QuerySpec;
        try {
          s = analyse(parseSelect(sql), sql);
        } catch (e) {
          if (e instanceof SqlError) return;
          throw e;
        }
        analysed++;
        const printed = toSql(s);
        expect(strip(analyse(parseSelect(printed), printed))).toEqual(strip(s));
      }),
      { numRuns: 3000 },
    );
    expect(analysed).toBeGreaterThan(1000);
  });
});

// ---------------------------------------------------------------------------------------------
// The DuckDB dialect, run by DuckDB

describe('toSql for DuckDB', () => {
  const rows = [
    ['e1', 's1', 'order.placed', 'shop', null, '2026-01-01 10:00:00', 1, '{"amount": 10, "env": "prod", "tags": {"a": 1}}'],
    ['e2', 's1', 'order.placed', 'shop', 'x', '2026-01-01 11:30:00', 2, '{"amount": 2.5, "env": "dev"}'],
    ['e3', 's2', 'order.paid', 'shop', null, '2026-01-02 09:00:00', 3, '{"amount": "7", "env": "prod", "ok": true}'],
    ['e4', 's3', 'user.created', 'auth', null, '2026-01-03 00:00:00', 4, '{"env": null}'],
  ] as const;

  async function load() {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run(
      'CREATE TABLE t (id VARCHAR, stream VARCHAR, type VARCHAR, source VARCHAR, subject VARCHAR, time TIMESTAMP, received_at TIMESTAMP, shard INTEGER, seq BIGINT, version BIGINT, data VARCHAR)',
    );
    for (const [id, stream, type, source, subject, time, seq, data] of rows) {
      const q = (v: string | null) => (v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`);
      await c.run(
        `INSERT INTO t VALUES (${q(id)}, ${q(stream)}, ${q(type)}, ${q(source)}, ${q(subject)}, ${q(time)}, ${q(time)}, 0, ${seq}, 1, ${q(data)})`,
      );
    }
    return c;
  }

  async function run(sql: string): Promise<unknown[][]> {
    const c = await load();
    const spec = analyse(parseSelect(sql), sql);
    const r = await c.runAndReadAll(toSql(spec, { dialect: 'duckdb', from: 't' }));
    c.closeSync();
    return r.getRowsJS().map((row) => row.map((v) => (typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.toISOString() : v)));
  }

  it('runs grouped queries with typed paths', async () => {
    expect(
      await run(
        "SELECT type, count(*), sum(data.amount), count(DISTINCT stream) AS streams FROM events WHERE time >= '2026-01-01' AND data.env = 'prod' GROUP BY type ORDER BY 1",
      ),
    ).toEqual([
      ['order.paid', 1, null, 1],
      ['order.placed', 1, 10, 1],
    ]);
    expect(
      await run('SELECT data.env, count(*) AS n FROM events GROUP BY data.env HAVING count(*) >= 1 ORDER BY n DESC, 1 NULLS FIRST'),
    ).toEqual([
      ['prod', 2],
      [null, 1],
      ['dev', 1],
    ]);
    expect(await run("SELECT date_trunc('day', time) AS d, max(data.amount) FROM events GROUP BY d ORDER BY d DESC LIMIT 2")).toEqual([
      ['2026-01-03T00:00:00.000Z', null],
      ['2026-01-02T00:00:00.000Z', '7'], // max over an untyped path: the string "7" of e3
    ]);
  });

  it('runs plain queries, ORDER BY with an alias that shadows a column', async () => {
    expect(await run('SELECT stream AS type, type AS x FROM events WHERE data.ok OR seq IN (1, 2) ORDER BY type DESC, x')).toEqual([
      ['s2', 'order.paid'],
      ['s1', 'order.placed'],
      ['s1', 'order.placed'],
    ]);
    expect(
      await run("SELECT id, data.tags, coalesce(subject, 'none') FROM events WHERE data.amount BETWEEN 2 AND 10.0 ORDER BY id"),
    ).toEqual([
      ['e1', '{"a":1}', 'none'],
      ['e2', null, 'x'],
    ]);
  });

  it('DuckDB runs the printed SQL of random well-typed statements', async () => {
    const c = await load();
    let ran = 0;
    await fc.assert(
      fc.asyncProperty(typedStatement, async (sql) => {
        let spec: QuerySpec;
        try {
          spec = analyse(parseSelect(sql), sql);
        } catch (e) {
          if (e instanceof SqlError) return;
          throw e;
        }
        const duck = toSql(spec, { dialect: 'duckdb', from: 't' });
        try {
          await c.runAndReadAll(duck);
        } catch (e) {
          if (/Out of Range|Overflow/i.test(String(e))) return; // integer overflow: data, not syntax
          throw new Error(`${String(e)}\n${sql}\n${duck}`);
        }
        ran++;
      }),
      { numRuns: 300 },
    );
    c.closeSync();
    expect(ran).toBeGreaterThan(200);
  });
});
