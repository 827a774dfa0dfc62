// The mergeable aggregates: any split of the rows into partials, shipped as JSON and merged in any
// order or tree shape, gives the single-pass answer; exact aggregates equal DuckDB's on the same
// values; the sketches stay within their stated bounds.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AggregateCall, AggregateFn, Expr, Scalar, SqlType } from '../../src/engine/query/ast.js';
import {
  HLL_SPARSE_MAX,
  HLL_STD_ERROR,
  KLL_RANK_ERROR,
  accumulatorFromState,
  aggregateResultType,
  createAccumulator,
  fromBase64,
  toBase64,
  type Accumulator,
} from '../../src/engine/query/aggregates.js';
import { compareCodePoints } from '../../src/engine/parquet.js';
import { rng } from './query-fixtures.js';

const SPAN = { start: 0, end: 1 };
const ARG: Expr = { kind: 'path', path: ['x'], span: SPAN };

function call(fn: AggregateFn | 'count*', distinct = false, q?: number): AggregateCall {
  if (fn === 'count*') return { fn: 'count', arg: null, distinct: false };
  return q === undefined ? { fn, arg: ARG, distinct } : { fn, arg: ARG, distinct, q };
}

/** JSON round trip of a state, checked to be stable. */
function roundTrip(a: Accumulator): Accumulator {
  const json = JSON.stringify(a.state());
  const b = accumulatorFromState(JSON.parse(json));
  expect(JSON.stringify(b.state())).toBe(json);
  return b;
}

/**
 * Splits `values` over `parts` partials by `assign`, round-trips each state through JSON, and
 * merges them in the order and tree shape the `choices` stream dictates.
 */
function splitMerge(
  c: AggregateCall,
  t: SqlType,
  values: readonly Scalar[],
  assign: readonly number[],
  choices: readonly number[],
): Accumulator {
  const parts = Math.max(1, ...assign.map((x) => x + 1));
  const accs = Array.from({ length: parts }, () => createAccumulator(c, t));
  values.forEach((v, i) => accs[assign[i] ?? 0]!.add(v));
  let pool = accs.map(roundTrip);
  let k = 0;
  const next = () => choices[k++ % Math.max(1, choices.length)] ?? 0;
  while (pool.length > 1) {
    const i = next() % pool.length;
    const a = pool[i]!;
    pool = pool.filter((_, j) => j !== i);
    const j = next() % pool.length;
    const b = pool[j]!;
    pool = pool.filter((_, x) => x !== j);
    const [into, from] = next() % 2 ? [a, b] : [b, a];
    into.merge(from);
    pool.push(next() % 3 === 0 ? roundTrip(into) : into);
  }
  return pool[0]!;
}

function single(c: AggregateCall, t: SqlType, values: readonly Scalar[]): Accumulator {
  const a = createAccumulator(c, t);
  for (const v of values) a.add(v);
  return a;
}

/** DuckDB's quantile_disc on sorted values (0-based index max(1, n − ⌊n − n·q⌋) − 1). */
function quantileDisc(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  return sorted[Math.max(1, n - Math.floor(n - n * q)) - 1]!;
}

/** How far (in ranks, as a fraction of n) `v` is from the exact quantile_disc rank. */
function rankError(sorted: readonly number[], v: number, q: number): number {
  const n = sorted.length;
  const target = Math.max(1, n - Math.floor(n - n * q)) - 1;
  let lo = 0;
  while (lo < n && sorted[lo]! < v) lo++;
  let hi = lo;
  while (hi < n && sorted[hi]! === v) hi++;
  expect(hi).toBeGreaterThan(lo); // v is one of the inputs
  const d = target < lo ? lo - target : target >= hi ? target - hi + 1 : 0;
  return d / n;
}

// ---------------------------------------------------------------------------------------------
// Value generators
// ---------------------------------------------------------------------------------------------

