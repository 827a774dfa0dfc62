// Errors that carry their HTTP meaning; one handler at the edge turns them into RFC 9457 problems.

/** The stable problem types of the API; each becomes `https://eventstore.dev/problems/<type>`. */
export type ProblemType =
  | 'invalid-request'
  | 'invalid-json'
  | 'invalid-encoding'
  | 'unsupported-media-type'
  | 'payload-too-large'
  | 'too-many-events'
  | 'invalid-event'
  | 'invalid-stream-name'
  | 'invalid-expected-version'
  | 'version-conflict'
  | 'not-found'
  | 'method-not-allowed'
  | 'shard-unavailable'
  | 'unauthorized'
  | 'forbidden'
  | 'rate-limited'
  | 'invalid-signature'
  | 'stale-request'
  | 'webhook-not-configured'
  | 'invalid-query'
  | 'query-limit'
  | 'internal';

export const PROBLEM_BASE = 'https://eventstore.dev/problems/';

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

const TITLES: Record<ProblemType, string> = {
  'invalid-request': 'Invalid request',
  'invalid-json': 'Body is not valid JSON',
  'invalid-encoding': 'Body is not valid UTF-8',
  'unsupported-media-type': 'Unsupported media type',
  'payload-too-large': 'Payload too large',
  'too-many-events': 'Too many events in one request',
  'invalid-event': 'Invalid event',
  'invalid-stream-name': 'Invalid stream name',
  'invalid-expected-version': 'Invalid expected version',
  'version-conflict': 'Stream version conflict',
  'not-found': 'Not found',
  'method-not-allowed': 'Method not allowed',
  'shard-unavailable': 'Shard unavailable',
  unauthorized: 'Missing or unknown API key',
  forbidden: 'The API key lacks the scope',
  'rate-limited': 'Too many requests',
  'invalid-signature': 'Invalid webhook signature',
  'stale-request': 'Request outside the replay window',
  'webhook-not-configured': 'Webhook source not configured',
  'invalid-query': 'SQL the query engine cannot run',
  'query-limit': 'Query over a limit',
  internal: 'Internal error',
};

/** An error the caller can act on: it knows its status, its stable type and what to fix. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly type: ProblemType,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
  }

  toDocument(): ProblemDocument {
    return {
      type: PROBLEM_BASE + this.type,
      title: TITLES[this.type],
      status: this.status,
      detail: this.detail,
      ...this.extensions,
    };
  }
}

export const invalid = (type: ProblemType, detail: string, extensions?: Record<string, unknown>) =>
  new ProblemError(400, type, detail, extensions);

export function problemDocument(status: number, type: ProblemType, detail: string): ProblemDocument {
  return new ProblemError(status, type, detail).toDocument();
}
