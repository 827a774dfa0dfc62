// The read side's stream routes: the history of one entity (paged, version-ordered, hot and cold)
// and its folded state. CQRS: nothing here writes.

import type { HistoryPage } from '../durable/shard.js';
import { colourOf } from '../engine/colour.js';
import { foldEvents, type Json } from '../engine/fold.js';
import { ProblemError } from '../engine/problem.js';
import { shardOf } from '../engine/routing.js';
import { readCold, viewOf, type EventView } from './events.js';
import { loadReducers } from './reducers.js';
import { shardStub } from './shards.js';
import type { Tenant } from './tenant.js';

export type Direction = 'forward' | 'backward';

export interface HistoryQuery {
  from?: number;
  limit: number;
  direction: Direction;
  /** Only events whose time is at or before this (epoch ms). */
  asOf?: number;
}

export interface History {
  stream: string;
  headVersion: number;
  events: EventView[];
  /** The `from` of the next page in the same direction, or null at the end. */
  next: number | null;
}

/** One page of a stream's history, hot or cold, in version order (or reversed). */
export async function readHistory(env: Env, tenant: Tenant, stream: string, query: HistoryQuery): Promise<History> {
  const shard = shardOf(stream, tenant.shardCount);
  const from = query.from ?? (query.direction === 'forward' ? 1 : Number.MAX_SAFE_INTEGER);
  const page: HistoryPage = await shardStub(env, tenant.id, shard).history(stream, from, query.limit, query.direction);
  if (!page.exists) throw new ProblemError(404, 'not-found', `stream "${stream.slice(0, 256)}" has no events in this tenant`);
  const cold = await readCold(
    env,
    tenant.id,
    shard,
    page.events.filter((e) => e.row === null).map((e) => e.seq),
  );
  const events: EventView[] = [];
  for (const e of page.events) {
    const row = e.row ?? cold.get(e.seq)!;
    if (query.asOf !== undefined && row.time > query.asOf) continue;
    events.push(viewOf(row, shard, colourOf(e.seq, page.marks)));
  }
  const last = page.events[page.events.length - 1];
  let next: number | null = null;
  if (last && page.events.length === query.limit) {
    const candidate = query.direction === 'forward' ? last.version + 1 : last.version - 1;
    if (candidate >= 1 && candidate <= page.head) next = candidate;
  }
  return { stream, headVersion: page.head, events, next };
}

/** Most events one fold reads; a longer stream is refused with what to do (until snapshots exist). */
export const MAX_FOLD_EVENTS = 100_000;
const FOLD_PAGE = 1000;

export interface FoldedState {
  stream: string;
  /** The version the state reflects (0: before the first event). */
  version: number;
  /** The time of the last event folded, or null when none was. */
  time: string | null;
  headVersion: number;
  state: Json;
}

/**
 * The stream's state: its events folded in version order with the tenant's reducers (JSON
 * merge-patch of the data for types without one), up to
 * `untilVersion` and of events whose time is at or before `asOf`.
 */
export async function readState(
  env: Env,
  tenant: Tenant,
  stream: string,
  until: { version?: number; asOf?: number },
): Promise<FoldedState> {
  const reducers = await loadReducers(env, tenant.id);
  const folded: { type: string; data: Json }[] = [];
  let version = 0;
  let time: string | null = null;
  let headVersion = 0;
  let from: number | null = 1;
  const last = until.version ?? Number.MAX_SAFE_INTEGER;
  while (from !== null) {
    // At least one event a page, so that ?version=0 still learns the head (and folds nothing).
    const page = await readHistory(env, tenant, stream, {
      from,
      limit: Math.max(1, Math.min(FOLD_PAGE, last - from + 1)),
      direction: 'forward',
      ...(until.asOf === undefined ? {} : { asOf: until.asOf }),
    });
    headVersion = page.headVersion;
    if (until.version !== undefined && until.version > headVersion) {
      throw new ProblemError(
        400,
        'invalid-request',
        `version ${until.version} is past the stream's head ${headVersion}; ask for at most ${headVersion}`,
      );
    }
    for (const e of page.events) {
      if (e.version > last) break;
      folded.push({ type: e.type, data: e.data as Json });
      version = e.version;
      time = e.time;
    }
    if (folded.length > MAX_FOLD_EVENTS) {
      throw new ProblemError(
        413,
        'payload-too-large',
        `stream has more than ${MAX_FOLD_EVENTS} events to fold; ask for ?version= to fold a prefix`,
      );
    }
    from = page.next !== null && page.next <= last ? page.next : null;
  }
  return { stream, version, time, headVersion, state: foldEvents(folded, reducers) };
}
