// X (Twitter) Account Activity: the CRC handshake (`crc_token` → `response_token`), `x-twitter-webhooks-signature`
// (base64 HMAC-SHA256 of the body with the consumer secret), and one event per item of each `*_events` array.

import { invalid } from '../problem.js';
import {
  bodyText,
  configured,
  eventOf,
  field,
  idText,
  isoFromEpoch,
  isoFromMs,
  obj,
  parseJsonObject,
  queryParam,
  requiredSignatureHeader,
  signatureProblem,
  str,
  streamOf,
  typeOf,
  without,
  type JsonObject,
} from './common.js';
import { base64ToBytes, bytesToBase64, digestId, hmacSha256, timingSafeEqual, utf8 } from './crypto.js';
import type { WebhookAdapter, WebhookEvent } from './types.js';

const LABEL = 'X';

/** An item id fit to be part of an event id; other items are identified by their content. */
const ITEM_ID = /^[A-Za-z0-9_-]{1,100}$/;

interface Item {
  /** The body field it came from, e.g. `tweet_create_events`. */
  key: string;
  /** The field without its `_events`/`_event` suffix, e.g. `tweet_create`. */
  kind: string;
  item: unknown;
  /** True for an `_events` array, false for a single `_event` object (`user_event`). */
  list: boolean;
}

function itemsOf(body: JsonObject): Item[] {
  const items: Item[] = [];
  for (const key of Object.keys(body)) {
    const value = body[key];
    const m = /^([a-z0-9_]{1,64}?)_events?$/.exec(key);
    if (!m) continue;
    const kind = m[1]!;
    if (key.endsWith('_events') && Array.isArray(value)) {
      // Items are objects; anything else is kept all the same, identified by its content.
      for (const item of value) items.push({ key, kind, item, list: true });
    } else if (!key.endsWith('_events') && obj(value)) {
      items.push({ key, kind, item: obj(value)!, list: false });
    }
  }
  return items;
}

/** The item's own id: `id_str`, else `id` (text: numbers past 2^53 arrive as text), else the deleted status's id. */
function itemId(value: unknown): string | undefined {
  const item = obj(value);
  if (!item) return undefined;
  const id = idText(item.id_str) ?? idText(item.id) ?? idText(field(obj(item.status), 'id_str')) ?? idText(field(obj(item.status), 'id'));
  return id !== undefined && ITEM_ID.test(id) ? id : undefined;
}

export const x: WebhookAdapter = {
  label: LABEL,
  /**
   * The challenge-response check. Anyone can ask it, and its answer is the HMAC of the token under the same key that
   * signs deliveries: a token shaped like a delivery body would make the answer a valid signature for that body. A body
   * is a JSON object and so holds `{`; a token is refused unless it is printable ASCII without `{`, which no body is.
   */
  async get(request, secrets) {
    const token = queryParam(request, 'crc_token');
    if (token === undefined || token === '')
      throw invalid('invalid-request', 'crc_token query parameter is missing; X sends it to check the webhook');
    if (!/^[\x21-\x7a\x7c-\x7e]{1,1024}$/.test(token)) {
      throw invalid('invalid-request', 'crc_token must be 1-1024 printable ASCII characters without "{"');
    }
    const secret = configured(secrets, 'secret', 'x', 'consumer secret');
    const digest = await hmacSha256(secret, utf8(token));
    return {
      kind: 'respond',
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({ response_token: `sha256=${bytesToBase64(digest)}` }),
    };
  },
  async post(request, secrets) {
    const secret = configured(secrets, 'secret', 'x', 'consumer secret');
    const value = requiredSignatureHeader(request, 'x-twitter-webhooks-signature', 'x-twitter-webhooks-signature', LABEL);
    const given = value.startsWith('sha256=') ? base64ToBytes(value.slice(7), 32) : null;
    if (!given) throw signatureProblem('x-twitter-webhooks-signature must be "sha256=" and the base64 of 32 bytes');
    if (!timingSafeEqual(await hmacSha256(secret, request.body), given)) {
      throw signatureProblem('x-twitter-webhooks-signature does not match the body signed with the configured consumer secret');
    }
    const body = parseJsonObject(bodyText(request, LABEL), 'the body', LABEL);
    const forUser = idText(body.for_user_id);
    const user = forUser !== undefined && /^\d{1,20}$/.test(forUser) ? forUser : '_';
    const stream = streamOf('x', user);
    const items = itemsOf(body);
    const rest = without(
      body,
      items.map((i) => i.key),
    );
    const events: WebhookEvent[] = [];
    for (const { key, kind, item, list } of items) {
      const own = itemId(item);
      const itemType = str(field(obj(item), 'type'));
      events.push(
        eventOf({
          // One tweet reaches every subscribed user: the user is part of the id, so each user's stream keeps its copy.
          id: own !== undefined ? `x:${user}:${kind}:${own}` : await digestId(`x:${user}:${kind}`, [item]),
          stream,
          type: itemType === undefined || itemType === kind ? typeOf('x', kind) : typeOf('x', kind, itemType),
          time:
            isoFromEpoch(field(obj(item), 'timestamp_ms')) ?? isoFromEpoch(field(obj(item), 'created_timestamp')) ?? isoFromMs(request.now),
          source: 'x',
          // The delivery's shape with this one item, and the `users`/`apps` lookups that came with it.
          data: { ...rest, [key]: list ? [item] : item },
        }),
      );
    }
    if (events.length === 0) {
      events.push(
        eventOf({
          id: await digestId(`x:${user}:delivery`, [body]),
          stream,
          type: typeOf('x', 'delivery'),
          time: isoFromMs(request.now),
          source: 'x',
          data: body,
        }),
      );
    }
    return { kind: 'events', events };
  },
};
