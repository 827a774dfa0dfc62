// Standard Webhooks (standardwebhooks.com, the scheme of Svix and its users): `webhook-id`, `webhook-timestamp`
// (five minutes either way) and `webhook-signature` (space-separated `v1,<base64>` of HMAC-SHA256 of `{id}.{ts}.{body}`).

import {
  bodyText,
  checkWindow,
  eventOf,
  field,
  idText,
  isoFromMs,
  isoFromText,
  notConfigured,
  obj,
  parseJson,
  platformId,
  requiredSignatureHeader,
  signatureProblem,
  str,
  streamOf,
  typeOf,
  unixSeconds,
} from './common.js';
import { base64ToBytes, concatBytes, hmacSha256, matchesAny, utf8 } from './crypto.js';
import type { WebhookAdapter, WebhookRequest, WebhookSecrets } from './types.js';

const LABEL = 'Standard Webhooks';

/** The signing key: the base64 after `whsec_` (the prefix is optional, as in the reference libraries). */
function keyOf(secrets: WebhookSecrets): Uint8Array {
  const secret = secrets.secret;
  if (typeof secret !== 'string' || secret === '') throw notConfigured('standard', 'signing secret');
  const key = base64ToBytes(secret.startsWith('whsec_') ? secret.slice(6) : secret);
  if (!key || key.byteLength === 0) throw notConfigured('standard', 'valid signing secret (whsec_ and base64)');
  return key;
}

/** The first segment(s) of the streams: the configured prefix (made a valid stream name like any segment), else `standard`. */
function prefixOf(secrets: WebhookSecrets): string {
  const prefix = secrets.streamPrefix;
  return typeof prefix === 'string' && prefix !== '' ? streamOf(...prefix.split('/')) : 'standard';
}

async function verify(request: WebhookRequest, key: Uint8Array): Promise<{ id: string; seconds: number }> {
  const id = requiredSignatureHeader(request, 'webhook-id', 'webhook-id', LABEL);
  const timestamp = requiredSignatureHeader(request, 'webhook-timestamp', 'webhook-timestamp', LABEL);
  const signatures = requiredSignatureHeader(request, 'webhook-signature', 'webhook-signature', LABEL);
  const seconds = unixSeconds(timestamp, 'webhook-timestamp');
  const candidates: Uint8Array[] = [];
  let v1 = 0;
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    v1++;
    const bytes = base64ToBytes(entry.slice(comma + 1), 32);
    if (bytes) candidates.push(bytes);
  }
  if (v1 === 0) throw signatureProblem('webhook-signature has no v1,<base64> signature (v1a asymmetric signatures are not accepted)');
  const expected = await hmacSha256(key, concatBytes(utf8(`${id}.${seconds}.`), request.body));
  if (!matchesAny(expected, candidates)) {
    throw signatureProblem(
      `webhook-signature has no v1 signature matching {webhook-id}.{webhook-timestamp}.{body} signed with the configured secret (${v1} tried)`,
    );
  }
  checkWindow(seconds, request.now, 'webhook-timestamp', true);
  return { id, seconds };
}

export const standard: WebhookAdapter = {
  label: LABEL,
  async post(request, secrets) {
    const key = keyOf(secrets);
    const prefix = prefixOf(secrets);
    const signed = await verify(request, key);
    // Redeliveries keep their webhook-id (the spec's idempotency key): stored once.
    const id = platformId(signed.id, 'webhook-id header', LABEL);
    const text = bodyText(request, LABEL);
    // The spec recommends a JSON object `{ type, timestamp, data }`; any other body is kept as its text.
    const trimmed = text.trimStart();
    const data: unknown = trimmed.startsWith('{') || trimmed.startsWith('[') ? parseJson(text, 'the body') : { raw: text };
    const body = obj(data);
    const type = str(field(body, 'type'));
    const entity = idText(field(obj(field(body, 'data')), 'id'));
    const group = type === undefined ? 'message' : (type.split('.')[0] ?? type);
    return {
      kind: 'events',
      events: [
        eventOf({
          id: `standard:${id}`,
          stream: entity === undefined ? streamOf(prefix, group) : streamOf(prefix, group, entity),
          // The sender's type as it is: the source says which sender it is.
          type: type === undefined ? 'webhook' : typeOf(type),
          time: isoFromText(field(body, 'timestamp')) ?? isoFromMs(signed.seconds * 1000),
          source: 'standard',
          data,
        }),
      ],
    };
  },
};
