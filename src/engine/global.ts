// The global read's order and cursor (docs/decisions/0012-global-order.md), pure.
//
// Events of all shards are read in the order of (receivedAt, shard, seq). Per shard receivedAt
// never goes down along seq, so each shard's events are already in that order, and the global
// read is a merge. What makes it stable is the bound: a page serves only events that sort at or
// below the smallest of the shards' bounds, where a shard that answered everything it has is
// bounded by its promise (every later commit there gets a receipt time above it) and a shard that
// answered a full page by its last event. Nothing can later appear below that bound, so every
// reader, whenever it reads, sees the same sequence; a cursor resumes it exactly.

import { ProblemError } from './problem.js';
import type { MasterRow } from './segment.js';

/** A position in the global order: receipt time (epoch ms), shard, seq. */
export type OrderKey = readonly [receivedAt: number, shard: number, seq: number];

/**
 * Where a reader stands: the key of the last event it walked past (null: the start) and, per shard,
 * the last seq walked (so resuming is a seek by seq, hot or cold, with no search by time).
 */
export interface GlobalCursor {
  at: OrderKey | null;
  positions: number[];
}

/** One shard's contribution to a page: its events after the cursor's position, in seq order. */
export interface ShardSlice {
  shard: number;
  rows: MasterRow[];
  /** The shard had more events than it answered. */
  full: boolean;
  /** Every event the shard commits later gets a receipt time above this. */
  promise: number;
}

export interface GlobalFilter {
  types?: readonly string[];
  streamPrefix?: string;
}

export interface GlobalPage {
  events: { shard: number; row: MasterRow }[];
  cursor: GlobalCursor;
  /** No shard had more than it answered and every event up to the bound was walked: the reader is at the stable head. */
  caughtUp: boolean;
  /** Receipt time up to which the order is settled; nothing can appear at or below it any more. */
  watermark: number;
}

export const CURSOR_VERSION = 1;

export function compareKeys(a: OrderKey, b: OrderKey): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

export function startCursor(shardCount: number): GlobalCursor {
  return { at: null, positions: Array.from({ length: shardCount }, () => 0) };
}

/** The cursor as an opaque token: base64url of a versioned JSON array. */
export function encodeCursor(cursor: GlobalCursor): string {
  const json = JSON.stringify([CURSOR_VERSION, cursor.at, cursor.positions]);
  return btoa(json).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const badCursor = (why: string) =>
  new ProblemError(
    400,
    'invalid-request',
    `cursor is not valid (${why}); pass a cursor this API returned, or leave it out to read from the start`,
  );

/** Reads a token back, checked against the tenant's shard count; anything else is a 400. */
export function decodeCursor(token: string, shardCount: number): GlobalCursor {
  if (token.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(token)) throw badCursor('not a base64url token');
  let parsed: unknown;
  try {
    parsed = JSON.parse(atob(token.replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    throw badCursor('cannot be decoded');
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || parsed[0] !== CURSOR_VERSION) throw badCursor('unknown version');
  const [, at, positions] = parsed as [number, unknown, unknown];
  const natural = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!Array.isArray(positions) || positions.length !== shardCount || !positions.every(natural)) {
    throw badCursor(`it does not fit this tenant's ${shardCount} shards`);
  }
  if (at !== null && !(Array.isArray(at) && at.length === 3 && at.every(natural) && (at[1] as number) <= shardCount)) {
    throw badCursor('bad position');
  }
  return { at: at as OrderKey | null, positions };
}

/** Whether cursor `a` is at or past `b` on every shard (acks never move a checkpoint back). */
export function cursorAtOrPast(a: GlobalCursor, b: GlobalCursor): boolean {
  return a.positions.every((p, i) => p >= (b.positions[i] ?? 0));
}

export function matches(row: MasterRow, filter: GlobalFilter): boolean {
  if (filter.types && filter.types.length > 0 && !filter.types.includes(row.type)) return false;
  if (filter.streamPrefix && !row.stream.startsWith(filter.streamPrefix)) return false;
  return true;
}

/**
 * Merges the shards' slices into one page of at most `limit` events that pass `filter`. Events
 * are walked in (receivedAt, shard, seq) order up to the bound; events the filter refuses are
 * walked past too, so the cursor moves over them.
 */
export function mergePage(cursor: GlobalCursor, slices: readonly ShardSlice[], limit: number, filter: GlobalFilter = {}): GlobalPage {
  const shardCount = cursor.positions.length;
  let bound: OrderKey = [Number.MAX_SAFE_INTEGER, shardCount, Number.MAX_SAFE_INTEGER];
  for (const s of slices) {
    const last = s.rows[s.rows.length - 1];
    const b: OrderKey = s.full && last ? [last.receivedAt, s.shard, last.seq] : [s.promise, shardCount, 0];
    if (compareKeys(b, bound) < 0) bound = b;
  }
  const walk: { key: OrderKey; shard: number; row: MasterRow }[] = [];
  for (const s of slices) {
    for (const row of s.rows) {
      const key: OrderKey = [row.receivedAt, s.shard, row.seq];
      if (compareKeys(key, bound) > 0) break; // a shard's rows are in order: the rest are past the bound too
      walk.push({ key, shard: s.shard, row });
    }
  }
  walk.sort((a, b) => compareKeys(a.key, b.key));
  const positions = [...cursor.positions];
  const events: GlobalPage['events'] = [];
  let at: OrderKey | null = cursor.at;
  let walked = 0;
  for (const w of walk) {
    if (events.length >= limit) break;
    walked += 1;
    if (at === null || compareKeys(w.key, at) > 0) at = w.key;
    positions[w.shard] = w.row.seq;
    if (matches(w.row, filter)) events.push({ shard: w.shard, row: w.row });
  }
  const whole = walked === walk.length;
  // Everything up to the bound was walked: the cursor moves to the bound itself, so a reader that
  // skipped events (filtered out, or none there) does not walk them again.
  if (whole && bound[0] !== Number.MAX_SAFE_INTEGER && (at === null || compareKeys(bound, at) > 0)) at = bound;
  // (the bound is never the initial one when there is a slice; with none, nothing moves)
  const caughtUp = whole && slices.every((s) => !s.full);
  return { events, cursor: { at, positions }, caughtUp, watermark: at?.[0] ?? 0 };
}
