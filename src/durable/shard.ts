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

/** One RPC: the requests that concurrent writers sent this shard, committed together. */
/** The publish queue's message: this shard has grey events. */
export interface PublishMessage {
  tenant: string;
  shard: number;
}

export interface AppendCall {
  tenant: string;
  shard: number;
  requests: AppendRequest[];
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

/** A refusal is an answer, not an exception: exceptions across RPC surface as unhandled errors. */
export type MarkResult = { ok: true; blueThrough: number; duplicate: boolean } | { ok: false; reason: string };

export interface ShardStatus {
  tenant: string | null;
  shard: number | null;
  headSeq: number;
  streams: number;
  counts: Record<Colour, number>;
  /** Receipt time of the oldest event not yet in the master store, epoch ms. */
  oldestGreyAt: number | null;
}

/**
 * The stored body of a hot event, as JSON text: [id, type, source, subject, time, data]. Built
 * around `data`, which is already JSON text, so it is never parsed or escaped again.
 */
export function eventBody(e: PreparedEvent): string {
  return `${JSON.stringify([e.id, e.type, e.source, e.subject, e.time]).slice(0, -1)},${e.data}]`;
}

/** Stream heads kept in memory at most (~100 bytes each). */
const HEAD_CACHE_SIZE = 50_000;

/** Events written in one group commit at most; a larger single call is still written whole. */
const MAX_EVENTS_PER_COMMIT = 10_000;

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
    const results = this.appendNow(calls[0]!, requests);
    await this.ctx.storage.sync();
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

    if (rows.length > 0) {
      this.write(call, rows, [...changedHeads.values()], nextSeq - 1, nextStreamNo);
      this.schedulePublish();
    }
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
    const receivedAt = Date.now();
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
        `INSERT INTO meta (key, value) VALUES ('head_seq', ?), ('next_stream_no', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        headSeq,
        nextStreamNo,
      );
    });
    this.marks = { ...this.marks, headSeq };
    this.nextStreamNo = nextStreamNo;
  }

  /**
   * Arranges for a publish request: at once when enough events are grey, else after the delay.
   * The alarm (not the write path) sends the queue message, so a failed send is retried by the
   * alarm's own retries and never fails a write.
   */
  private schedulePublish(): void {
    const grey = this.marks.headSeq - this.marks.blueThrough;
    if (grey <= 0) return;
    const { minEvents, delayMs } = config(this.env).publish;
    const at = Date.now() + (grey >= minEvents ? 0 : delayMs);
    if (this.alarmAt === null || at < this.alarmAt) {
      this.alarmAt = at;
      void this.ctx.storage.setAlarm(at);
    }
  }

  /**
   * Asks the publish queue to write this shard's grey events, and always re-arms while any stay
   * grey: REDRIVE_MS later after a send (a lost or dead-lettered message is re-driven), sooner
   * after a failed send. It never throws, so it never depends on the runtime's limited retries.
   */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    if (!this.identity || this.marks.headSeq === this.marks.blueThrough) return;
    const { redriveMs } = config(this.env).publish;
    let next = redriveMs;
    try {
      await this.env.PUBLISH_QUEUE.send({ tenant: this.identity.tenant, shard: this.identity.shard } satisfies PublishMessage);
    } catch (error) {
      console.error(JSON.stringify({ msg: 'publish request not sent, will retry', ...this.identity, error: String(error) }));
      next = Math.min(redriveMs, 5_000);
    }
    this.alarmAt = Date.now() + next;
    await this.ctx.storage.setAlarm(this.alarmAt);
  }

  /**
   * The next range to publish: from the first grey event, at most `maxEvents`. Until it is marked
   * published, every caller gets the same range (kept in meta, so across restarts too): a retried
   * or duplicated publish writes the same segment under the same key, never an overlapping one.
   */
  claimPublish(maxEvents: number): PublishClaim | null {
    if (!this.identity || this.marks.headSeq === this.marks.blueThrough) return null;
    const firstSeq = this.marks.blueThrough + 1;
    const held = this.sql.exec<{ value: number }>(`SELECT value FROM meta WHERE key = 'claim_last'`).toArray()[0];
    let lastSeq: number;
    if (held && held.value >= firstSeq) {
      lastSeq = held.value;
    } else {
      lastSeq = Math.min(this.marks.headSeq, firstSeq + maxEvents - 1);
      this.sql.exec(
        `INSERT INTO meta (key, value) VALUES ('claim_last', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        lastSeq,
      );
    }
    const rows = this.sql
      .exec<{ seq: number; stream: string; version: number; received_at: number; body: string }>(
        `SELECT e.seq, s.stream, e.version, e.received_at, e.body FROM events e JOIN streams s USING (stream_no)
          WHERE e.seq BETWEEN ? AND ? ORDER BY e.seq`,
        firstSeq,
        lastSeq,
      )
      .toArray()
      .map((r): MasterRow => {
        const [id, type, source, subject, time, data] = JSON.parse(r.body) as [
          string,
          string,
          string | null,
          string | null,
          number,
          unknown,
        ];
        return {
          seq: r.seq,
          id,
          stream: r.stream,
          version: r.version,
          type,
          source,
          subject,
          time,
          receivedAt: r.received_at,
          data: JSON.stringify(data),
        };
      });
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
    if (segment.lastSeq <= this.marks.blueThrough) return { ok: true, blueThrough: this.marks.blueThrough, duplicate: true };
    if (segment.firstSeq !== this.marks.blueThrough + 1 || segment.lastSeq > this.marks.headSeq) {
      return {
        ok: false,
        reason: `segment ${segment.firstSeq}..${segment.lastSeq} does not continue the master store, which ends at ${this.marks.blueThrough} (head ${this.marks.headSeq})`,
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
      this.sql.exec(
        `INSERT INTO meta (key, value) VALUES ('blue_through', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        segment.lastSeq,
      );
      this.sql.exec(`DELETE FROM meta WHERE key = 'claim_last'`);
    });
    this.marks = { ...this.marks, blueThrough: segment.lastSeq };
    this.alarmAt = null; // what remains grey is asked for afresh
    this.schedulePublish();
    return { ok: true, blueThrough: segment.lastSeq, duplicate: false };
  }

  /** Counts per colour and the age of the lag, for GET /v1/status. */
  status(): ShardStatus {
    const counts = colourCounts(this.marks);
    let oldestGreyAt: number | null = null;
    if (counts.grey > 0) {
      const row = this.sql
        .exec<{ received_at: number }>('SELECT received_at FROM events WHERE seq = ?', this.marks.blueThrough + 1)
        .toArray()[0];
      oldestGreyAt = row?.received_at ?? null;
    }
    return {
      tenant: this.identity?.tenant ?? null,
      shard: this.identity?.shard ?? null,
      headSeq: this.marks.headSeq,
      streams: this.nextStreamNo - 1, // stream numbers are handed out consecutively from 1
      counts,
      oldestGreyAt,
    };
  }
}
