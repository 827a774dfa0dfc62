// Model-based property test of the read side: random appends, publishes, replications, evictions
// and reads interleaved; every read must equal what a plain in-memory model of the log says.
// History, state (now and as of a version or a time), events by id, the global read (several
// readers, each a prefix of one canonical sequence, no gap, no duplicate, no reordering) and a
// subscription that sometimes "crashes" before acking (at-least-once, resumes at its checkpoint).
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldState, type Json } from '../../src/engine/fold.js';
import { shardOf } from '../../src/engine/routing.js';
import { issueKey } from '../../src/workers/admin.js';
import { shardStub } from '../../src/workers/shards.js';
import { createTenant } from '../../src/workers/tenant.js';
import { appended, call, post } from './helpers.js';
import { publish, replicate } from './pipeline.js';

const SHARDS = 3;
const STREAMS = ['a', 'b/1', 'c', 'd', 'e:f@g'];
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

interface ModelEvent {
  id: string;
  stream: string;
  version: number;
  type: string;
  time: number;
  data: Json;
}
interface Seen {
  id: string;
  stream: string;
  version: number;
  shard: number;
  seq: number;
  receivedAt: string;
  data: Json;
  type: string;
  time: string;
}
interface Page {
  events: Seen[];
  next: string;
  caughtUp: boolean;
}

/** The model: the log as written, and what the readers have seen so far. */
interface Model {
  byStream: Map<string, ModelEvent[]>;
  all: ModelEvent[];
  /** The global order as one reader read it; every other reader must read a prefix of it. */
  canonical: Seen[];
  canonicalCursor: string | undefined;
  readers: { seen: Seen[]; cursor: string | undefined }[];
  acked: Seen[];
  counter: number;
}

interface Real {
  tenant: string;
  key: string;
}

async function json<T>(path: string, key: string, init: RequestInit = {}): Promise<T> {
  const res = await call(path, init, key);
  expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
  return (await res.json()) as T;
}

const enc = (s: string) => encodeURIComponent(s);

/** Reads canonical pages until it holds at least `n` events or is caught up. */
async function extendCanonical(m: Model, r: Real, n: number) {
  while (m.canonical.length < n) {
    const page = await json<Page>(`/v1/all?limit=7${m.canonicalCursor ? `&after=${m.canonicalCursor}` : ''}`, r.key);
    m.canonical.push(...page.events);
    m.canonicalCursor = page.next;
    if (page.caughtUp) return;
  }
}

/** Checks that `events`, read after `before` events of the order, are the canonical ones at that place. */
async function expectCanonicalAt(m: Model, r: Real, before: number, events: readonly Seen[]) {
  await extendCanonical(m, r, before + events.length);
  expect(events.map((e) => e.id)).toEqual(m.canonical.slice(before, before + events.length).map((e) => e.id));
}

class Append implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly picks: { stream: number; type: number; day: number; patch: Json }[],
    readonly perStream: boolean,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const body = this.picks.map((p) => {
      const id = `ev-${m.counter++}`;
      return { id, stream: STREAMS[p.stream]!, type: `t${p.type}`, time: new Date(T0 + p.day * DAY).toISOString(), data: p.patch };
    });
    const res = this.perStream
      ? await post(
          `/v1/streams/${enc(body[0]!.stream)}/events`,
          body.map(({ stream: _s, ...e }) => e),
          {},
          r.key,
        )
      : await post('/v1/events', body, {}, r.key);
    const accepted = await appended(res);
    for (const [i, e] of body.entries()) {
      const stream = this.perStream ? body[0]!.stream : e.stream;
      const list = m.byStream.get(stream) ?? [];
      const ev: ModelEvent = { id: e.id, stream, version: list.length + 1, type: e.type, time: Date.parse(e.time), data: e.data };
      expect(accepted[i]).toMatchObject({ id: e.id, stream, version: ev.version, duplicate: false });
      list.push(ev);
      m.byStream.set(stream, list);
      m.all.push(ev);
    }
  }
  toString = () => `append(${this.picks.length}${this.perStream ? ', one stream' : ''})`;
}

