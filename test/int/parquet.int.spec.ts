// The Parquet codec inside workerd: the imported .wasm initialises parquet-wasm, and Arrow data is
// built and read back without the code generation that workerd forbids.
import { vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { decodeParquet, encodeParquet, type ReplicaRow } from '../../src/engine/parquet.js';
import { ensureParquet } from '../../src/workers/wasm.js';

// More rows than one decode read (10,000), so that chunked reading runs here too.
const rows: ReplicaRow[] = Array.from({ length: 12_500 }, (_, i) => ({
  seq: 1_000 + i,
  id: `evt-${i}`,
  stream: `post-${i % 17}`,
  version: 1 + Math.floor(i / 17),
  type: ['post.created', 'post.liked', 'post.commented'][i % 3]!,
  source: i % 4 === 0 ? null : 'https://social.example/api',
  subject: i % 5 === 0 ? `sub-ü-${i % 3}` : null,
  time: Date.UTC(2026, 10, 1) + i * 1_000,
  receivedAt: Date.UTC(2026, 10, 1) + i * 1_000 + 37,
  data: JSON.stringify({ likes: i % 50, user: { name: `u${i % 9}`, verified: i % 2 === 0 }, text: `héllo 😀 ${i}`, tags: ['a', 'b'] }),
  shard: 3,
}));

/**
 * Runs `fn` with `new Function` and `eval` refused, as a deployed Worker refuses them. The Vitest
 * pool itself allows code generation (its module runner needs it), so without this a use of
 * apache-arrow's builders would pass here and fail in production.
 */
function withoutCodegen<T>(fn: () => T): T {
  const g = globalThis as { Function: FunctionConstructor; eval: typeof eval };
  const saved = { Function: g.Function, eval: g.eval };
  const refuse = () => {
    throw new EvalError('Code generation from strings disallowed for this context');
  };
  g.Function = new Proxy(saved.Function, { construct: refuse, apply: refuse });
  g.eval = refuse as typeof eval;
  try {
    return fn();
  } finally {
    g.Function = saved.Function;
    g.eval = saved.eval;
  }
}

describe('parquet codec in workerd', () => {
  it('refuses code generation inside the guard, as production does', () => {
    expect(() => withoutCodegen(() => vectorFromArray(['a', 'b']))).toThrow(/Code generation/);
  });

  it('is initialised from the imported .wasm, once', () => {
    expect(() => {
      ensureParquet();
      ensureParquet();
    }).not.toThrow();
  });

  it('encodes rows with shredded columns and decodes them back exactly', () => {
    ensureParquet();
    const encoded = withoutCodegen(() => encodeParquet(rows, { rowGroupSize: 5_000 }));
    expect(encoded.rows).toBe(rows.length);
    expect(encoded.rowGroups).toBe(3);
    expect(encoded.shredded).toEqual([
      { name: 'data.likes', path: ['likes'], type: 'double' },
      { name: 'data.user.name', path: ['user', 'name'], type: 'string' },
      { name: 'data.user.verified', path: ['user', 'verified'], type: 'boolean' },
    ]);
    expect(encoded.stats.seq).toEqual({ min: 1_000, max: 13_499, nulls: 0 });
    expect(encoded.stats['data.likes']).toEqual({ min: 0, max: 49, nulls: 0 });
    // A Parquet file: "PAR1" at both ends.
    const magic = (at: number) => String.fromCharCode(...encoded.bytes.subarray(at, at + 4));
    expect([magic(0), magic(encoded.bytes.length - 4)]).toEqual(['PAR1', 'PAR1']);

    expect(withoutCodegen(() => decodeParquet(encoded.bytes))).toEqual(rows);
  });
});
