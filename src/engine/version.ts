// Expected-version concurrency: the special values, their parsing, and the pure check.

import { invalid } from './problem.js';

/** A stream's version is the number of events in it: 0 for a stream that does not exist yet. */
export type StreamVersion = number;

export type ExpectedVersion =
  | { readonly kind: 'any' }
  | { readonly kind: 'no_stream' }
  | { readonly kind: 'exists' }
  | { readonly kind: 'exact'; readonly version: StreamVersion };

export const ANY: ExpectedVersion = { kind: 'any' };
export const NO_STREAM: ExpectedVersion = { kind: 'no_stream' };
export const STREAM_EXISTS: ExpectedVersion = { kind: 'exists' };
export const exactly = (version: StreamVersion): ExpectedVersion => ({ kind: 'exact', version });

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

function parseOne(raw: string, from: string): ExpectedVersion {
  const value = raw.trim();
  if (value === 'any') return ANY;
  if (value === 'no_stream') return NO_STREAM;
  if (value === 'exists') return STREAM_EXISTS;
  if (DECIMAL.test(value) && Number.isSafeInteger(Number(value))) return exactly(Number(value));
  throw invalid(
    'invalid-expected-version',
    `${from} must be a non-negative integer version, "any", "no_stream" or "exists"; got "${raw.slice(0, 64)}"`,
  );
}

/** If-Match carries an entity tag: `"7"` or `7` for a version, `*` for "the stream exists". */
function parseIfMatch(raw: string): ExpectedVersion {
  const value = raw.trim();
  if (value === '*') return STREAM_EXISTS;
  const unquoted = value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  return parseOne(unquoted, 'If-Match');
}

/** Reads expectedVersion from the query parameter and the If-Match header; both may not disagree. */
export function parseExpectedVersion(query: string | undefined, ifMatch: string | undefined): ExpectedVersion {
  const fromQuery = query === undefined ? undefined : parseOne(query, 'expectedVersion');
  const fromHeader = ifMatch === undefined ? undefined : parseIfMatch(ifMatch);
  if (fromQuery && fromHeader && describe(fromQuery) !== describe(fromHeader)) {
    throw invalid(
      'invalid-expected-version',
      `expectedVersion (${describe(fromQuery)}) and If-Match (${describe(fromHeader)}) disagree; send one of them`,
    );
  }
  return fromQuery ?? fromHeader ?? ANY;
}

export function describe(expected: ExpectedVersion): string {
  return expected.kind === 'exact' ? String(expected.version) : expected.kind;
}

/** Does a stream at `current` satisfy the expectation? Pure; the shard calls it inside its transaction. */
export function matchesExpectedVersion(current: StreamVersion, expected: ExpectedVersion): boolean {
  switch (expected.kind) {
    case 'any':
      return true;
    case 'no_stream':
      return current === 0;
    case 'exists':
      return current > 0;
    case 'exact':
      return current === expected.version;
  }
}