class Pipeline implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly shard: number,
    readonly step: 'publish' | 'replicate' | 'evict',
  ) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    if (this.step === 'publish') await publish(r.tenant, 1, {}, this.shard);
    else if (this.step === 'replicate') await replicate(r.tenant, 1, {}, this.shard);
    else {
      const stub = shardStub(env, r.tenant, this.shard);
      await runInDurableObject(stub, (instance) => {
        Object.defineProperty(instance, 'env', { value: { ...env, HOT_WINDOW_MS: '0' } });
      });
      await runDurableObjectAlarm(stub);
    }
  }
  toString = () => `${this.step}(${this.shard})`;
}

class History implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly stream: number,
    readonly limit: number,
    readonly backward: boolean,
    readonly asOfDay: number | null,
  ) {}
  check = (m: Readonly<Model>) => m.byStream.has(STREAMS[this.stream]!);
  async run(m: Model, r: Real) {
    const stream = STREAMS[this.stream]!;
    const got: Seen[] = [];
    let from: number | null = null;
    const asOf = this.asOfDay === null ? '' : `&asOf=${new Date(T0 + this.asOfDay * DAY).toISOString()}`;
    do {
      const q = `limit=${this.limit}${this.backward ? '&direction=backward' : ''}${from === null ? '' : `&from=${from}`}${asOf}`;
      const page: { events: Seen[]; next: number | null } = await json(`/v1/streams/${enc(stream)}/events?${q}`, r.key);
      got.push(...page.events);
      from = page.next;
    } while (from !== null);
    let want = m.byStream.get(stream)!;
    if (this.asOfDay !== null) want = want.filter((e) => e.time <= T0 + this.asOfDay! * DAY);
    if (this.backward) want = [...want].reverse();
    expect(got.map((e) => [e.id, e.version, e.data, e.type, Date.parse(e.time)])).toEqual(
      want.map((e) => [e.id, e.version, e.data, e.type, e.time]),
    );
    expect(got.every((e) => e.shard === shardOf(stream, SHARDS))).toBe(true);
  }
  toString = () => `history(${STREAMS[this.stream]}, ${this.limit}${this.backward ? ', backward' : ''}, asOf ${this.asOfDay})`;
}

class State implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly stream: number,
    readonly version: number | null,
    readonly asOfDay: number | null,
  ) {}
  check = (m: Readonly<Model>) => m.byStream.has(STREAMS[this.stream]!);
  async run(m: Model, r: Real) {
    const stream = STREAMS[this.stream]!;
    const list = m.byStream.get(stream)!;
    const version = this.version === null ? null : Math.min(this.version, list.length);
    const q = [
      version === null ? '' : `version=${version}`,
      this.asOfDay === null ? '' : `asOf=${new Date(T0 + this.asOfDay * DAY).toISOString()}`,
    ]
      .filter(Boolean)
      .join('&');
    const got = await json<{ state: Json; version: number; headVersion: number }>(`/v1/streams/${enc(stream)}/state?${q}`, r.key);
    const folded = list.slice(0, version ?? list.length).filter((e) => this.asOfDay === null || e.time <= T0 + this.asOfDay * DAY);
    expect(got.state).toEqual(foldState(folded.map((e) => e.data)));
    expect(got.version).toBe(folded[folded.length - 1]?.version ?? 0);
    expect(got.headVersion).toBe(list.length);
  }
  toString = () => `state(${STREAMS[this.stream]}, version ${this.version}, asOf ${this.asOfDay})`;
}

class ById implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.all.length > 0;
  async run(m: Model, r: Real) {
    const want = m.all[this.pick % m.all.length]!;
    const got = await json<Seen>(`/v1/events/${want.id}`, r.key);
    expect([got.stream, got.version, got.data, got.type]).toEqual([want.stream, want.version, want.data, want.type]);
  }
  toString = () => `byId(${this.pick})`;
}

class GlobalPage implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly reader: number,
    readonly limit: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const reader = (m.readers[this.reader] ??= { seen: [], cursor: undefined });
    const written = m.all.map((e) => e.id);
    const page = await json<Page>(`/v1/all?limit=${this.limit}${reader.cursor ? `&after=${reader.cursor}` : ''}`, r.key);
    expect(page.events.length).toBeLessThanOrEqual(this.limit);
    await expectCanonicalAt(m, r, reader.seen.length, page.events);
    reader.seen.push(...page.events);
    reader.cursor = page.next;
    // Caught up: everything written before the read was served.
    if (page.caughtUp) expect(new Set(reader.seen.map((e) => e.id))).toEqual(new Set(written));
  }
  toString = () => `global(reader ${this.reader}, ${this.limit})`;
}

