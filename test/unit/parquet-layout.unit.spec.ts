// Range reads of replica files: the layout recorded at write time says where each column chunk
// lies; a sparse copy holding only the ranges a read needs decodes to exactly what the whole file does.
import { tableFromIPC } from 'apache-arrow';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { ParquetFile } from 'parquet-wasm/esm';
import { describe, expect, it } from 'vitest';
import { encodeParquet, initParquet, layoutRanges, parquetLayout, sparseFile } from '../../src/engine/parquet.js';
import { generate } from './query-fixtures.js';

initParquet(readFileSync(new URL('../../node_modules/parquet-wasm/esm/parquet_wasm_bg.wasm', import.meta.url)));

async function read(bytes: Uint8Array, columns: string[], rowGroups: number[]) {
  const file = await ParquetFile.fromFile(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const wasm = await Promise.race([
      file.read({ columns, rowGroups }),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`read of ${columns} in ${rowGroups} hangs`)), 3000))),
    ]).finally(() => clearTimeout(timer));
    const table = tableFromIPC(wasm.intoIPCStream());
    return table.toArray().map((r) => JSON.stringify(r.toJSON(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  } finally {
    try {
      file.free();
    } catch {
      // still borrowed by a read that hung; the error above says which
    }
  }
}

describe('parquet layout and range reads', () => {
  it(
    'finds every column chunk, and a sparse file of the needed ranges reads the same as the whole file',
    { timeout: 120_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 3000 }),
          fc.integer({ min: 100, max: 1500 }),
          fc.integer({ min: 1, max: 1000 }),
          fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
          fc.array(fc.nat(), { maxLength: 3 }),
          async (rows, rowGroupSize, seed, columnPicks, groupPicks) => {
            const encoded = encodeParquet(generate(rows, seed, 3), { rowGroupSize });
            const layout = await parquetLayout(encoded.bytes);
            expect(layout).not.toBeNull();
            expect(layout!.chunks).toHaveLength(encoded.rowGroups);
            expect(layout!.size).toBe(encoded.bytes.byteLength);
            const columns = [...new Set(columnPicks.map((p) => layout!.columns[p % layout!.columns.length]!))];
            const groups = [...new Set(groupPicks.map((p) => p % encoded.rowGroups))].sort((a, b) => a - b);
            const rowGroups = groups.length > 0 ? groups : Array.from({ length: encoded.rowGroups }, (_, i) => i);
            const ranges = layoutRanges(layout!, columns, groups.length > 0 ? groups : null)!;
            const sparse = sparseFile(
              layout!.size,
              ranges.map(([offset, length]) => ({ offset, bytes: encoded.bytes.subarray(offset, offset + length) })),
            );
            expect(await read(sparse, columns, rowGroups)).toEqual(await read(encoded.bytes, columns, rowGroups));
            // Reading a narrow column of a few row groups fetches a small part of the file.
            if (!columns.includes('data') && !columns.includes('id') && encoded.bytes.byteLength > 20_000) {
              expect(ranges.reduce((n, [, l]) => n + l, 0)).toBeLessThan(encoded.bytes.byteLength / 2);
            }
          },
        ),
        { numRuns: 40 },
      );
    },
  );

  it('refuses columns the file does not have', async () => {
    const encoded = encodeParquet(generate(50, 1, 0));
    const layout = (await parquetLayout(encoded.bytes))!;
    expect(layoutRanges(layout, ['nope'], null)).toBeNull();
    expect(layoutRanges(layout, ['type'], [5])).toBeNull();
  });
});
