// Stripe: `Stripe-Signature: t=…,v1=…[,v1=…]` (HMAC-SHA256 of `{t}.{body}` with the endpoint secret), 300 s
// tolerance, one event per delivery with Stripe's own event id.

import { invalid } from '../problem.js';
import {
  bodyText,
  checkWindow,
  configured,
  eventOf,
  field,
  idText,
  isoFromEpoch,
  isoFromMs,
  isoFromText,
  obj,
  parseJsonObject,
  platformId,
  requiredSignatureHeader,
  signatureProblem,
  str,
  streamOf,
  subjectOf,
  typeOf,
  unixSeconds,
  type JsonObject,
} from './common.js';
import { concatBytes, hexToBytes, hmacSha256, matchesAny, utf8 } from './crypto.js';
import type { WebhookAdapter, WebhookRequest } from './types.js';

const LABEL = 'Stripe';

/**
 * Parses and verifies the header as Stripe's libraries do: `t` is the last `t=`, every `v1=` is a candidate (several
 * during a secret rotation), other schemes are ignored. The tolerance applies to the past only, as in those libraries.
 */
async function verify(request: WebhookRequest, secret: string): Promise<void> {
  const value = requiredSignatureHeader(request, 'stripe-signature', 'Stripe-Signature', LABEL);
  let t: string | undefined;
  const candidates: Uint8Array[] = [];
  let v1 = 0;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const text = part.slice(eq + 1).trim();
    if (name === 't') t = text;
    else if (name === 'v1') {
      v1++;
      const bytes = hexToBytes(text, 32);
      if (bytes) candidates.push(bytes);
    }
  }
  if (t === undefined) throw signatureProblem('Stripe-Signature has no t=<Unix seconds> timestamp');
  const seconds = unixSeconds(t, 'Stripe-Signature timestamp');
  if (v1 === 0) throw signatureProblem('Stripe-Signature has no v1= signature (only the v1 scheme is accepted)');
  const expected = await hmacSha256(secret, concatBytes(utf8(`${seconds}.`), request.body));
  if (!matchesAny(expected, candidates)) {
    throw signatureProblem(
      `Stripe-Signature has no v1 signature matching {t}.{body} signed with the configured endpoint secret (${v1} tried)`,
    );
  }
  checkWindow(seconds, request.now, 'Stripe-Signature timestamp', false);
}

/** The stream: the object the event is about (`data.object`), else the related object of a thin event. */
function streamOfEvent(event: JsonObject): string {
  const object = obj(field(obj(event.data), 'object'));
  const kind = str(field(object, 'object'));
  const id = idText(field(object, 'id'));
  if (kind !== undefined && id !== undefined) return streamOf('stripe', kind, id);
  const related = obj(event.related_object);
  const relatedType = str(field(related, 'type'));
  const relatedId = idText(field(related, 'id'));
  if (relatedType !== undefined && relatedId !== undefined) return streamOf('stripe', relatedType, relatedId);
  return streamOf('stripe', '_');
}

export const stripe: WebhookAdapter = {
  label: LABEL,
  async post(request, secrets) {
    const secret = configured(secrets, 'secret', 'stripe', 'endpoint secret');
    await verify(request, secret);
    const event = parseJsonObject(bodyText(request, LABEL), 'the body', LABEL);
    // Stripe retries a delivery with the same event id: stored once.
    const id = platformId(event.id, 'the event "id"', LABEL);
    const type = str(event.type);
    if (type === undefined) throw invalid('invalid-request', 'the event has no "type"');
    const object = obj(field(obj(event.data), 'object'));
    return {
      kind: 'events',
      events: [
        eventOf({
          id: `stripe:${id}`,
          stream: streamOfEvent(event),
          type: typeOf('stripe', type),
          time: isoFromEpoch(event.created) ?? isoFromText(event.created) ?? isoFromMs(request.now),
          source: 'stripe',
          subject: subjectOf(typeof field(object, 'customer') === 'string' ? field(object, 'customer') : undefined),
          data: event,
        }),
      ],
    };
  },
};
