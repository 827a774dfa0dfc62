import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planAppend, type AppendInput, type StoredPosition, type StreamHead } from '../../src/engine/append.js';
import type { PreparedEvent } from '../../src/engine/envelope.js';
import { ANY, exactly, NO_STREAM, STREAM_EXISTS, type ExpectedVersion } from '../../src/engine/version.js';

const ev = (id: string, stream = 's'): PreparedEvent => ({
  key: id,
  id,
  stream,
  type: 't',
  source: null,
  subject: null,
  time: 0,
  data: 'null',
});

/** A shard reduced to what planAppend needs, applying plans the way the shard object does. */
class ModelShard {
  stored = new Map<string, StoredPosition>();
  heads = new Map<string, StreamHead>();
  log: { seq: number; key: string; stream: string; version: number }[] = [];
  nextSeq = 1;
  nextStreamNo = 1;

  append(events: PreparedEvent[], expected: ExpectedVersion = ANY) {
    const keys = new Set(events.map((e) => e.key));
    const streams = new Set(events.map((e) => e.stream));
    const input: AppendInput = {
      events,
      expected,
      stored: new Map([...this.stored].filter(([k]) => keys.has(k))),
      heads: new Map([...this.heads].filter(([s]) => streams.has(s))),
      nextSeq: this.nextSeq,
      nextStreamNo: this.nextStreamNo,
    };
    const plan = planAppend(input);
    if (!plan.ok) return plan;
    for (const r of plan.rows) {
      this.stored.set(r.event.key, { seq: r.seq, stream: r.event.stream, version: r.version });
      this.log.push({ seq: r.seq, key: r.event.key, stream: r.event.stream, version: r.version });
    }
    for (const h of plan.heads) this.heads.set(h.stream, { streamNo: h.streamNo, version: h.version });
    this.nextSeq = plan.nextSeq;
    this.nextStreamNo = plan.nextStreamNo;
    return plan;
  }
}

describe('planAppend', () => {
  it('assigns consecutive seqs and per-stream versions from 1', () => {
    const shard = new ModelShard();
    const plan = shard.append([ev('a', 'x'), ev('b', 'y'), ev('c', 'x')]);
    expect(plan.ok && plan.positions.map((p) => [p.seq, p.stream, p.version])).toEqual([
      [1, 'x', 1],
      [2, 'y', 1],
      [3, 'x', 2],
    ]);
  });

  it('answers a repeated id with the original position, within a request and across requests', () => {
    const shard = new ModelShard();
    shard.append([ev('a')]);
    const plan = shard.append([ev('b'), ev('a'), ev('b')]);
    expect(plan.ok && plan.positions).toEqual([
      { id: 'b', seq: 2, stream: 's', version: 2, duplicate: false },
      { id: 'a', seq: 1, stream: 's', version: 1, duplicate: true },
      { id: 'b', seq: 2, stream: 's', version: 2, duplicate: true },
    ]);
    expect(shard.log).toHaveLength(2);
  });

  it('refuses the whole request on a version conflict and writes nothing', () => {
    const shard = new ModelShard();
    shard.append([ev('a'), ev('b')]);
    const plan = shard.append([ev('c'), ev('d')], exactly(1));
    expect(plan).toEqual({ ok: false, stream: 's', expected: '1', actual: 2 });
    expect(shard.log).toHaveLength(2);
    expect(shard.append([ev('c')], NO_STREAM)).toMatchObject({ ok: false, expected: 'no_stream', actual: 2 });
    expect(shard.append([ev('c')], STREAM_EXISTS)).toMatchObject({ ok: true });
    expect(new ModelShard().append([ev('c')], STREAM_EXISTS)).toMatchObject({ ok: false, expected: 'exists', actual: 0 });
  });

  it('answers a retried conditional request with its original positions, not a conflict', () => {
    const shard = new ModelShard();
    const first = shard.append([ev('a'), ev('b')], NO_STREAM);
    const retry = shard.append([ev('a'), ev('b')], NO_STREAM);
    expect(retry.ok).toBe(true);
    expect(retry.ok && retry.positions.map((p) => p.seq)).toEqual(first.ok && first.positions.map((p) => p.seq));
    expect(retry.ok && retry.positions.every((p) => p.duplicate)).toBe(true);
  });

  it('keeps the log gap-free, ordered and duplicate-free over any sequence of requests', () => {
    const request = fc.record({
      events: fc.array(fc.record({ key: fc.integer({ min: 0, max: 40 }), stream: fc.constantFrom('a', 'b', 'c', 'd') }), {
        minLength: 1,
        maxLength: 8,
      }),
      expected: fc.oneof(
        fc.constant(ANY),
        fc.constant(NO_STREAM),
        fc.constant(STREAM_EXISTS),
        fc.integer({ min: 0, max: 10 }).map(exactly),
      ),
    });
    fc.assert(
      fc.property(fc.array(request, { maxLength: 30 }), (requests) => {
        const shard = new ModelShard();
        for (const r of requests) {
          const before = shard.log.length;
          const events = r.events.map((e) => ev(`k${e.key}`, e.stream));
          const plan = shard.append(events, r.expected);
          if (!plan.ok) {
            expect(shard.log.length).toBe(before);
            continue;
          }
          // Every event is answered, in order; duplicates point at the stored original.
          events.forEach((e, i) => expect(plan.positions[i]).toMatchObject({ id: e.id, ...shard.stored.get(e.key) }));
        }
        expect(shard.log.map((l) => l.seq)).toEqual(shard.log.map((_, i) => i + 1));
        expect(new Set(shard.log.map((l) => l.key)).size).toBe(shard.log.length);
        for (const stream of ['a', 'b', 'c', 'd']) {
          const versions = shard.log.filter((l) => l.stream === stream).map((l) => l.version);
          expect(versions).toEqual(versions.map((_, i) => i + 1));
          expect(shard.heads.get(stream)?.version ?? 0).toBe(versions.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
