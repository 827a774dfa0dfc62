// Discord: Ed25519 over `X-Signature-Timestamp` + body with the application's public key; interactions (PING → PONG,
// the others stored and answered with a deferred acknowledgement) and Webhook Events (stored, answered 204).

import { invalid } from '../problem.js';
import {
  bodyText,
  eventOf,
  field,
  idText,
  isoFromMs,
  isoFromText,
  notConfigured,
  obj,
  parseJsonObject,
  requiredSignatureHeader,
  signatureProblem,
  str,
  streamOf,
  subjectOf,
  typeOf,
  type JsonObject,
} from './common.js';
import { concatBytes, digestId, hexToBytes, utf8, verifyEd25519 } from './crypto.js';
import type { WebhookAdapter, WebhookOutcome, WebhookReply, WebhookRequest, WebhookSecrets } from './types.js';

const LABEL = 'Discord';

const json = (value: unknown): WebhookReply => ({ status: 200, contentType: 'application/json', body: JSON.stringify(value) });
/** Webhook Events are acknowledged with 204 and no body, PING included. */
const NO_CONTENT: WebhookReply = { status: 204, contentType: 'text/plain; charset=utf-8', body: '' };

/** Interaction types (Discord's numbering) and how a store, which cannot answer in the user's place, acknowledges each. */
const INTERACTIONS: Record<number, { name: string; reply: WebhookReply }> = {
  // DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: the user sees "thinking…"; a consumer completes it with the interaction token.
  2: { name: 'application_command', reply: json({ type: 5 }) },
  // DEFERRED_UPDATE_MESSAGE: nothing visible changes; a consumer may edit the message later.
  3: { name: 'message_component', reply: json({ type: 6 }) },
  // Autocomplete cannot be deferred: no suggestions.
  4: { name: 'application_command_autocomplete', reply: json({ type: 8, data: { choices: [] } }) },
  5: { name: 'modal_submit', reply: json({ type: 5 }) },
};

/** Discord snowflakes hold their creation time: milliseconds since 2015-01-01 in the bits above 22. */
const DISCORD_EPOCH = 1420070400000n;
function snowflakeTime(id: string): string | undefined {
  return /^\d{1,20}$/.test(id) ? isoFromMs(Number((BigInt(id) >> 22n) + DISCORD_EPOCH)) : undefined;
}

function publicKeyOf(secrets: WebhookSecrets): Uint8Array {
  const hex = secrets.publicKey;
  if (typeof hex !== 'string' || hex === '') throw notConfigured('discord', 'application public key');
  const key = hexToBytes(hex.trim(), 32);
  if (!key) throw notConfigured('discord', 'valid application public key (64 hex digits)');
  return key;
}

async function verify(request: WebhookRequest, publicKey: Uint8Array): Promise<void> {
  const signatureHex = requiredSignatureHeader(request, 'x-signature-ed25519', 'X-Signature-Ed25519', LABEL);
  const timestamp = requiredSignatureHeader(request, 'x-signature-timestamp', 'X-Signature-Timestamp', LABEL);
  const signature = hexToBytes(signatureHex, 64);
  if (!signature) throw signatureProblem('X-Signature-Ed25519 must be 128 hex digits');
  // Discord defines no replay window; a replayed interaction maps to the same id and is stored once.
  if (!(await verifyEd25519(publicKey, signature, concatBytes(utf8(timestamp), request.body)))) {
    throw signatureProblem('X-Signature-Ed25519 does not verify over X-Signature-Timestamp + body with the configured public key');
  }
}

/** A Webhook Event delivery (`{ version, application_id, type: 0 | 1, event? }`): it has no interaction token. */
async function webhookEvent(request: WebhookRequest, body: JsonObject): Promise<WebhookOutcome> {
  if (body.type === 0) return { kind: 'respond', ...NO_CONTENT };
  const event = obj(body.event);
  const eventType = str(field(event, 'type'));
  if (body.type !== 1 || !event || eventType === undefined) {
    throw invalid('invalid-request', 'a Discord Webhook Event must have type 0 (PING) or type 1 with an "event" object that has a "type"');
  }
  const app = idText(body.application_id) ?? '_';
  return {
    kind: 'events',
    events: [
      eventOf({
        // Webhook Events carry no id: the event's content (its type, timestamp and data) is its identity.
        id: await digestId('discord', [app, event]),
        stream: streamOf('discord', 'app', app),
        type: typeOf('discord', eventType.toLowerCase()),
        time: isoFromText(event.timestamp) ?? isoFromMs(request.now),
        source: 'discord',
        data: body,
      }),
    ],
    respond: NO_CONTENT,
  };
}

function interactionStream(body: JsonObject): string {
  const guild = idText(body.guild_id);
  const channel = idText(body.channel_id) ?? idText(field(obj(body.channel), 'id'));
  if (guild !== undefined) return channel !== undefined ? streamOf('discord', guild, channel) : streamOf('discord', guild);
  return channel !== undefined ? streamOf('discord', 'dm', channel) : streamOf('discord', 'dm');
}

export const discord: WebhookAdapter = {
  label: LABEL,
  async post(request, secrets) {
    await verify(request, publicKeyOf(secrets));
    const body = parseJsonObject(bodyText(request, LABEL), 'the body', LABEL);
    if (body.token === undefined && (body.event !== undefined || body.type === 0)) return webhookEvent(request, body);

    if (body.type === 1) return { kind: 'respond', ...json({ type: 1 }) }; // PING → PONG
    if (typeof body.type !== 'number') throw invalid('invalid-request', 'the interaction has no numeric "type"');
    const id = idText(body.id);
    if (id === undefined || !/^\d{1,20}$/.test(id)) throw invalid('invalid-request', 'the interaction has no snowflake "id"');
    const known = INTERACTIONS[body.type];
    const data = obj(body.data);
    return {
      kind: 'events',
      events: [
        eventOf({
          id: `discord:${id}`,
          stream: interactionStream(body),
          type: typeOf('discord', known?.name ?? `interaction_${body.type}`),
          time: snowflakeTime(id) ?? isoFromMs(request.now),
          source: 'discord',
          // The command's name, or the custom_id of the component or modal.
          subject: subjectOf(field(data, 'name') ?? field(data, 'custom_id')),
          data: body,
        }),
      ],
      respond: known?.reply ?? json({ type: 5 }),
    };
  },
};
