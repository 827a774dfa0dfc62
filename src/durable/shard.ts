// The shard Durable Object: the status memory of one tenant's shard and its master write order.

import { DurableObject } from 'cloudflare:workers';
import { planAppend, type HeadUpdate, type NewRow, type StoredPosition, type StreamHead } from '../engine/append.js';
import { Coalescer } from '../engine/coalesce.js';
import { colourCounts, colourOf, type Colour, type ColourMarks } from '../engine/colour.js';
import type { PreparedEvent } from '../engine/envelope.js';
import type { MasterRow } from '../engine/segment.js';
import { config } from '../config.js';
import type { ExpectedVersion } from '../engine/version.js';
import { migrate } from './migrations.js';
import { SHARD_MIGRATIONS } from './shard-schema.js';

/** One write request's share of a shard: stored atomically, all or nothing. */
export interface AppendRequest {
  events: PreparedEvent[];
  expected: ExpectedVersion;
}

/**
 * A pipeline queue's message: this shard has work for the step (grey events for publish, blue for
 * replicate). With the notify trigger it also names the seq range that prompted it; the step
 * still takes whatever waits from the first event of the colour on, so messages may be lost,
 * repeated or reordered without a gap or a double.
 */
export interface StepMessage {
  /** Which step the message asks for (so that a dead letter says what failed). */
  step?: 'publish' | 'replicate';
  tenant: string;
  shard: number;
  firstSeq?: number;
  lastSeq?: number;
}

/** One RPC: the requests that concurrent writers sent this shard, committed together. */
export interface AppendCall {
  tenant: string;
  shard: number;
  requests: AppendRequest[];
  /** A writer waits for blue or green: ask for publishing now, whatever the trigger's thresholds. */
  urgent?: boolean;
}

export interface ShardPosition {
  id: string;
  stream: string;
  version: number;
  seq: number;
  status: Colour;
  duplicate: boolean;
}

export type AppendResult = { ok: true; positions: ShardPosition[] } | { ok: false; stream: string; expected: string; actual: number };

/** The next range a publisher is to write as a row segment, with its events. */
export interface PublishClaim {
  tenant: string;
  shard: number;
  firstSeq: number;
  lastSeq: number;
  rows: MasterRow[];
}

/** What a publisher reports once its row segment is in R2. */
export interface Published {
  firstSeq: number;
  lastSeq: number;
  key: string;
  checksum: string;
  bytes: number;
}

/** A master row segment, as the shard records it once written. */
export interface MasterSegment {
  firstSeq: number;
  lastSeq: number;
  key: string;
  checksum: string;
}

/** The next range a replicator is to turn green: whole master segments, in seq order. */
export interface ReplicateClaim {
  tenant: string;
  shard: number;
  firstSeq: number;
  lastSeq: number;
  segments: MasterSegment[];
}

/** What the shard knows of one event by its dedupe key: always its position, and the event itself while hot. */
export interface EventLookup {
  seq: number;
  stream: string;
  version: number;
  status: Colour;
  /** The event while it is in the hot window (not red). */
  event: MasterRow | null;
}

/** A page of one stream's events, in version order: hot ones whole, evicted ones as positions. */
/** A shard's answer to the global read; see Shard.globalSlice(). */
export interface GlobalSlice {
  headSeq: number;
  /** Every event committed after this answer has a receipt time above this (epoch ms). */
  promise: number;
  /** Evicted events of the page, to be read from master segments; they come before `rows`. */
  cold: { firstSeq: number; lastSeq: number } | null;
  rows: MasterRow[];
  marks: ColourMarks;
}

export interface HistoryPage {
  /** The stream's version (its number of events); 0 and `exists: false` for an unknown stream. */
  head: number;
  exists: boolean;
  /** Every event of the page, in page order; `row` is null for an evicted event (read it from R2). */
  events: { seq: number; version: number; row: MasterRow | null }[];
  marks: ColourMarks;
}

/** A refusal is an answer, not an exception: exceptions across RPC surface as unhandled errors. */
export type MarkResult = { ok: true; through: number; duplicate: boolean } | { ok: false; reason: string };

export interface ShardStatus {
  tenant: string | null;
  shard: number | null;
  headSeq: number;
  streams: number;
  counts: Record<Colour, number>;
  marks: ColourMarks;
  /** Receipt time of the oldest event not yet in the master store (grey), epoch ms. */
  oldestGreyAt: number | null;
  /** Receipt time of the oldest event in the master store but not in the replica (blue), epoch ms. */
  oldestBlueAt: number | null;
  /** Events held in the object's storage (the hot window: not yet evicted). */
  hotEvents: number;
}

