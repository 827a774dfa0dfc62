// Folding a stream's events into its state: JSON Merge Patch (RFC 7396) of each event's data, in
// version order. A `null` member removes a key; a non-object patch replaces the whole state.

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

/** The state after applying every data in order, starting from nothing (null). */
export function foldState(datas: Iterable<Json>): Json {
  let state: Json = null;
  for (const data of datas) state = mergePatch(state, data);
  return state;
}
