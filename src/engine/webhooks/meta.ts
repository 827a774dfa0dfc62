// Meta (Facebook Pages, Messenger, Instagram, WhatsApp): the `hub.*` subscription handshake, `X-Hub-Signature-256`
// with the app secret, and one event per change or messaging item of every entry.

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
  signatureProblem,
  str,
  streamOf,
  subjectOf,
  typeOf,
  without,
  type JsonObject,
} from './common.js';
import { digestId, secretTextEquals } from './crypto.js';
import { verifyGitHubSignature } from './github.js';
import type { WebhookAdapter, WebhookEvent, WebhookRequest } from './types.js';

const LABEL = 'Meta';

/** The arrays of an entry that hold one fact per item. */
const ITEM_ARRAYS = ['changes', 'messaging', 'standby'] as const;
/** Fields of a messaging item around its payload; the first other field names its kind (message, postback, read, …). */
const MESSAGING_ENVELOPE = new Set(['sender', 'recipient', 'timestamp']);

/** The time of a change: the entry's, else (WhatsApp, whose entries have none) the first message's or status's. */
function changeTime(entry: JsonObject, change: JsonObject): string | undefined {
  const fromEntry = isoFromEpoch(entry.time);
  if (fromEntry !== undefined) return fromEntry;
  const value = obj(change.value);
  for (const list of ['messages', 'statuses']) {
    const items = field(value, list);
    const t = Array.isArray(items) ? isoFromEpoch(field(obj(items[0]), 'timestamp')) : undefined;
    if (t !== undefined) return t;
  }
  return undefined;
}

async function entryEvents(object: string, entry: JsonObject, now: number): Promise<WebhookEvent[]> {
  const entryId = idText(entry.id) ?? '_';
  const stream = streamOf('meta', object, entryId);
  const rest = without(entry, ITEM_ARRAYS);
  const events: WebhookEvent[] = [];
  for (const list of ITEM_ARRAYS) {
    const items = field(entry, list);
    if (!Array.isArray(items)) continue;
    for (const raw of items) {
      // Items are objects; anything else is kept all the same, as an item without fields.
      const item = obj(raw) ?? {};
      let type: string;
      let subject: string | undefined;
      let time: string | undefined;
      if (list === 'changes') {
        const name = str(item.field) ?? 'change';
        type = typeOf('meta', object, name);
        subject = subjectOf(item.field);
        time = changeTime(entry, item);
      } else {
        const kind = Object.keys(item).find((k) => !MESSAGING_ENVELOPE.has(k));
        type = kind === undefined ? typeOf('meta', object, list) : typeOf('meta', object, list, kind);
        subject = subjectOf(field(obj(item.sender), 'id'));
        time = isoFromEpoch(item.timestamp) ?? isoFromEpoch(entry.time);
      }
      events.push(
        eventOf({
          // Meta sends no delivery id: the fact's own content is its identity, so a redelivery (however batched) maps to the same id.
          id: await digestId('meta', [object, entryId, entry.time ?? null, list, raw]),
          stream,
          type,
          time: time ?? isoFromMs(now),
          source: 'meta',
          subject,
          // The delivery's shape with this one item: a valid Meta payload that existing parsers read.
          data: { object, entry: [{ ...rest, [list]: [raw] }] },
        }),
      );
    }
  }
  if (events.length === 0) {
    // An entry without items (older Graph API `changed_fields` entries, …): one event for the whole entry.
    events.push(
      eventOf({
        id: await digestId('meta', [object, entryId, entry.time ?? null, 'entry', entry]),
        stream,
        type: typeOf('meta', object),
        time: isoFromEpoch(entry.time) ?? isoFromMs(now),
        source: 'meta',
        data: { object, entry: [entry] },
      }),
    );
  }
  return events;
}

export const meta: WebhookAdapter = {
  label: LABEL,
  /** The subscription handshake: `hub.mode=subscribe`, the verify token, and `hub.challenge` echoed as text. */
  async get(request: WebhookRequest, secrets) {
    const mode = queryParam(request, 'hub.mode');
    if (mode !== 'subscribe') {
      throw invalid(
        'invalid-request',
        `hub.mode must be "subscribe"${mode === undefined ? ' and is missing' : ''}; Meta sends it with the handshake`,
      );
    }
    const verifyToken = configured(secrets, 'verifyToken', 'meta', 'verify token');
    const given = queryParam(request, 'hub.verify_token');
    if (given === undefined || given === '') throw signatureProblem('hub.verify_token is missing');
    if (!(await secretTextEquals(given, verifyToken)))
      throw signatureProblem('hub.verify_token does not match the configured verify token');
    const challenge = queryParam(request, 'hub.challenge');
    if (challenge === undefined || !/^[\x21-\x7e]{1,1024}$/.test(challenge)) {
      throw invalid('invalid-request', 'hub.challenge must be 1-1024 printable characters; Meta expects it echoed');
    }
    return { kind: 'respond', status: 200, contentType: 'text/plain; charset=utf-8', body: challenge };
  },
  async post(request, secrets) {
    const secret = configured(secrets, 'secret', 'meta', 'app secret');
    await verifyGitHubSignature(request, secret, LABEL);
    const body = parseJsonObject(bodyText(request, LABEL), 'the body', LABEL);
    const object = str(body.object);
    if (object === undefined) {
      throw invalid(
        'invalid-request',
        'the body has no "object"; Meta names it in every delivery (page, instagram, whatsapp_business_account, …)',
      );
    }
    if (!Array.isArray(body.entry)) throw invalid('invalid-request', 'the body has no "entry" array');
    const events: WebhookEvent[] = [];
    for (const raw of body.entry) {
      const entry = obj(raw);
      if (!entry) throw invalid('invalid-request', 'every item of "entry" must be an object');
      events.push(...(await entryEvents(object, entry, request.now)));
    }
    return { kind: 'events', events };
  },
};