const STR_ALPHABET = ['a', 'b', 'z', 'é', 'Ａ', '😀', '𝄞', '\u{10FFFF}', ' ', ''];
const strArb = fc.array(fc.constantFrom(...STR_ALPHABET), { maxLength: 3 }).map((xs) => xs.join(''));
const intArb = fc.oneof(fc.integer({ min: -20, max: 20 }), fc.integer(), fc.maxSafeInteger());
const doubleArb = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }),
  fc.integer({ min: -1000, max: 1000 }).map((x) => x / 8),
  fc.integer({ min: -100000, max: 100000 }).map((x) => x / 100),
  fc.constantFrom(0, -0, 1, 1.0, 0.1, 1e16, -1e16, 2 ** 53),
);
const jsonArb = fc.oneof(doubleArb, strArb, fc.boolean(), fc.constantFrom(1, '1', true, 'true'));

const TYPES: { t: SqlType; arb: fc.Arbitrary<Scalar> }[] = [
  { t: 'integer', arb: intArb },
  { t: 'double', arb: doubleArb },
  { t: 'string', arb: strArb },
  { t: 'boolean', arb: fc.boolean() },
  { t: 'timestamp', arb: fc.integer({ min: 0, max: 4102444800000 }) },
  { t: 'json', arb: jsonArb },
];

