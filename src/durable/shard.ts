// The shard Durable Object: the status memory of one tenant's shard and its master write order.

import { DurableObject } from 'cloudflare:workers';
import { planAppend, type StoredPosition, type StreamHead } from '../engine/append.js';
import { colourCounts, colourOf, type Colour, type ColourMarks } from '../engine/colour.js';
import type { PreparedEvent } from '../engine/envelope.js';
import type { ExpectedVersion } from '../engine/version.js';
import { migrate } from './migrations.js';
import { SHARD_MIGRATIONS } from './shard-schema.js';

export interface AppendRequest {
  tenant: string;
  shard: number;
  events: PreparedEvent[];
  expected: ExpectedVersion;
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

export interface ShardStatus {
  tenant: string | null;
  shard: number | null;
  headSeq: number;
  streams: number;
  counts: Record<Colour, number>;
  /** Receipt time of the oldest event not yet in the master store, epoch ms. */
  oldestGreyAt: number | null;
}

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

  /** Records which tenant and shard this object is, and refuses a request meant for another. */
  private claim(tenant: string, shard: number): void {
    if (this.identity) {
      if (this.identity.tenant !== tenant || this.identity.shard !== shard) {
        throw new Error(`shard object of ${this.identity.tenant}/${this.identity.shard} was sent a request for ${tenant}/${shard}`);
      }
      return;
    }
    this.sql.exec(`INSERT INTO meta (key, value) VALUES ('tenant', ?), ('shard', ?)`, tenant, shard);
    this.identity = { tenant, shard };
  }

  /**
   * Appends a request's events atomically: all are stored, or none (version conflict). Runs with
   * no await, so no other request interleaves, and its writes commit together before the answer
   * leaves the object (output gate): an acknowledged event is durable.
   */
  append(request: AppendRequest): AppendResult {
    const { events } = request;
    const keys = JSON.stringify(events.map((e) => e.key));
    const streams = JSON.stringify([...new Set(events.map((e) => e.stream))]);

    const stored = new Map<string, StoredPosition>();
    for (const row of this.sql.exec<{ key: string; seq: number; version: number; stream: string }>(
      `SELECT k.key, k.seq, k.version, s.stream FROM event_keys k JOIN streams s ON s.stream_no = k.stream_no
        WHERE k.key IN (SELECT value FROM json_each(?))`,
      keys,
    )) {
      stored.set(row.key, { seq: row.seq, stream: row.stream, version: row.version });
    }
    const heads = new Map<string, StreamHead>();
    for (const row of this.sql.exec<{ stream: string; stream_no: number; version: number }>(
      'SELECT stream, stream_no, version FROM streams WHERE stream IN (SELECT value FROM json_each(?))',
      streams,
    )) {
      heads.set(row.stream, { streamNo: row.stream_no, version: row.version });
    }

    const plan = planAppend({
      events,
      expected: request.expected,
      stored,
      heads,
      nextSeq: this.marks.headSeq + 1,
      nextStreamNo: this.nextStreamNo,
    });
    if (!plan.ok) return plan;

    if (plan.rows.length > 0) {
      const receivedAt = Date.now();
      this.ctx.storage.transactionSync(() => {
        this.claim(request.tenant, request.shard);
        this.sql.exec(
          `INSERT INTO streams (stream_no, stream, version)
             SELECT value->>0, value->>1, value->>2 FROM json_each(?) WHERE true
           ON CONFLICT (stream_no) DO UPDATE SET version = excluded.version`,
          JSON.stringify(plan.heads.map((h) => [h.streamNo, h.stream, h.version])),
        );
        const rows = plan.rows.map((r) =>
          JSON.stringify([
            r.seq,
            r.event.id,
            r.streamNo,
            r.version,
            r.event.type,
            r.event.source,
            r.event.subject,
            r.event.time,
            receivedAt,
            r.event.data,
          ]),
        );
        for (const chunk of jsonChunks(rows)) {
          this.sql.exec(
            `INSERT INTO events (seq, id, stream_no, version, type, source, subject, time, received_at, data)
               SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9
               FROM json_each(?)`,
            chunk,
          );
        }
        for (const chunk of jsonChunks(plan.rows.map((r) => JSON.stringify([r.event.key, r.seq, r.streamNo, r.version])))) {
          this.sql.exec(
            'INSERT INTO event_keys (key, seq, stream_no, version) SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?)',
            chunk,
          );
        }
        this.sql.exec(
          `INSERT INTO meta (key, value) VALUES ('head_seq', ?), ('next_stream_no', ?)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
          plan.nextSeq - 1,
          plan.nextStreamNo,
        );
      });
      this.marks = { ...this.marks, headSeq: plan.nextSeq - 1 };
      this.nextStreamNo = plan.nextStreamNo;
    }

    return {
      ok: true,
      positions: plan.positions.map((p) => ({ ...p, status: p.duplicate ? colourOf(p.seq, this.marks) : 'grey' })),
    };
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
    const streams = this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM streams').one().n;
    return {
      tenant: this.identity?.tenant ?? null,
      shard: this.identity?.shard ?? null,
      headSeq: this.marks.headSeq,
      streams,
      counts,
      oldestGreyAt,
    };
  }
}