/**
 * The stored body of a hot event, as JSON text: [id, type, source, subject, time, data]. Built
 * around `data`, which is already JSON text, so it is never parsed or escaped again.
 */
export function eventBody(e: PreparedEvent): string {
  return `${JSON.stringify([e.id, e.type, e.source, e.subject, e.time]).slice(0, -1)},${e.data}]`;
}

/**
 * A stored event row (hot window) back as the master store's row. `data` is cut out of the body's
 * text rather than parsed and serialized again, which would round integers beyond 2^53 that the
 * write kept exact (webhook payloads carry such ids); the body is `eventBody`'s text, so its
 * prefix is known once the first five fields are read.
 */
function rowOf(r: { seq: number; stream: string; version: number; received_at: number; body: string }): MasterRow {
  const [id, type, source, subject, time, value] = JSON.parse(r.body) as [string, string, string | null, string | null, number, unknown];
  const prefix = `${JSON.stringify([id, type, source, subject, time]).slice(0, -1)},`;
  const data = r.body.startsWith(prefix) && r.body.endsWith(']') ? r.body.slice(prefix.length, -1) : JSON.stringify(value);
  return { seq: r.seq, id, stream: r.stream, version: r.version, type, source, subject, time, receivedAt: r.received_at, data };
}

/** Stream heads kept in memory at most (~100 bytes each). */
const HEAD_CACHE_SIZE = 50_000;

/** Events written in one group commit at most; a larger single call is still written whole. */
const MAX_EVENTS_PER_COMMIT = 10_000;

/** Events evicted by one alarm at most; the alarm comes back for the rest. */
const MAX_EVICT_PER_CALL = 50_000;

/** How often a writer waiting for a colour looks at the marks. */
const WAIT_POLL_MS = 5;

/** Bound parameters of one statement are capped at 2 MB each; stay well inside. */
const CHUNK_CHARS = 1_000_000;

/** Splits rows, already serialized one by one, into JSON arrays of at most CHUNK_CHARS characters. */
function jsonChunks(rows: string[]): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const row of rows) {
    if (current.length > 0 && size + row.length + 1 > CHUNK_CHARS) {
      chunks.push(`[${current.join(',')}]`);
      current = [];
      size = 2;
    }
    current.push(row);
    size += row.length + 1;
  }
  if (current.length > 0) chunks.push(`[${current.join(',')}]`);
  return chunks;
}

