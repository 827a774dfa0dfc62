// Platform webhooks as pure functions: a request and the source's secrets in, a handshake answer or events out.
// The mapping of each platform to stream, type, id and time is documented in docs/webhooks.md (decision 10).

import { ProblemError } from '../problem.js';
import { methodNotAllowed } from './common.js';
import { discord } from './discord.js';
import { github } from './github.js';
import { meta } from './meta.js';
import { slack } from './slack.js';
import { standard } from './standard.js';
import { stripe } from './stripe.js';
import {
  WEBHOOK_SOURCES,
  type WebhookAdapter,
  type WebhookOutcome,
  type WebhookRequest,
  type WebhookSecrets,
  type WebhookSource,
} from './types.js';
import { x } from './x.js';

export { WEBHOOK_SOURCES } from './types.js';
export type { WebhookEvent, WebhookOutcome, WebhookReply, WebhookRequest, WebhookSecrets, WebhookSource } from './types.js';

const ADAPTERS: Record<WebhookSource, WebhookAdapter> = { github, slack, meta, x, discord, stripe, standard };

export function isWebhookSource(value: unknown): value is WebhookSource {
  return typeof value === 'string' && (WEBHOOK_SOURCES as readonly string[]).includes(value);
}

/** The methods a source accepts, for an `Allow` header: GET only where the platform has a GET handshake. */
export function allowedMethods(source: WebhookSource): string {
  return ADAPTERS[source].get ? 'GET, POST' : 'POST';
}

/**
 * Verifies a delivery with the platform's own scheme and maps it to events, or answers its handshake.
 * Throws only ProblemError: 400 (malformed after a valid signature), 401 (`invalid-signature`, `stale-request`,
 * `webhook-not-configured`), 404 (unknown source) and 405 (method). Nothing is stored on a throw.
 */
export async function handleWebhook(source: WebhookSource, request: WebhookRequest, secrets: WebhookSecrets): Promise<WebhookOutcome> {
  if (!isWebhookSource(source)) {
    throw new ProblemError(
      404,
      'not-found',
      `unknown webhook platform "${String(source).slice(0, 60)}"; known: ${WEBHOOK_SOURCES.join(', ')}`,
    );
  }
  const adapter = ADAPTERS[source];
  const config: WebhookSecrets = secrets !== null && typeof secrets === 'object' ? secrets : {};
  if (request.method === 'POST') return adapter.post(request, config);
  if (request.method === 'GET' && adapter.get) return adapter.get(request, config);
  throw methodNotAllowed(request.method, adapter.label, allowedMethods(source));
}
