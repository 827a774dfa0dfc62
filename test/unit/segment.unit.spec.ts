import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeRowSegment,
  encodeRowSegment,
  gunzip,
  gzip,
  rowSegmentKey,
  segmentChecksum,
  SegmentError,
  type MasterRow,
} from '../../src/engine/segment.js';

const row = (seq: number, over: Partial<MasterRow> = {}): MasterRow => ({
  seq,
  id: `id-${seq}`,
  stream: 'post-1',
  version: seq,
  type: 'post.liked',
  source: null,
  subject: null,
  time: 1_700_000_000_000 + seq,
  receivedAt: 1_700_000_000_500 + seq,
  data: JSON.stringify({ n: seq, by: { name: 'ädа 😀' } }),
  ...over,
});

describe('row segments', () => {
  it('round-trip any gap-free range of events exactly', async () => {
    const arbRow = fc.record({
      id: fc.string({ minLength: 1, maxLength: 40 }),
      stream: fc.string({ minLength: 1, maxLength: 40 }),
      version: fc.integer({ min: 1, max: 1e9 }),
      type: fc.string({ minLength: 1 }),
      source: fc.option(fc.string()),
      subject: fc.option(fc.string()),
      time: fc.integer({ min: 0, max: 2 ** 47 }),
      receivedAt: fc.integer({ min: 0, max: 2 ** 47 }),
      data: fc.jsonValue().map((v) => JSON.stringify(v)),
    });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1e12 }), fc.array(arbRow, { minLength: 1, maxLength: 20 }), async (first, parts) => {
        const rows = parts.map((p, i) => ({ ...p, seq: first + i }));
        const text = encodeRowSegment('acme', 3, rows);
        const { header, rows: back } = decodeRowSegment(await gunzip(await gzip(text)));
        expect(header).toEqual({
          format: 'esr1',
          tenant: 'acme',
          shard: 3,
          firstSeq: first,
          lastSeq: first + rows.length - 1,
          count: rows.length,
        });
        expect(back).toEqual(rows);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a range with a gap', () => {
    expect(() => encodeRowSegment('t', 0, [row(5), row(7)])).toThrow(/row 1 has seq 7, expected 6/);
  });

  it('detects truncation and tampering, naming the numbers', () => {
    const text = encodeRowSegment('t', 0, [row(1), row(2), row(3)]);
    const lines = text.split('\n');
    expect(() => decodeRowSegment(lines.slice(0, 3).join('\n'))).toThrow(/says 3 rows, body has 2/);
    expect(() => decodeRowSegment([lines[0], lines[1], lines[3], lines[2]].join('\n'))).toThrow(/row 1 has seq 3, expected 2/);
    expect(() => decodeRowSegment('{"format":"other"}')).toThrow(SegmentError);
  });

  it('has a stable checksum and deterministic, seq-ordered keys', async () => {
    const text = encodeRowSegment('t', 0, [row(1)]);
    expect(await segmentChecksum(text)).toBe(await segmentChecksum(encodeRowSegment('t', 0, [row(1)])));
    expect(await segmentChecksum(text)).toMatch(/^[0-9a-f]{64}$/);
    expect(rowSegmentKey('acme corp', 2, 42)).toBe('master/tenant=acme%20corp/shard=2/0000000000000042.esr1.gz');
    expect(rowSegmentKey('t', 0, 9) < rowSegmentKey('t', 0, 10)).toBe(true);
  });
});

describe('exact data', () => {
  it('keeps integers beyond 2^53 and the data text exactly as written', () => {
    const data = '{"id":12345678901234567890123,"n":1.50,"s":"\\u00e9"}';
    const text = encodeRowSegment('t', 0, [
      { seq: 1, id: 'a', stream: 's', version: 1, type: 't', source: null, subject: null, time: 1, receivedAt: 2, data },
    ]);
    expect(decodeRowSegment(text).rows[0]!.data).toBe(data);
  });
});