export class Shard extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private marks: ColourMarks = { headSeq: 0, blueThrough: 0, greenThrough: 0, evictedThrough: 0 };
  private nextStreamNo = 1;
  private identity: { tenant: string; shard: number } | null = null;
  /**
   * Heads of recently written streams. The shard is the only writer of its streams, so a cached
   * head is always current; it saves a lookup per event on the write path. Bounded: cleared when full.
   */
  private readonly headCache = new Map<string, StreamHead>();
  /** When the alarm is set for, as far as this instance knows (null: not set, or unknown). */
  private alarmAt: number | null = null;
  /** When each step was last asked for (null: not since its colour last advanced, or since a restart). */
  private readonly asked: { publish: number | null; replicate: number | null } = { publish: null, replicate: null };
  /** Since when events have been blue without a pause (the batch trigger's replicate delay). */
  private blueAt: number | null = null;
  /**
   * The receipt time of the last committed event, and the time this shard promised global readers
   * that every later commit exceeds (decision 12). Both persist in meta: an object restarted on a
   * machine whose clock is behind still never goes below them.
   */
  private lastReceivedAt = 0;
  private promised = 0;
  /** Events up to this seq have a writer waiting for their colour: their steps start at once, whatever the trigger. */
  private urgentThrough = 0;
  private readonly writer = new Coalescer<AppendCall, AppendResult[]>((calls) => this.commitGroup(calls), {
    maxInFlight: 1,
    maxWeight: MAX_EVENTS_PER_COMMIT,
    weigh: (call) => call.requests.reduce((n, r) => n + r.events.length, 0),
    lingerMs: 0,
    pollMs: 1,
    maxPollMs: 4,
  });

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage, SHARD_MIGRATIONS);
      this.load();
    });
  }

  private load(): void {
    const meta = new Map<string, SqlStorageValue>();
    for (const row of this.sql.exec<{ key: string; value: SqlStorageValue }>('SELECT key, value FROM meta')) meta.set(row.key, row.value);
    const num = (key: string) => Number(meta.get(key) ?? 0);
    this.marks = {
      headSeq: num('head_seq'),
      blueThrough: num('blue_through'),
      greenThrough: num('green_through'),
      evictedThrough: num('evicted_through'),
    };
    this.nextStreamNo = num('next_stream_no') || 1;
    this.promised = num('promised');
    // Shards written before receipt times were kept in meta: the newest hot event's, if any.
    this.lastReceivedAt = meta.has('received_at')
      ? num('received_at')
      : Number(this.sql.exec<{ t: number | null }>('SELECT max(received_at) AS t FROM events').one().t ?? 0);
    if (this.marks.blueThrough > this.marks.greenThrough) this.blueAt = Date.now();
    if (meta.has('tenant')) this.identity = { tenant: String(meta.get('tenant')), shard: num('shard') };
  }

  /** Records, on the first write, which tenant and shard this object is (append() checks it after). */
  private claim(tenant: string, shard: number): void {
    if (this.identity) return;
    this.sql.exec(`INSERT INTO meta (key, value) VALUES ('tenant', ?), ('shard', ?)`, tenant, shard);
    this.identity = { tenant, shard };
  }

  /**
   * Appends the call's requests, each atomically on its own (a version conflict refuses that
   * request only). Calls that arrive while a commit is under way wait and are then written
   * together, in arrival order, in one transaction and one commit: group commit, with no delay
   * when the shard is idle (docs/decisions/0005-group-commit.md). Answers once durable.
   */
  append(call: AppendCall): Promise<AppendResult[]> {
    if (this.identity && (this.identity.tenant !== call.tenant || this.identity.shard !== call.shard)) {
      throw new Error(`shard object of ${this.identity.tenant}/${this.identity.shard} was sent a call for ${call.tenant}/${call.shard}`);
    }
    return this.writer.submit(call);
  }

  /** Writes a group of calls and waits for the commit; see append(). */
  private async commitGroup(calls: AppendCall[]): Promise<AppendResult[][]> {
    const requests = calls.flatMap((c) => c.requests);
    const before = this.marks.headSeq;
    const results = this.appendNow(calls[0]!, requests);
    await this.ctx.storage.sync();
    const after = this.marks.headSeq;
    if (after > before) {
      // Durable now: tell the publisher (notify trigger, or a writer waits), else leave it to the alarm.
      const grey = { firstSeq: this.marks.blueThrough + 1, lastSeq: after };
      if (calls.some((c) => c.urgent)) this.urgentThrough = after;
      if (this.eager('publish') && this.asked.publish === null) this.notify('publish', grey);
      // A commit moves only the publish step's due time: the write path skips the other lookups.
      this.arm(this.publishDue(Date.now()));
    }
    const out: AppendResult[][] = [];
    let i = 0;
    for (const c of calls) out.push(results.slice(i, (i += c.requests.length)));
    return out;
  }

  /**
   * The synchronous heart of append: no await, so nothing interleaves, and all writes go in one
   * transaction. Every value bound to a statement is chunked under the 2 MB cap.
   */
  private appendNow(identity: AppendCall, requests: AppendRequest[]): AppendResult[] {
    const call = { ...identity, requests };
    const keys = new Set<string>();
    const streamNames = new Set<string>();
    for (const r of call.requests) {
      for (const e of r.events) {
        keys.add(e.key);
        streamNames.add(e.stream);
      }
    }
    const stored = new Map<string, StoredPosition>();
    for (const chunk of jsonChunks([...keys].map((k) => JSON.stringify(k)))) {
      for (const row of this.sql.exec<{ key: string; seq: number; version: number; stream: string }>(
        `SELECT k.key, k.seq, k.version, s.stream FROM event_keys k JOIN streams s ON s.stream_no = k.stream_no
          WHERE k.key IN (SELECT value FROM json_each(?))`,
        chunk,
      )) {
        stored.set(row.key, { seq: row.seq, stream: row.stream, version: row.version });
      }
    }
    // Stream heads come from the cache, and from storage only for streams it does not hold.
    const heads = new Map<string, StreamHead>();
    const missing: string[] = [];
    for (const stream of streamNames) {
      const head = this.headCache.get(stream);
      if (head) heads.set(stream, head);
      else missing.push(stream);
    }
    for (const chunk of jsonChunks(missing.map((m) => JSON.stringify(m)))) {
      for (const row of this.sql.exec<{ stream: string; stream_no: number; version: number }>(
        'SELECT stream, stream_no, version FROM streams WHERE stream IN (SELECT value FROM json_each(?))',
        chunk,
      )) {
        heads.set(row.stream, { streamNo: row.stream_no, version: row.version });
      }
    }

    // Plan the requests in arrival order; each sees what the ones before it wrote.
    let nextSeq = this.marks.headSeq + 1;
    let nextStreamNo = this.nextStreamNo;
    const rows: NewRow[] = [];
    const changedHeads = new Map<string, HeadUpdate>();
    const plans = call.requests.map((request) => {
      const plan = planAppend({ events: request.events, expected: request.expected, stored, heads, nextSeq, nextStreamNo });
      if (!plan.ok) return plan;
      for (const r of plan.rows) {
        stored.set(r.event.key, { seq: r.seq, stream: r.event.stream, version: r.version });
        rows.push(r);
      }
      for (const h of plan.heads) {
        heads.set(h.stream, { streamNo: h.streamNo, version: h.version });
        changedHeads.set(h.stream, h);
      }
      nextSeq = plan.nextSeq;
      nextStreamNo = plan.nextStreamNo;
      return plan;
    });

    if (rows.length > 0) this.write(call, rows, [...changedHeads.values()], nextSeq - 1, nextStreamNo);
    // Only once the transaction went through: the cache never runs ahead of storage.
    if (this.headCache.size + changedHeads.size > HEAD_CACHE_SIZE) this.headCache.clear();
    for (const h of changedHeads.values()) this.headCache.set(h.stream, { streamNo: h.streamNo, version: h.version });

    return plans.map((plan) =>
      plan.ok
        ? { ok: true, positions: plan.positions.map((p) => ({ ...p, status: p.duplicate ? colourOf(p.seq, this.marks) : 'grey' })) }
        : plan,
    );
  }

  /** Writes planned rows, heads and the new head seq in one transaction. */
  private write(call: AppendCall, rows: NewRow[], heads: HeadUpdate[], headSeq: number, nextStreamNo: number): void {
    // Never down along seq, and above any promise made to a global reader (decision 12).
    const receivedAt = Math.max(Date.now(), this.lastReceivedAt, this.promised + 1);
    this.ctx.storage.transactionSync(() => {
      this.claim(call.tenant, call.shard);
      for (const chunk of jsonChunks(heads.map((h) => JSON.stringify([h.streamNo, h.stream, h.version])))) {
        this.sql.exec(
          `INSERT INTO streams (stream_no, stream, version)
             SELECT value->>0, value->>1, value->>2 FROM json_each(?) WHERE true
           ON CONFLICT (stream_no) DO UPDATE SET version = excluded.version`,
          chunk,
        );
      }
      // Each row is built as JSON text around the event's body, whose data is already JSON text.
      const eventRows = rows.map((r) => `[${r.seq},${r.streamNo},${r.version},${eventBody(r.event)}]`);
      for (const chunk of jsonChunks(eventRows)) {
        this.sql.exec(
          `INSERT INTO events (seq, stream_no, version, received_at, body)
             SELECT value->>0, value->>1, value->>2, ?, value->3 FROM json_each(?)`,
          receivedAt,
          chunk,
        );
      }
      for (const chunk of jsonChunks(rows.map((r) => JSON.stringify([r.event.key, r.seq, r.streamNo, r.version])))) {
        this.sql.exec(
          'INSERT INTO event_keys (key, seq, stream_no, version) SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?)',
          chunk,
        );
      }
      this.sql.exec(
        `INSERT INTO meta (key, value) VALUES ('head_seq', ?), ('next_stream_no', ?), ('received_at', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        headSeq,
        nextStreamNo,
        receivedAt,
      );
    });
    this.lastReceivedAt = receivedAt;
    this.marks = { ...this.marks, headSeq };
    this.nextStreamNo = nextStreamNo;
  }

  /** Receipt time of the event at `seq` while it is hot (not evicted), epoch ms. */
  private receivedAt(seq: number): number | null {
    return this.sql.exec<{ received_at: number }>('SELECT received_at FROM events WHERE seq = ?', seq).toArray()[0]?.received_at ?? null;
  }

  /** When the publish step is next due, or null when nothing is grey. */
  private publishDue(now: number): number | null {
    const cfg = config(this.env);
    const grey = this.marks.headSeq - this.marks.blueThrough;
    if (grey <= 0) return null;
    if (this.asked.publish !== null) return this.asked.publish + cfg.publish.redriveMs;
    if (cfg.trigger === 'batch' && grey < cfg.publish.minEvents)
      return (this.receivedAt(this.marks.blueThrough + 1) ?? now) + cfg.publish.delayMs;
    return now;
  }

  /** When the replicate step is next due, or null when nothing is blue. */
  private replicateDue(now: number): number | null {
    const cfg = config(this.env);
    const blue = this.marks.blueThrough - this.marks.greenThrough;
    if (blue <= 0) return null;
    if (this.asked.replicate !== null) return this.asked.replicate + cfg.publish.redriveMs;
    if (cfg.trigger === 'batch' && blue < cfg.replicate.minEvents) return (this.blueAt ?? now) + cfg.replicate.delayMs;
    return now;
  }

  /** When the oldest green event leaves the hot window, or null when none is green. */
  private evictDue(now: number): number | null {
    if (this.marks.greenThrough <= this.marks.evictedThrough) return null;
    return (this.receivedAt(this.marks.evictedThrough + 1) ?? now) + config(this.env).hotWindowMs;
  }

  /**
   * When the alarm must next run: the publish and replicate steps are asked for when their trigger
   * says (docs/decisions/0008-pipeline-trigger.md) and asked again every REDRIVE_MS while their
   * colour waits (lost, failed or dead-lettered messages); green events are evicted once past the
   * hot window.
   */
  private nextWake(now: number): number | null {
    const wakes = [this.publishDue(now), this.replicateDue(now), this.evictDue(now)].filter((t): t is number => t !== null);
    return wakes.length === 0 ? null : Math.min(...wakes);
  }

  /** Whether a step is asked for as soon as there is work: the notify trigger, or a writer waits for it. */
  private eager(step: 'publish' | 'replicate'): boolean {
    if (config(this.env).trigger === 'notify') return true;
    return (step === 'publish' ? this.marks.blueThrough : this.marks.greenThrough) < this.urgentThrough;
  }

  /**
   * Sets the alarm for `at` (by default nextWake()) unless it is already set for that time or
   * sooner. Never for now or the past: the runtime deletes the alarm once a handler for the same
   * time returns, so a due wake set while alarm() runs (by a commit or a mark between its awaits)
   * would vanish with it, and the shard would sleep with work left (found by the reads bench:
   * green events never evicted).
   */
  private arm(at: number | null = this.nextWake(Date.now())): void {
    if (at === null) return;
    at = Math.max(at, Date.now() + 1);
    if (this.alarmAt === null || at < this.alarmAt) {
      this.alarmAt = at;
      void this.ctx.storage.setAlarm(at);
    }
  }

  /**
   * Sends a step's message without holding up the caller; a failed send is logged and left to the
   * alarm's re-drive, so it never fails a write or loses work.
   */
  private notify(step: 'publish' | 'replicate', range?: { firstSeq: number; lastSeq: number }): void {
    if (!this.identity) return;
    const message: StepMessage = { step, ...this.identity, ...range };
    this.asked[step] = Date.now();
    const queue = step === 'publish' ? this.env.PUBLISH_QUEUE : this.env.REPLICATE_QUEUE;
    this.ctx.waitUntil(
      queue.send(message).catch((error: unknown) => {
        this.asked[step] = null;
        console.error(JSON.stringify({ msg: `${step} request not sent; the alarm will ask again`, ...message, error: String(error) }));
      }),
    );
  }

  /**
   * Housekeeping: asks for the steps that are due, evicts what left the hot window, and re-arms.
   * It never throws, so it never depends on the runtime's limited alarm retries.
   */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    if (!this.identity) return;
    const now = Date.now();
    for (const step of ['publish', 'replicate'] as const) {
      const due = step === 'publish' ? this.publishDue(now) : this.replicateDue(now);
      if (due === null || due > now) continue;
      try {
        await (step === 'publish' ? this.env.PUBLISH_QUEUE : this.env.REPLICATE_QUEUE).send({
          step,
          ...this.identity,
        } satisfies StepMessage);
        this.asked[step] = now;
      } catch (error) {
        console.error(JSON.stringify({ msg: `${step} request not sent, will retry`, ...this.identity, error: String(error) }));
        // Ask again within seconds, not after a whole re-drive period.
        const { redriveMs } = config(this.env).publish;
        this.asked[step] = now - redriveMs + Math.min(redriveMs, 5_000);
      }
    }
    this.evict(now);
    // Set afresh from the state as it is now: what other calls armed while this ran may be the
    // time this handler is for, which the runtime clears when it returns.
    this.alarmAt = null;
    this.arm();
  }

  /**
   * Removes green events received before the hot window from the object's storage (they turn
   * red); their rows stay in R2, and their dedupe keys stay here, so a repeated id is still
   * recognised. Bounded work per call; the alarm comes back for the rest.
   */
  private evict(now: number): number {
    const { greenThrough, evictedThrough } = this.marks;
    if (greenThrough <= evictedThrough) return 0;
    const cutoff = now - config(this.env).hotWindowMs;
    const limit = Math.min(greenThrough, evictedThrough + MAX_EVICT_PER_CALL);
    // Receipt times rise with seq: the first event still hot ends the run.
    const hot = this.sql
      .exec<{ seq: number }>(
        'SELECT seq FROM events WHERE seq > ? AND seq <= ? AND received_at >= ? ORDER BY seq LIMIT 1',
        evictedThrough,
        limit,
        cutoff,
      )
      .toArray()[0];
    const through = hot ? hot.seq - 1 : limit;
    if (through <= evictedThrough) return 0;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec('DELETE FROM events WHERE seq > ? AND seq <= ?', evictedThrough, through);
      // The catalog describes segments now; the shard keeps only those it may still hand out.
      this.sql.exec('DELETE FROM segments WHERE last_seq <= ?', through);
      this.setMeta('evicted_through', through);
    });
    this.marks = { ...this.marks, evictedThrough: through };
    return through - evictedThrough;
  }

  private setMeta(key: string, value: SqlStorageValue): void {
    this.sql.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value);
  }

  private getMeta(key: string): SqlStorageValue | undefined {
    return this.sql.exec<{ value: SqlStorageValue }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0]?.value;
  }

  /**
   * The next range to publish: from the first grey event, at most `maxEvents`. Until it is marked
   * published, every caller gets the same range (kept in meta, so across restarts too): a retried
   * or duplicated publish writes the same segment under the same key, never an overlapping one.
   */
  claimPublish(maxEvents: number): PublishClaim | null {
    if (!this.identity || this.marks.headSeq === this.marks.blueThrough) return null;
    const firstSeq = this.marks.blueThrough + 1;
    const held = Number(this.getMeta('claim_last') ?? 0);
    let lastSeq: number;
    if (held >= firstSeq) {
      lastSeq = held;
    } else {
      lastSeq = Math.min(this.marks.headSeq, firstSeq + maxEvents - 1);
      this.setMeta('claim_last', lastSeq);
    }
    const rows = this.sql
      .exec<{ seq: number; stream: string; version: number; received_at: number; body: string }>(
        `SELECT e.seq, s.stream, e.version, e.received_at, e.body FROM events e JOIN streams s USING (stream_no)
          WHERE e.seq BETWEEN ? AND ? ORDER BY e.seq`,
        firstSeq,
        lastSeq,
      )
      .toArray()
      .map(rowOf);
    if (rows.length !== lastSeq - firstSeq + 1) {
      throw new Error(`shard ${this.identity.tenant}/${this.identity.shard} holds ${rows.length} of seqs ${firstSeq}..${lastSeq}`);
    }
    return { ...this.identity, firstSeq, lastSeq, rows };
  }

  /**
   * Records a row segment as written and turns its events blue. Idempotent: a range already blue
   * is acknowledged again; a range that does not start at the first grey event is refused.
   */
  markPublished(segment: Published): MarkResult {
    const { headSeq, blueThrough } = this.marks;
    if (segment.lastSeq <= blueThrough) return { ok: true, through: blueThrough, duplicate: true };
    if (segment.firstSeq !== blueThrough + 1 || segment.lastSeq > headSeq) {
      return {
        ok: false,
        reason: `segment ${segment.firstSeq}..${segment.lastSeq} does not continue the master store, which ends at ${blueThrough} (head ${headSeq})`,
      };
    }
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        'INSERT INTO segments (first_seq, last_seq, key, checksum, bytes, published_at) VALUES (?, ?, ?, ?, ?, ?)',
        segment.firstSeq,
        segment.lastSeq,
        segment.key,
        segment.checksum,
        segment.bytes,
        Date.now(),
      );
      this.setMeta('blue_through', segment.lastSeq);
      this.sql.exec(`DELETE FROM meta WHERE key = 'claim_last'`);
    });
    const wasBlue = this.marks.blueThrough > this.marks.greenThrough;
    this.marks = { ...this.marks, blueThrough: segment.lastSeq };
    if (!wasBlue) this.blueAt = Date.now();
    this.asked.publish = null; // what stays grey is asked for afresh
    if (this.eager('replicate')) this.notify('replicate', { firstSeq: segment.firstSeq, lastSeq: segment.lastSeq });
    if (this.marks.headSeq > this.marks.blueThrough && this.eager('publish')) this.notify('publish');
    this.alarmAt = null;
    this.arm();
    return { ok: true, through: segment.lastSeq, duplicate: false };
  }

  /**
   * The next range to replicate: whole master segments from the first blue event, about
   * `maxEvents` events (at least one segment). Held like a publish claim, so every retry or
   * duplicate of the step cuts the same range and writes the same keys.
   */
  claimReplicate(maxEvents: number): ReplicateClaim | null {
    const { blueThrough, greenThrough } = this.marks;
    if (!this.identity || blueThrough === greenThrough) return null;
    const firstSeq = greenThrough + 1;
    const held = Number(this.getMeta('replicate_claim_last') ?? 0);
    const listed = this.sql
      .exec<{ first_seq: number; last_seq: number; key: string; checksum: string }>(
        'SELECT first_seq, last_seq, key, checksum FROM segments WHERE last_seq >= ? ORDER BY first_seq',
        firstSeq,
      )
      .toArray();
    const segments: MasterSegment[] = [];
    for (const r of listed) {
      const segment = { firstSeq: r.first_seq, lastSeq: r.last_seq, key: r.key, checksum: r.checksum };
      if (held >= firstSeq) {
        if (segment.firstSeq > held) break;
      } else if (segments.length > 0 && segment.lastSeq - firstSeq + 1 > maxEvents) break;
      segments.push(segment);
    }
    const first = segments[0];
    const last = segments[segments.length - 1];
    if (!first || !last || first.firstSeq !== firstSeq || (held >= firstSeq && last.lastSeq !== held)) {
      throw new Error(
        `shard ${this.identity.tenant}/${this.identity.shard} has no master segments for blue seqs from ${firstSeq} (claim ${held})`,
      );
    }
    if (held < firstSeq) this.setMeta('replicate_claim_last', last.lastSeq);
    return { ...this.identity, firstSeq, lastSeq: last.lastSeq, segments };
  }

  /** Turns a replicated range green. Idempotent like markPublished; refuses a range out of order. */
  markReplicated(range: { firstSeq: number; lastSeq: number }): MarkResult {
    const { blueThrough, greenThrough } = this.marks;
    if (range.lastSeq <= greenThrough) return { ok: true, through: greenThrough, duplicate: true };
    if (range.firstSeq !== greenThrough + 1 || range.lastSeq > blueThrough) {
      return {
        ok: false,
        reason: `range ${range.firstSeq}..${range.lastSeq} does not continue the replica, which ends at ${greenThrough} (master ends at ${blueThrough})`,
      };
    }
    this.ctx.storage.transactionSync(() => {
      this.setMeta('green_through', range.lastSeq);
      this.sql.exec(`DELETE FROM meta WHERE key = 'replicate_claim_last'`);
    });
    this.marks = { ...this.marks, greenThrough: range.lastSeq };
    this.blueAt = this.marks.blueThrough > this.marks.greenThrough ? Date.now() : null;
    this.asked.replicate = null;
    if (this.blueAt !== null && this.eager('replicate')) this.notify('replicate');
    this.alarmAt = null;
    this.arm();
    return { ok: true, through: range.lastSeq, duplicate: false };
  }

  /**
   * One event by its dedupe key. The dedupe index is permanent, so the position is known even
   * after the event left the hot window; the event itself is answered only while it is hot (the
   * reader then goes to the master segment that holds the seq).
   */
  lookup(key: string): EventLookup | null {
    const found = this.sql
      .exec<{ seq: number; version: number; stream: string }>(
        'SELECT k.seq, k.version, s.stream FROM event_keys k JOIN streams s USING (stream_no) WHERE k.key = ?',
        key,
      )
      .toArray()[0];
    if (!found) return null;
    const status = colourOf(found.seq, this.marks);
    let event: MasterRow | null = null;
    if (status !== 'red') {
      const row = this.sql
        .exec<{ received_at: number; body: string }>('SELECT received_at, body FROM events WHERE seq = ?', found.seq)
        .toArray()[0];
      if (row)
        event = rowOf({ seq: found.seq, stream: found.stream, version: found.version, received_at: row.received_at, body: row.body });
    }
    return { seq: found.seq, stream: found.stream, version: found.version, status, event };
  }

  /**
   * Up to `limit` events of `stream` from version `from` on (forward) or down (backward). Read
   * through the permanent dedupe index, so evicted versions are listed too (by seq, for the
   * reader to fetch from their master segment).
   */
  history(stream: string, from: number, limit: number, direction: 'forward' | 'backward'): HistoryPage {
    const head = this.sql
      .exec<{ stream_no: number; version: number }>('SELECT stream_no, version FROM streams WHERE stream = ?', stream)
      .toArray()[0];
    if (!head) return { head: 0, exists: false, events: [], marks: this.marks };
    const keys = this.sql
      .exec<{ seq: number; version: number }>(
        direction === 'forward'
          ? 'SELECT seq, version FROM event_keys WHERE stream_no = ? AND version >= ? ORDER BY version LIMIT ?'
          : 'SELECT seq, version FROM event_keys WHERE stream_no = ? AND version <= ? ORDER BY version DESC LIMIT ?',
        head.stream_no,
        from,
        limit,
      )
      .toArray();
    const hot = new Map<number, MasterRow>();
    const hotSeqs = keys.filter((k) => k.seq > this.marks.evictedThrough).map((k) => k.seq);
    if (hotSeqs.length > 0) {
      for (const r of this.sql.exec<{ seq: number; version: number; received_at: number; body: string }>(
        'SELECT seq, version, received_at, body FROM events WHERE seq IN (SELECT value FROM json_each(?))',
        JSON.stringify(hotSeqs),
      )) {
        hot.set(r.seq, rowOf({ ...r, stream }));
      }
    }
    return { head: head.version, exists: true, events: keys.map((k) => ({ ...k, row: hot.get(k.seq) ?? null })), marks: this.marks };
  }

  /**
   * The global read's view of this shard (decision 12): up to `limit` events after seq `after`, in
   * seq order (hot ones whole, evicted ones as the seq range to read from master segments), and a
   * promise: every event committed from now on gets a receipt time above `promise`, which is at
   * least `atLeast`. The promise is stored before the answer leaves (the output gate holds it), so
   * it survives a restart.
   */
  globalSlice(after: number, limit: number, atLeast = 0): GlobalSlice {
    const promise = Math.max(Date.now(), this.lastReceivedAt, this.promised, atLeast);
    if (promise > this.promised) {
      this.promised = promise;
      this.sql.exec(`INSERT INTO meta (key, value) VALUES ('promised', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, promise);
    }
    const { headSeq, evictedThrough } = this.marks;
    const last = Math.min(headSeq, after + limit);
    const cold = after < evictedThrough && last > after ? { firstSeq: after + 1, lastSeq: Math.min(evictedThrough, last) } : null;
    const hotAfter = Math.max(after, evictedThrough);
    const rows =
      last > hotAfter
        ? this.sql
            .exec<{ seq: number; stream: string; version: number; received_at: number; body: string }>(
              `SELECT e.seq, s.stream, e.version, e.received_at, e.body FROM events e JOIN streams s USING (stream_no)
                WHERE e.seq > ? AND e.seq <= ? ORDER BY e.seq`,
              hotAfter,
              last,
            )
            .toArray()
            .map(rowOf)
        : [];
    return { headSeq, promise, cold, rows, marks: this.marks };
  }

  /** The colour marks, for a writer that waits for its events' colour. */
  colourMarks(): ColourMarks {
    return this.marks;
  }

  /**
   * Waits until the event at `seq` is at least `colour` (blue or green), or `timeoutMs` passed;
   * answers the marks it saw last. It polls its own marks, so it does no I/O and holds nothing.
   */
  async waitFor(colour: 'blue' | 'green', seq: number, timeoutMs: number): Promise<ColourMarks> {
    const reached = () => (colour === 'blue' ? this.marks.blueThrough : this.marks.greenThrough) >= seq;
    const deadline = Date.now() + timeoutMs;
    while (!reached() && Date.now() < deadline) await scheduler.wait(WAIT_POLL_MS);
    return this.marks;
  }

  /** Counts per colour and the age of the lag, for GET /v1/status. */
  status(): ShardStatus {
    const counts = colourCounts(this.marks);
    const { blueThrough, greenThrough, headSeq, evictedThrough } = this.marks;
    return {
      tenant: this.identity?.tenant ?? null,
      shard: this.identity?.shard ?? null,
      headSeq,
      streams: this.nextStreamNo - 1, // stream numbers are handed out consecutively from 1
      counts,
      marks: this.marks,
      oldestGreyAt: counts.grey > 0 ? this.receivedAt(blueThrough + 1) : null,
      oldestBlueAt: counts.blue > 0 ? this.receivedAt(greenThrough + 1) : null,
      hotEvents: headSeq - evictedThrough,
    };
  }
}
