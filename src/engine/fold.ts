// Folding a stream's events into its state. By default each event's data is applied as a JSON
// Merge Patch (RFC 7396), in version order: a `null` member removes a key; a non-object patch
// replaces the whole state. A tenant can configure a reducer per event type instead (see
// `Reducer`); reducers are data, not code, because a Worker cannot compile code at run time.

import { z } from 'zod';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (v: unknown): v is { [key: string]: Json } => v !== null && typeof v === 'object' && !Array.isArray(v);

/** RFC 7396 §2: applies `patch` to `target`, answering a new value (the inputs are not changed). */
export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: { [key: string]: Json } = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** A dotted path into the state (`totals.likes`): 1 to 8 segments of letters, digits, `_` and `-`. */
const pathSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,7}$/, 'a dotted path like "totals.likes"')
  .describe('A dotted path into the state, e.g. "totals.likes"');

/**
 * How an event of one type changes the state:
 * - `merge` (the default): JSON merge-patch of the event's data;
 * - `replace`: the state becomes the event's data;
 * - `ignore`: the state stays as it is (the event is still counted in `version`);
 * - `delete`: the state becomes null (a tombstone; a later event starts again from nothing);
 * - `{ "op": "increment", "path": "likes", "by"?: 1, "field"?: "amount" }`: adds `by`, or the
 *   number at `field` of the event's data, to the number at `path` (missing counts as 0);
 * - `{ "op": "append", "path": "comments", "field"?: "text" }`: appends the event's data (or its
 *   `field`) to the array at `path` (missing: a new array);
 * - `{ "op": "set", "path": "status", "field"?: "status" }`: sets `path` to the event's data (or its `field`).
 */
export const reducerSchema = z
  .union([
    z.enum(['merge', 'replace', 'ignore', 'delete']),
    z.object({ op: z.literal('increment'), path: pathSchema, by: z.number().finite().optional(), field: pathSchema.optional() }).strict(),
    z.object({ op: z.literal('append'), path: pathSchema, field: pathSchema.optional() }).strict(),
    z.object({ op: z.literal('set'), path: pathSchema, field: pathSchema.optional() }).strict(),
  ])
  .meta({ id: 'Reducer' });
export type Reducer = z.infer<typeof reducerSchema>;

/** Reducers by event type; types not listed are merged. */
export type Reducers = ReadonlyMap<string, Reducer>;

const get = (value: Json, path: readonly string[]): Json | undefined => {
  let at: Json | undefined = value;
  for (const key of path) at = isObject(at) ? at[key] : undefined;
  return at;
};

/** A copy of `state` (an object, or a new one) with `path` set to `value`. */
function setIn(state: Json, path: readonly string[], value: Json): Json {
  const [key, ...rest] = path;
  const out: { [key: string]: Json } = isObject(state) ? { ...state } : {};
  out[key!] = rest.length === 0 ? value : setIn(out[key!] ?? null, rest, value);
  return out;
}

/** Applies one event's data to the state with `reducer`. */
export function reduce(state: Json, data: Json, reducer: Reducer = 'merge'): Json {
  if (reducer === 'merge') return mergePatch(state, data);
  if (reducer === 'replace') return data;
  if (reducer === 'ignore') return state;
  if (reducer === 'delete') return null;
  const path = reducer.path.split('.');
  const input = reducer.field === undefined ? data : (get(data, reducer.field.split('.')) ?? null);
  if (reducer.op === 'set') return setIn(state, path, input);
  const current = get(state, path);
  if (reducer.op === 'append') return setIn(state, path, [...(Array.isArray(current) ? current : []), input]);
  const by = reducer.field === undefined ? (reducer.by ?? 1) : typeof input === 'number' ? input : 0;
  return setIn(state, path, (typeof current === 'number' ? current : 0) + by);
}

/** The state after merging every data in order, starting from nothing (null). */
export function foldState(datas: Iterable<Json>): Json {
  let state: Json = null;
  for (const data of datas) state = mergePatch(state, data);
  return state;
}

/** The state after applying every event in order with its type's reducer (merge when none), starting from null. */
export function foldEvents(events: Iterable<{ type: string; data: Json }>, reducers: Reducers = new Map()): Json {
  let state: Json = null;
  for (const e of events) state = reduce(state, e.data, reducers.get(e.type));
  return state;
}