class Subscription implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly limit: number,
    readonly ack: boolean,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const page = await json<Page>(`/v1/subscriptions/model/events?limit=${this.limit}`, r.key);
    // Always what follows the last ack, whatever was delivered and not acked before.
    await expectCanonicalAt(m, r, m.acked.length, page.events);
    if (!this.ack) return; // the consumer "crashed"
    const res = await post('/v1/subscriptions/model/ack', { cursor: page.next }, {}, r.key);
    expect(res.status).toBe(200);
    m.acked.push(...page.events);
  }
  toString = () => `subscription(${this.limit}, ${this.ack ? 'ack' : 'crash'})`;
}

const patch = fc.oneof(
  fc.record({ n: fc.integer({ min: -5, max: 5 }) }, { requiredKeys: [] }),
  fc.record({ name: fc.constantFrom('x', 'y', null), tags: fc.constantFrom(['a'], null) }, { requiredKeys: [] }),
  fc.record({ nested: fc.record({ k: fc.constantFrom(1, 'v', null) }) }),
) as fc.Arbitrary<Json>;

const commands = [
  fc
    .tuple(
      fc.array(
        fc.record({
          stream: fc.nat({ max: STREAMS.length - 1 }),
          type: fc.nat({ max: 2 }),
          day: fc.nat({ max: 3 }),
          patch,
        }),
        { minLength: 1, maxLength: 12 },
      ),
      fc.boolean(),
    )
    .map(([picks, perStream]) => new Append(picks, perStream)),
  fc
    .tuple(fc.nat({ max: SHARDS - 1 }), fc.constantFrom('publish' as const, 'replicate' as const, 'evict' as const))
    .map(([s, step]) => new Pipeline(s, step)),
  fc
    .tuple(fc.nat({ max: STREAMS.length - 1 }), fc.integer({ min: 1, max: 5 }), fc.boolean(), fc.option(fc.nat({ max: 3 })))
    .map(([s, l, b, d]) => new History(s, l, b, d)),
  fc
    .tuple(fc.nat({ max: STREAMS.length - 1 }), fc.option(fc.nat({ max: 12 })), fc.option(fc.nat({ max: 3 })))
    .map(([s, v, d]) => new State(s, v, d)),
  fc.nat().map((p) => new ById(p)),
  fc.tuple(fc.nat({ max: 2 }), fc.integer({ min: 1, max: 9 })).map(([rd, l]) => new GlobalPage(rd, l)),
  fc.tuple(fc.integer({ min: 1, max: 9 }), fc.boolean()).map(([l, a]) => new Subscription(l, a)),
];

let runs = 0;

describe('read side against a model of the log', () => {
  it('agrees with the model under random interleavings of writes, pipeline steps and reads', { timeout: 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 40 }), async (cmds) => {
        const tenant = `model-${Date.now().toString(36)}-${runs++}`;
        await createTenant(env, tenant, SHARDS);
        const { key } = await issueKey(env, tenant, ['write', 'read'], null, null);
        const put = await call(
          '/v1/subscriptions/model',
          { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } },
          key,
        );
        expect(put.status).toBe(201);
        const model: Model = {
          byStream: new Map(),
          all: [],
          canonical: [],
          canonicalCursor: undefined,
          readers: [],
          acked: [],
          counter: 0,
        };
        const real = { tenant, key };
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        // Drained: the canonical order holds every event exactly once, ordered, and each shard's seqs without a gap.
        await extendCanonical(model, real, Number.MAX_SAFE_INTEGER);
        expect(model.canonical.map((e) => e.id).sort()).toEqual(model.all.map((e) => e.id).sort());
        for (let i = 1; i < model.canonical.length; i++) {
          const [a, b] = [model.canonical[i - 1]!, model.canonical[i]!];
          const ka = [Date.parse(a.receivedAt), a.shard, a.seq];
          const kb = [Date.parse(b.receivedAt), b.shard, b.seq];
          expect(ka[0]! < kb[0]! || (ka[0] === kb[0] && (ka[1]! < kb[1]! || (ka[1] === kb[1] && ka[2]! < kb[2]!)))).toBe(true);
        }
        for (let s = 0; s < SHARDS; s++) {
          const seqs = model.canonical.filter((e) => e.shard === s).map((e) => e.seq);
          expect(seqs).toEqual(seqs.map((_, i) => i + 1));
        }
      }),
      { numRuns: 30, interruptAfterTimeLimit: 200_000 },
    );
  });
});
