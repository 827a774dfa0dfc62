// The contract between the webhook route of the Worker and the platform adapters: what comes in, what goes out.

/** The platforms with an adapter; each is a value of `sources.platform` in the catalog. */
export type WebhookSource = 'github' | 'slack' | 'meta' | 'x' | 'discord' | 'stripe' | 'standard';

export const WEBHOOK_SOURCES: readonly WebhookSource[] = ['github', 'slack', 'meta', 'x', 'discord', 'stripe', 'standard'];

/** One HTTP request as the Worker received it, reduced to what the adapters read. */
export interface WebhookRequest {
  method: 'GET' | 'POST';
  /** Lower-case names. */
  headers: Record<string, string>;
  query: Record<string, string>;
  /** The raw bytes as received: every signature is over these, never over a re-serialization. */
  body: Uint8Array;
  /** Receipt time, epoch ms; injected so that replay windows can be tested. */
  now: number;
}

/**
 * Per tenant and source: what the operator configured. Secrets never appear in errors or logs.
 * Which field a platform reads is listed in docs/webhooks.md; the others are ignored.
 */
export interface WebhookSecrets {
  /** The HMAC secret: GitHub webhook secret, Slack signing secret, Meta app secret, X consumer secret, Stripe endpoint secret (`whsec_…`, used as text), Standard Webhooks secret (`whsec_<base64>`, decoded). */
  secret?: string;
  /** Meta only: the verify token typed into the app dashboard, compared with `hub.verify_token`. */
  verifyToken?: string;
  /** Discord only: the application's public key, 64 hex digits. */
  publicKey?: string;
  /** Standard Webhooks only: the first segment of the streams, `standard` when absent. */
  streamPrefix?: string;
}

/** An answer the Worker sends as is. A 204 carries no body whatever `body` says. */
export interface WebhookReply {
  status: number;
  contentType: string;
  body: string;
}

/** An event ready for the store's envelope: the fields of the JSON write body of src/engine/envelope.ts, stream included. */
export interface WebhookEvent {
  /** Deterministic from the platform's delivery, so a redelivery maps to the same id and dedupe stores it once. */
  id: string;
  stream: string;
  type: string;
  /** RFC 3339, to the millisecond. */
  time?: string;
  source: string;
  subject?: string;
  data: unknown;
}

/**
 * `respond`: store nothing, answer this (handshakes: Slack url_verification, Meta hub.challenge, X CRC, Discord PING).
 * `events`: store these (possibly none), then answer `respond` when given (Discord and Slack interactivity want a specific
 * reply), else the Worker's usual write answer.
 */
export type WebhookOutcome = ({ kind: 'respond' } & WebhookReply) | { kind: 'events'; events: WebhookEvent[]; respond?: WebhookReply };

/** One platform: its POST handler and, when the platform has a GET handshake, its GET handler. */
export interface WebhookAdapter {
  /** How the platform is named in problem details. */
  label: string;
  post: (request: WebhookRequest, secrets: WebhookSecrets) => Promise<WebhookOutcome>;
  get?: (request: WebhookRequest, secrets: WebhookSecrets) => Promise<WebhookOutcome>;
}