function callsFor(t: SqlType): AggregateCall[] {
  const fns: AggregateCall[] = [
    call('count*'),
    call('count'),
    call('count', true),
    call('min'),
    call('max'),
    call('approx_count_distinct'),
    call('sum'),
    call('sum', true),
    call('avg'),
    call('avg', true),
    call('approx_quantile', false, 0.5),
    call('approx_quantile', false, 0.9),
    call('approx_quantile', true, 0.1),
  ];
  return fns.filter((c) => {
    try {
      aggregateResultType(c, t);
      return true;
    } catch {
      return false;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe('merge: any split, any order, any tree shape', () => {
  for (const { t, arb } of TYPES) {
    it(`${t}: merged partials give the single-pass result; states round-trip through JSON`, () => {
      const calls = callsFor(t);
      fc.assert(
        fc.property(
          fc.array(fc.option(arb, { freq: 6 }), { maxLength: 150 }),
          fc.array(fc.nat(7), { maxLength: 150 }),
          fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
          (values, assign, choices) => {
            for (const c of calls) {
              const one = single(c, t, values);
              const merged = splitMerge(c, t, values, assign, choices);
              // Exact aggregates identically; HLL too; KLL is exact below k = 200 values.
              expect(Object.is(merged.result(), one.result()) || merged.result() === one.result(), `${c.fn} ${c.distinct}`).toBe(true);
              expect(roundTrip(one).result()).toEqual(one.result());
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it('typed-array entry points equal one-by-one adds (selection vectors, validity bitmaps with offsets)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(doubleArb, { freq: 4 }), { minLength: 1, maxLength: 120 }),
        fc.nat(7),
        fc.array(fc.boolean(), { maxLength: 120 }),
        (vals, offset, pick) => {
          const values = Float64Array.from(vals, (v) => v ?? 0);
          const valid = new Uint8Array((values.length + offset + 7) >> 3);
          vals.forEach((v, i) => {
            if (v !== null) valid[(i + offset) >> 3]! |= 1 << ((i + offset) & 7);
          });
          const rows = Int32Array.from(vals.map((_, i) => i).filter((i) => pick[i] ?? true));
          const chosen = [...rows].map((i) => vals[i]!);
          const toInt = (v: number) => Math.trunc(Math.max(-(2 ** 62), Math.min(2 ** 62, v))); // within int64
          const ints = BigInt64Array.from(vals, (v) => BigInt(toInt(v ?? 0)));
          const intChosen = [...rows].map((i) => (vals[i] === null ? null : toInt(vals[i]!)));
          for (const c of callsFor('double')) {
            const a = createAccumulator(c, 'double');
            a.addNumbers(values, valid, rows, offset);
            expect(a.result()).toEqual(single(c, 'double', chosen).result());
          }
          for (const c of callsFor('integer')) {
            const a = createAccumulator(c, 'integer');
            a.addNumbers(ints, valid, rows, offset);
            expect(a.result()).toEqual(single(c, 'integer', intChosen).result());
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('dictionary entry point equals one-by-one adds', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(strArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.option(fc.nat(), { freq: 5 }), { maxLength: 100 }),
        (dict, picks) => {
          const codes = Int32Array.from(picks, (p) => (p ?? 0) % dict.length);
          const valid = new Uint8Array((picks.length + 7) >> 3);
          picks.forEach((p, i) => {
            if (p !== null) valid[i >> 3]! |= 1 << (i & 7);
          });
          const vals = picks.map((p, i) => (p === null ? null : dict[codes[i]!]!));
          for (const c of callsFor('string')) {
            const a = createAccumulator(c, 'string');
            a.addDictionary(dict, codes, valid, null);
            expect(a.result()).toEqual(single(c, 'string', vals).result());
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the exact sum does not depend on order: a rearranged cancellation still sums exactly', () => {
    fc.assert(
      fc.property(fc.array(doubleArb, { maxLength: 60 }), fc.array(fc.nat(), { minLength: 1 }), (xs, choices) => {
        // x, −x pairs and a small remainder: the exact answer is the remainder, in any order.
        const values: Scalar[] = [...xs, ...xs.map((x) => -x), 0.5];
        const assign = values.map((_, i) => (choices[i % choices.length]! + i) % 5);
        expect(splitMerge(call('sum'), 'double', values, assign, choices).result()).toBe(0.5);
      }),
    );
  });
});

describe('semantics', () => {
  const run = (fn: AggregateFn | 'count*', t: SqlType, values: Scalar[], distinct = false, q?: number) =>
    single(call(fn, distinct, q), t, values).result();

  it('NULLs: ignored by all but count(*); empty inputs give NULL (count gives 0)', () => {
    expect(run('count*', 'integer', [null, 1, null])).toBe(3);
    expect(run('count', 'integer', [null, 1, null])).toBe(1);
    for (const fn of ['sum', 'avg', 'min', 'max', 'approx_quantile'] as const)
      expect(run(fn, 'double', [null, null], false, 0.5)).toBe(null);
    expect(run('count', 'double', [], true)).toBe(0);
    expect(run('approx_count_distinct', 'double', [null])).toBe(0);
  });

  it('integer sums are exact past 2^53: a number when safe, else a decimal string', () => {
    const a = createAccumulator(call('sum'), 'integer');
    a.addNumbers(new BigInt64Array([2n ** 62n, 2n ** 62n, 2n ** 62n, 7n]), null, null);
    expect(a.result()).toBe(String(3n * 2n ** 62n + 7n));
    expect(run('sum', 'integer', [Number.MAX_SAFE_INTEGER, 1, -1])).toBe(Number.MAX_SAFE_INTEGER);
    expect(run('sum', 'integer', [String(2n ** 63n - 1n), -1])).toBe(String(2n ** 63n - 2n));
    expect(run('max', 'integer', [String(2n ** 63n - 1n), 5])).toBe(String(2n ** 63n - 1n));
  });

  it('double sums are correctly rounded exact sums', () => {
    expect(run('sum', 'double', [1e16, 1, 1, -1e16])).toBe(2);
    expect(run('sum', 'double', Array(10).fill(0.1))).toBe(1);
    expect(run('sum', 'double', [1e308, 1e308, -1e308])).toBe(Infinity); // overflow is not undone
    expect(run('sum', 'double', [Infinity, -Infinity])).toBeNaN();
    const typed = (xs: number[]) => {
      const a = createAccumulator(call('sum'), 'double');
      a.addNumbers(Float64Array.from(xs), null, null);
      return a.result();
    };
    expect(typed([0.5, Infinity, 2])).toBe(Infinity);
    expect(typed([-Infinity, 0.1, Infinity])).toBeNaN();
    expect(typed([1e308, 0.5, 1e308])).toBe(Infinity);
    expect(typed([-1e308, 0.5, -1e308])).toBe(-Infinity);
    expect(typed([0.1, 0.2, 0.3, -0.6])).toBe(run('sum', 'double', [0.1, 0.2, 0.3, -0.6]));
  });

  it('count(DISTINCT) treats 1 and 1.0, 0 and −0, NaN and NaN as equal; json tags types', () => {
    expect(run('count', 'double', [1, 1.0, 0, -0, NaN, NaN], true)).toBe(3);
    expect(run('count', 'json', [1, '1', true, 'true', 1.0], true)).toBe(4);
    expect(run('approx_count_distinct', 'json', [1, '1', true, 'true', 1.0])).toBe(4);
  });

  it('json: sum/avg/quantile use the numbers only; min/max order false < true < numbers < strings', () => {
    expect(run('sum', 'json', [1, '2', true, 3.5])).toBe(4.5);
    expect(run('avg', 'json', [1, '2', true, 3])).toBe(2);
    expect(run('sum', 'json', ['x', false])).toBe(null);
    expect(run('min', 'json', ['a', 5, true, false])).toBe(false);
    expect(run('max', 'json', ['a', 5, true, '😀', 'Ａ'])).toBe('😀');
    expect(run('max', 'json', [5, true])).toBe(5);
  });

  it('strings compare by code point (as DuckDB), not by UTF-16 unit', () => {
    expect(run('max', 'string', ['a', '😀', 'Ａ'])).toBe('😀');
    expect(run('min', 'string', ['😀', 'Ａ'])).toBe('Ａ');
  });

  it('rejects aggregates that do not apply to the type', () => {
    expect(() => createAccumulator(call('sum'), 'string')).toThrow(/sum\(string\)/);
    expect(() => createAccumulator(call('avg'), 'boolean')).toThrow();
    expect(() => createAccumulator(call('approx_quantile', false, 1.5), 'double')).toThrow();
    expect(aggregateResultType(call('avg'), 'timestamp')).toBe('timestamp');
    expect(aggregateResultType(call('sum'), 'boolean')).toBe('integer');
  });

  it('malformed states are refused', () => {
    expect(() => accumulatorFromState({ f: 'sum', t: 'double', n: 1, p: ['x'] })).toThrow();
    expect(() => accumulatorFromState({ f: 'approx_count_distinct', t: 'double', r: 'AAAA' })).toThrow();
    expect(() => accumulatorFromState({ f: 'approx_quantile', t: 'double', q: 0.5, n: 3, r: 1, l: [[1, 2]] })).toThrow();
  });

  it('base64 round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        expect(fromBase64(toBase64(b))).toEqual(b);
      }),
    );
    expect(toBase64(new TextEncoder().encode('any carnal pleas'))).toBe('YW55IGNhcm5hbCBwbGVhcw==');
  });
});

describe('sketch bounds', () => {
  it(`HLL is exact up to ${HLL_SPARSE_MAX} distinct, then within 3σ (σ = ${(HLL_STD_ERROR * 100).toFixed(2)}%); merges identical in any order`, () => {
    const r = rng(7);
    for (const n of [1, 100, HLL_SPARSE_MAX, HLL_SPARSE_MAX + 1, 3000, 20000, 100000, 400000]) {
      const parts = Array.from({ length: 5 }, () => createAccumulator(call('approx_count_distinct'), 'double'));
      const all = createAccumulator(call('approx_count_distinct'), 'double');
      const base = r() * 1e6;
      const values = new Float64Array(n * 2);
      for (let i = 0; i < n * 2; i++) values[i] = base + (i % n) * 0.37; // each value twice
      all.addNumbers(values, null, null);
      for (let i = 0; i < values.length; i++) parts[Math.floor(r() * 5)]!.add(values[i]!);
      const est = all.result() as number;
      if (n <= HLL_SPARSE_MAX) expect(est).toBe(n);
      else expect(Math.abs(est - n) / n).toBeLessThan(3 * HLL_STD_ERROR);
      const a = parts.map((p) => accumulatorFromState(JSON.parse(JSON.stringify(p.state()))));
      const left = a.reduce((x, y) => (x.merge(y), x));
      const b = parts.map((p) => accumulatorFromState(p.state())).reverse();
      b[0]!.merge(b[1]!);
      b[2]!.merge(b[3]!);
      b[2]!.merge(b[4]!);
      b[2]!.merge(b[0]!);
      expect(left.result()).toBe(est);
      expect(b[2]!.result()).toBe(est);
      expect(JSON.stringify(all.state()).length).toBeLessThan(17000);
    }
  });

  it('HLL error over many random sets stays near its standard error', () => {
    const r = rng(11);
    const errors: number[] = [];
    for (let trial = 0; trial < 40; trial++) {
      const n = 5000 + Math.floor(r() * 50000);
      const a = createAccumulator(call('approx_count_distinct'), 'string');
      const salt = r().toString(36);
      for (let i = 0; i < n; i++) a.add(`${salt}-${i}`);
      errors.push(((a.result() as number) - n) / n);
    }
    const rms = Math.sqrt(errors.reduce((s, e) => s + e * e, 0) / errors.length);
    expect(rms).toBeLessThan(1.5 * HLL_STD_ERROR);
    expect(Math.max(...errors.map(Math.abs))).toBeLessThan(3.5 * HLL_STD_ERROR);
  });

  it(`KLL: rank error within ${KLL_RANK_ERROR * 100}% over merges of many partials; exact below k`, () => {
    const r = rng(3);
    for (const [n, dist] of [
      [150, 'uniform'],
      [5000, 'uniform'],
      [100000, 'lognormal'],
      [60000, 'few'],
      [30000, 'sorted'],
    ] as const) {
      const values = Array.from({ length: n }, (_, i) => {
        if (dist === 'uniform') return r() * 1000 - 500;
        if (dist === 'few') return Math.floor(r() * 7);
        if (dist === 'sorted') return i;
        return Math.exp(3 * Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r()));
      });
      const sorted = [...values].sort((a, b) => a - b);
      for (const q of [0, 0.01, 0.25, 0.5, 0.9, 0.99, 1]) {
        const assign = values.map(() => Math.floor(r() * 16));
        const choices = Array.from({ length: 64 }, () => Math.floor(r() * 1000));
        const merged = splitMerge(call('approx_quantile', false, q), 'double', values, assign, choices).result() as number;
        const one = single(call('approx_quantile', false, q), 'double', values).result() as number;
        if (n <= 200) {
          expect(merged).toBe(quantileDisc(sorted, q));
          expect(one).toBe(quantileDisc(sorted, q));
        }
        expect(rankError(sorted, merged, q)).toBeLessThanOrEqual(KLL_RANK_ERROR);
        expect(rankError(sorted, one, q)).toBeLessThanOrEqual(KLL_RANK_ERROR);
      }
      const a = createAccumulator(call('approx_quantile', false, 0.5), 'double');
      for (const v of values) a.add(v);
      expect(JSON.stringify(a.state()).length).toBeLessThan(40000);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Differential against DuckDB
// ---------------------------------------------------------------------------------------------

describe('against DuckDB 1.5', () => {
  let instance: DuckDBInstance;
  let db: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    db = await instance.connect();
  });
  afterAll(() => {
    db?.closeSync();
    instance?.closeSync();
  });

  async function one(sql: string): Promise<unknown[]> {
    const r = await db.runAndReadAll(sql);
    return r.getRows()[0]!;
  }

  /** Our integer results (number or decimal string) as exact bigints. */
  const big = (v: Scalar) => (v === null ? null : BigInt(String(v)));

  interface Table {
    ints: (bigint | null)[];
    doubles: (number | null)[];
    exact: (number | null)[];
    strs: (string | null)[];
    bools: (boolean | null)[];
  }

  function generate(n: number, seed: number): Table {
    const r = rng(seed);
    const nul = () => r() < 0.1;
    const ints = Array.from({ length: n }, () => {
      if (nul()) return null;
      const k = r();
      if (k < 0.5) return BigInt(Math.floor(r() * 2001) - 1000);
      if (k < 0.8) return BigInt(Math.floor((r() - 0.5) * 2 ** 32));
      if (k < 0.95) return BigInt(Math.floor((r() - 0.5) * 2 ** 53));
      return BigInt.asIntN(64, (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32))) / 4n;
    });
    const doubles = Array.from({ length: n }, () => {
      if (nul()) return null;
      const k = r();
      if (k < 0.4) return (r() - 0.5) * 200;
      if (k < 0.6) return Math.round((r() - 0.5) * 1e6) / 100;
      if (k < 0.7) return (r() - 0.5) * 10 ** Math.floor(r() * 300);
      if (k < 0.8) return (r() - 0.5) * 10 ** -Math.floor(r() * 300);
      return Math.floor((r() - 0.5) * 1e9);
    });
    const exact = Array.from({ length: n }, () => (nul() ? null : Math.floor((r() - 0.5) * 2 ** 20) / 64));
    const strs = Array.from({ length: n }, () => {
      if (nul()) return null;
      const len = Math.floor(r() * 4);
      let s = '';
      for (let i = 0; i < len; i++) s += STR_ALPHABET[Math.floor(r() * STR_ALPHABET.length)]!;
      return s;
    });
    const bools = Array.from({ length: n }, () => (nul() ? null : r() < 0.3));
    return { ints, doubles, exact, strs, bools };
  }

  async function load(t: Table): Promise<void> {
    await db.run('CREATE OR REPLACE TABLE t (i BIGINT, d DOUBLE, e DOUBLE, s VARCHAR, b BOOLEAN)');
    const app = await db.createAppender('t');
    for (let k = 0; k < t.ints.length; k++) {
      const i = t.ints[k]!;
      if (i === null) app.appendNull();
      else app.appendBigInt(i);
      for (const v of [t.doubles[k]!, t.exact[k]!]) {
        if (v === null) app.appendNull();
        else app.appendDouble(v);
      }
      const s = t.strs[k]!;
      if (s === null) app.appendNull();
      else app.appendVarchar(s);
      const b = t.bools[k]!;
      if (b === null) app.appendNull();
      else app.appendBoolean(b);
      app.endRow();
    }
    app.closeSync();
  }

  /** Columns as the executor would hand them over: typed arrays, validity bitmaps, a dictionary. */
  function columns(t: Table) {
    const n = t.ints.length;
    const bitmap = (vals: readonly unknown[]) => {
      const v = new Uint8Array((n + 7) >> 3);
      vals.forEach((x, i) => {
        if (x !== null) v[i >> 3]! |= 1 << (i & 7);
      });
      return v;
    };
    const dict = [...new Set(t.strs.filter((s): s is string => s !== null))];
    const codeOf = new Map(dict.map((s, i) => [s, i]));
    return {
      i: { values: BigInt64Array.from(t.ints, (x) => x ?? 0n), valid: bitmap(t.ints) },
      d: { values: Float64Array.from(t.doubles, (x) => x ?? 0), valid: bitmap(t.doubles) },
      e: { values: Float64Array.from(t.exact, (x) => x ?? 0), valid: bitmap(t.exact) },
      s: { dict, codes: Int32Array.from(t.strs, (x) => (x === null ? 0 : codeOf.get(x)!)), valid: bitmap(t.strs) },
    };
  }

  /** Our answer over `parts` partials (selection vectors over the typed columns), merged via JSON. */
  function ours(t: Table, col: 'i' | 'd' | 'e' | 's' | 'b', c: AggregateCall, parts: number, seed: number): Scalar {
    const r = rng(seed);
    const cols = columns(t);
    const n = t.ints.length;
    const assign = Array.from({ length: n }, () => Math.floor(r() * parts));
    const type: SqlType = col === 'i' ? 'integer' : col === 's' ? 'string' : col === 'b' ? 'boolean' : 'double';
    const accs = Array.from({ length: parts }, (_, p) => {
      const a = createAccumulator(c, type);
      const rows = Int32Array.from(assign.map((x, i) => (x === p ? i : -1)).filter((i) => i >= 0));
      if (col === 'i' || col === 'd' || col === 'e') a.addNumbers(cols[col].values, cols[col].valid, rows);
      else if (col === 's') a.addDictionary(cols.s.dict, cols.s.codes, cols.s.valid, rows);
      else for (const i of rows) a.add(t.bools[i]!);
      return accumulatorFromState(JSON.parse(JSON.stringify(a.state())));
    });
    while (accs.length > 1) {
      const x = accs.splice(Math.floor(r() * accs.length), 1)[0]!;
      accs[Math.floor(r() * accs.length)]!.merge(x);
    }
    return accs[0]!.result();
  }

  for (const [n, seed] of [
    [1, 1],
    [37, 2],
    [1000, 3],
    [20000, 4],
  ] as const) {
    it(`exact aggregates equal DuckDB's (n = ${n})`, async () => {
      const t = generate(n, seed);
      await load(t);
      for (const col of ['i', 'd', 'e', 's', 'b'] as const) {
        const [cs, cx, cd] = await one(`SELECT count(*), count(${col}), count(DISTINCT ${col}) FROM t`);
        expect(ours(t, col, call('count*'), 3, seed)).toBe(Number(cs));
        expect(ours(t, col, call('count'), 4, seed)).toBe(Number(cx));
        expect(ours(t, col, call('count', true), 5, seed)).toBe(Number(cd));
        const [mn, mx] = await one(`SELECT min(${col}), max(${col}) FROM t`);
        const norm = (v: unknown) => (typeof v === 'bigint' ? big(Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v);
        const mine = [ours(t, col, call('min'), 6, seed), ours(t, col, call('max'), 2, seed)];
        if (col === 'i') expect(mine.map(big)).toEqual([mn, mx].map(norm));
        else expect(mine).toEqual([mn, mx]);
      }
      // Integer sum, avg and DISTINCT forms: exactly.
      const [si, ai, sdi] = await one('SELECT sum(i), avg(i), sum(DISTINCT i) FROM t');
      expect(big(ours(t, 'i', call('sum'), 7, seed))).toBe(si);
      expect(ours(t, 'i', call('avg'), 7, seed)).toBe(ai);
      expect(big(ours(t, 'i', call('sum', true), 3, seed))).toBe(sdi);
      const [sb] = await one('SELECT sum(b) FROM t');
      expect(big(ours(t, 'b', call('sum'), 2, seed))).toBe(sb);
      // Doubles whose partial sums are all exact: identical.
      const [se, ae] = await one('SELECT sum(e), avg(e) FROM t');
      expect(ours(t, 'e', call('sum'), 5, seed)).toBe(se);
      expect(ours(t, 'e', call('avg'), 5, seed)).toBe(ae);
      // General doubles: DuckDB sums naively in scan order; ours is the correctly rounded sum.
      const [sd, ad, fd, absd, cntd] = (await one('SELECT sum(d), avg(d), fsum(d), sum(abs(d)), count(d) FROM t')) as (
        number | bigint | null
      )[];
      const mySum = ours(t, 'd', call('sum'), 6, seed) as number | null;
      const myAvg = ours(t, 'd', call('avg'), 6, seed) as number | null;
      if (cntd === 0n) expect([mySum, myAvg]).toEqual([null, null]);
      else {
        const bound = Number(cntd) * 2 ** -53 * (absd as number) + Number.EPSILON * Math.abs(mySum!);
        expect(Math.abs(mySum! - (sd as number))).toBeLessThanOrEqual(bound);
        expect(Math.abs(mySum! - (fd as number))).toBeLessThanOrEqual(bound);
        expect(Math.abs(myAvg! - (ad as number))).toBeLessThanOrEqual(bound / Number(cntd) + Number.EPSILON * Math.abs(myAvg!));
      }
    });
  }

  it('integer averages past 2^53 are rounded exactly as DuckDB rounds them', async () => {
    const r = rng(99);
    for (let trial = 0; trial < 30; trial++) {
      const n = 1 + Math.floor(r() * 9);
      const vals = Array.from({ length: n }, () =>
        BigInt.asIntN(64, (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32))),
      );
      const [avg] = await one(`SELECT avg(x) FROM (VALUES ${vals.map((v) => `(${v}::BIGINT)`).join(',')}) v(x)`);
      const a = createAccumulator(call('avg'), 'integer');
      a.addNumbers(BigInt64Array.from(vals), null, null);
      expect(a.result()).toBe(avg);
    }
  });

  it('approx_count_distinct within 3σ of DuckDB count(DISTINCT); approx_quantile within its rank bound of quantile_disc', async () => {
    for (const [n, distinct, seed] of [
      [500, 400, 21],
      [30000, 2500, 22],
      [120000, 90000, 23],
    ] as const) {
      const r = rng(seed);
      await db.run('CREATE OR REPLACE TABLE h (x DOUBLE, s VARCHAR)');
      const app = await db.createAppender('h');
      const xs: number[] = [];
      for (let i = 0; i < n; i++) {
        const x = Math.floor(r() * distinct) * 1.5 - 1000;
        xs.push(x);
        app.appendDouble(x);
        app.appendVarchar(`k${Math.floor(r() * distinct)}😀`);
        app.endRow();
      }
      app.closeSync();
      const [cdx, cds] = await one('SELECT count(DISTINCT x), count(DISTINCT s) FROM h');
      const strings = (await (await db.runAndReadAll('SELECT s FROM h')).getColumns())[0] as string[];
      const hx = createAccumulator(call('approx_count_distinct'), 'double');
      hx.addNumbers(Float64Array.from(xs), null, null);
      const hs = createAccumulator(call('approx_count_distinct'), 'string');
      for (const s of strings) hs.add(s);
      for (const [est, exact] of [
        [hx.result(), Number(cdx)],
        [hs.result(), Number(cds)],
      ] as const) {
        if (exact <= HLL_SPARSE_MAX) expect(est).toBe(exact);
        else expect(Math.abs((est as number) - exact) / exact).toBeLessThan(3 * HLL_STD_ERROR);
      }
      const sorted = [...xs].sort((a, b) => a - b);
      for (const q of [0, 0.05, 0.5, 0.75, 0.95, 1]) {
        const [disc] = await one(`SELECT quantile_disc(x, ${q}::DOUBLE) FROM h`);
        expect(quantileDisc(sorted, q)).toBe(disc);
        const k = createAccumulator(call('approx_quantile', false, q), 'double');
        k.addNumbers(Float64Array.from(xs), null, null);
        expect(rankError(sorted, k.result() as number, q)).toBeLessThanOrEqual(KLL_RANK_ERROR);
      }
    }
  });

  it('string min/max/count(DISTINCT) agree with DuckDB on code point order', async () => {
    const words = ['a', 'Ａ', '😀', '𝄞', 'z', 'é', '\u{FFFF}', '\u{10000}'];
    const set = [...new Set(words)].sort(compareCodePoints);
    const [mn, mx] = await one(`SELECT min(x), max(x) FROM (VALUES ${words.map((w) => `('${w}')`).join(',')}) v(x)`);
    expect([run1('min', words), run1('max', words)]).toEqual([mn, mx]);
    expect([set[0], set[set.length - 1]]).toEqual([mn, mx]);
    function run1(fn: 'min' | 'max', ws: string[]) {
      return single(call(fn), 'string', ws).result();
    }
  });
});
