// Planning an append: dedupe, expected-version check, sequence and version assignment. Pure: the
// shard loads what it needs, calls planAppend, and writes the plan inside one transaction.

import type { PreparedEvent } from './envelope.js';
import { describe, matchesExpectedVersion, type ExpectedVersion, type StreamVersion } from './version.js';

/** Where an already stored event sits, found by its dedupe key. */
export interface StoredPosition {
  seq: number;
  stream: string;
  version: StreamVersion;
}

export interface StreamHead {
  streamNo: number;
  version: StreamVersion;
}

export interface AppendInput {
  events: readonly PreparedEvent[];
  /** Applies to every stream the request writes (the stream route writes exactly one). */
  expected: ExpectedVersion;
  /** Stored events among the request's dedupe keys. */
  stored: ReadonlyMap<string, StoredPosition>;
  /** Current heads of the request's streams that exist. */
  heads: ReadonlyMap<string, StreamHead>;
  nextSeq: number;
  nextStreamNo: number;
}

/** The answer for one event of the request, in request order. */
export interface PlannedPosition extends StoredPosition {
  id: string;
  duplicate: boolean;
}

export interface NewRow {
  seq: number;
  streamNo: number;
  version: StreamVersion;
  event: PreparedEvent;
}

export interface HeadUpdate {
  stream: string;
  streamNo: number;
  version: StreamVersion;
}

export type AppendPlan =
  | {
      ok: true;
      positions: PlannedPosition[];
      rows: NewRow[];
      heads: HeadUpdate[];
      nextSeq: number;
      nextStreamNo: number;
    }
  | { ok: false; stream: string; expected: string; actual: StreamVersion };

/**
 * Decides what an append does. Events whose key is stored (or repeated earlier in the request) are
 * duplicates: they keep their original position and are not written. The expected version is
 * checked only when the request writes something, so retrying a request that succeeded is
 * answered with the original positions instead of a conflict.
 */
export function planAppend(input: AppendInput): AppendPlan {
  const positions: PlannedPosition[] = new Array(input.events.length);
  const rows: NewRow[] = [];
  const seen = new Map<string, StoredPosition>();
  const heads = new Map<string, HeadUpdate>();
  let nextSeq = input.nextSeq;
  let nextStreamNo = input.nextStreamNo;

  for (let i = 0; i < input.events.length; i++) {
    const event = input.events[i]!;
    const original = input.stored.get(event.key) ?? seen.get(event.key);
    if (original) {
      positions[i] = { id: event.id, seq: original.seq, stream: original.stream, version: original.version, duplicate: true };
      continue;
    }
    let head = heads.get(event.stream);
    if (!head) {
      const current = input.heads.get(event.stream);
      const version = current?.version ?? 0;
      if (!matchesExpectedVersion(version, input.expected)) {
        return { ok: false, stream: event.stream, expected: describe(input.expected), actual: version };
      }
      head = { stream: event.stream, streamNo: current?.streamNo ?? nextStreamNo++, version };
      heads.set(event.stream, head);
    }
    head.version += 1;
    const position = { seq: nextSeq++, stream: event.stream, version: head.version };
    seen.set(event.key, position);
    rows.push({ seq: position.seq, streamNo: head.streamNo, version: position.version, event });
    positions[i] = { id: event.id, ...position, duplicate: false };
  }
  return { ok: true, positions, rows, heads: [...heads.values()], nextSeq, nextStreamNo };
}
