// Range reads of replica files: the layout recorded at write time says where each column chunk
// lies; a sparse copy holding only the ranges a read needs decodes to exactly what the whole file does.
import { tableFromIPC } from 'apache-arrow';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { ParquetFile } from 'parquet-wasm/esm';
import { describe, expect, it } from 'vitest';
import { encodeParquet, initParquet, layoutRanges, parquetLayout, fileOfRanges } from '../../src/engine/parquet.js';
import { generate } from './query-fixtures.js';

initParquet(readFileSync(new URL('../../node_modules/parquet-wasm/esm/parquet_wasm_bg.wasm', import.meta.url)));

async function read(bytes: Uint8Array | Blob, columns: string[], rowGroups: number[]) {
  const file = await ParquetFile.fromFile(bytes instanceof Uint8Array ? new Blob([bytes as Uint8Array<ArrayBuffer>]) : bytes);
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
    'finds every column chunk, and a file of only the needed ranges (near ones read as one) reads the same as the whole file',
    { timeout: 120_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 3000 }),
          fc.integer({ min: 100, max: 1500 }),
          fc.integer({ min: 1, max: 1000 }),
          fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
          fc.array(fc.nat(), { maxLength: 3 }),
          fc.constantFrom(0, 0, 100, 4096, 1 << 20),
          async (rows, rowGroupSize, seed, columnPicks, groupPicks, gap) => {
            const encoded = encodeParquet(generate(rows, seed, 3), { rowGroupSize });
            const layout = await parquetLayout(encoded.bytes);
            expect(layout).not.toBeNull();
            expect(layout!.chunks).toHaveLength(encoded.rowGroups);
            expect(layout!.size).toBe(encoded.bytes.byteLength);
            const columns = [...new Set(columnPicks.map((p) => layout!.columns[p % layout!.columns.length]!))];
            const groups = [...new Set(groupPicks.map((p) => p % encoded.rowGroups))].sort((a, b) => a - b);
            const rowGroups = groups.length > 0 ? groups : Array.from({ length: encoded.rowGroups }, (_, i) => i);
            const ranges = layoutRanges(layout!, columns, groups.length > 0 ? groups : null, gap)!;
            // Sorted, apart by more than the gap, inside the file, ending with the footer.
            ranges.forEach(([offset, length], i) => {
              expect(length).toBeGreaterThan(0);
              if (i > 0) expect(offset).toBeGreaterThan(ranges[i - 1]![0] + ranges[i - 1]![1] + gap);
            });
            expect(ranges.at(-1)![0] + ranges.at(-1)![1]).toBe(layout!.size);
            const sparse = fileOfRanges(
              layout!.size,
              ranges.map(([offset, length]) => ({ offset, bytes: encoded.bytes.subarray(offset, offset + length) })),
            );
            expect(await read(sparse, columns, rowGroups)).toEqual(await read(encoded.bytes, columns, rowGroups));
            // Reading a narrow column of a few row groups fetches a small part of the file.
            if (gap === 0 && !columns.includes('data') && !columns.includes('id') && encoded.bytes.byteLength > 20_000) {
              expect(ranges.reduce((n, [, l]) => n + l, 0)).toBeLessThan(encoded.bytes.byteLength / 2);
            }
          },
        ),
        { numRuns: 40 },
      );
    },
  );

  it('reads ranges of a file of parts as the whole file would, zeros where nothing was read', async () => {
    const whole = Uint8Array.from({ length: 100 }, (_, i) => i + 1);
    const file = fileOfRanges(100, [
      { offset: 60, bytes: whole.slice(60, 90) },
      { offset: 10, bytes: whole.slice(10, 40) },
    ]);
    const bytes = async (start?: number, end?: number) => [...new Uint8Array(await file.slice(start, end).arrayBuffer())];
    const expected = (start: number, end: number) =>
      [...whole.slice(start, end)].map((v, i) => ((start + i >= 10 && start + i < 40) || (start + i >= 60 && start + i < 90) ? v : 0));
    expect(file.size).toBe(100);
    expect(await bytes(12, 20)).toEqual(expected(12, 20)); // inside one part
    expect(await bytes(60, 90)).toEqual(expected(60, 90)); // exactly one part
    expect(await bytes(30, 70)).toEqual(expected(30, 70)); // across two parts and the gap
    expect(await bytes(-20)).toEqual(expected(80, 100)); // from the end, as Blob.slice
    expect(await bytes(95, 200)).toEqual(expected(95, 100));
    expect(await bytes()).toEqual(expected(0, 100));
    expect(file.slice(50, 40).size).toBe(0);
    // Parts that are Node Buffers (a small one is a view into a shared pool): a range is a copy of
    // just that range (Buffer#slice would be a view of the whole pool).
    const pooled = fileOfRanges(100, [{ offset: 10, bytes: Buffer.from(whole.slice(10, 40)) }]);
    expect([...new Uint8Array(await pooled.slice(12, 20).arrayBuffer())]).toEqual(expected(12, 20));
    expect([...new Uint8Array(await pooled.slice(10, 40).arrayBuffer())]).toEqual(expected(10, 40));
  });

  it('refuses columns the file does not have', async () => {
    const encoded = encodeParquet(generate(50, 1, 0));
    const layout = (await parquetLayout(encoded.bytes))!;
    expect(layoutRanges(layout, ['nope'], null)).toBeNull();
    expect(layoutRanges(layout, ['type'], [5])).toBeNull();
  });
});
