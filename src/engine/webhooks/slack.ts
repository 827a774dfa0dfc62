// Slack: the `v0` signature over `v0:{timestamp}:{body}` with a five-minute window; Events API callbacks, the
// url_verification handshake, and the form-encoded slash commands and interactivity payloads.

import { invalid } from '../problem.js';
import {
  bodyText,
  checkWindow,
  configured,
  eventOf,
  field,
  idText,
  isForm,
  isoFromEpoch,
  isoFromMs,
  obj,
  parseForm,
  parseJsonObject,
  platformId,
  requiredSignatureHeader,
  signatureProblem,
  str,
  streamOf,
  subjectOf,
  typeOf,
  unixSeconds,
  without,
  type JsonObject,
} from './common.js';
import { concatBytes, digestId, hexToBytes, hmacSha256, timingSafeEqual, utf8 } from './crypto.js';
import type { WebhookAdapter, WebhookEvent, WebhookOutcome, WebhookReply, WebhookRequest } from './types.js';

const LABEL = 'Slack';

/** Slash commands and interactivity must be answered with 200 and an empty body: any other body would be shown or parsed by Slack. */
const EMPTY_OK: WebhookReply = { status: 200, contentType: 'text/plain; charset=utf-8', body: '' };

async function verify(request: WebhookRequest, secret: string): Promise<void> {
  const signature = requiredSignatureHeader(request, 'x-slack-signature', 'X-Slack-Signature', LABEL);
  const timestampText = requiredSignatureHeader(request, 'x-slack-request-timestamp', 'X-Slack-Request-Timestamp', LABEL);
  const timestamp = unixSeconds(timestampText, 'X-Slack-Request-Timestamp');
  const given = signature.startsWith('v0=') ? hexToBytes(signature.slice(3), 32) : null;
  if (!given) throw signatureProblem('X-Slack-Signature must be "v0=" and 64 hex digits');
  const expected = await hmacSha256(secret, concatBytes(utf8(`v0:${timestampText}:`), request.body));
  if (!timingSafeEqual(expected, given)) {
    throw signatureProblem(
      'X-Slack-Signature does not match v0:{X-Slack-Request-Timestamp}:{body} signed with the configured signing secret',
    );
  }
  // Slack: refuse a timestamp more than five minutes from local time, either way.
  checkWindow(timestamp, request.now, 'X-Slack-Request-Timestamp', true);
}

/** `team` of the workspace and `channel` (or `team` for workspace-wide events) of an Events API callback. */
function eventStream(body: JsonObject, event: JsonObject): string {
  const team = idText(body.team_id) ?? idText(body.context_team_id) ?? idText(body.enterprise_id) ?? idText(field(event, 'team')) ?? '_';
  const channel =
    str(event.channel) ??
    idText(field(obj(event.channel), 'id')) ??
    str(field(obj(event.item), 'channel')) ??
    str(event.channel_id) ??
    'team';
  return streamOf('slack', team, channel);
}

async function eventsApi(request: WebhookRequest, body: JsonObject): Promise<WebhookOutcome> {
  const kind = str(body.type);
  if (kind === 'url_verification') {
    const challenge = str(body.challenge);
    if (challenge === undefined || challenge.length > 1024) {
      throw invalid('invalid-request', 'url_verification carries no "challenge" text (1-1024 characters) to answer');
    }
    return { kind: 'respond', status: 200, contentType: 'text/plain; charset=utf-8', body: challenge };
  }
  if (kind === undefined) {
    throw invalid('invalid-request', 'the body has no "type"; Slack Events API bodies are url_verification or event_callback');
  }
  // The verification token is a long-lived credential of the app: the log keeps everything else.
  const data = without(body, ['token']);
  if (kind === 'event_callback') {
    const event = obj(body.event);
    const eventType = str(field(event, 'type'));
    if (!event || eventType === undefined) throw invalid('invalid-request', 'event_callback has no "event" object with a "type"');
    // A retry (X-Slack-Retry-Num) carries the same event_id, hence the same id: stored once.
    const id = platformId(body.event_id, 'event_id', LABEL);
    const subtype = str(event.subtype);
    const user = idText(event.user) ?? idText(field(obj(event.user), 'id'));
    return {
      kind: 'events',
      events: [
        eventOf({
          id: `slack:${id}`,
          stream: eventStream(body, event),
          type: subtype === undefined ? typeOf('slack', eventType) : typeOf('slack', eventType, subtype),
          time: isoFromEpoch(body.event_time) ?? isoFromMs(request.now),
          source: 'slack',
          subject: subjectOf(user),
          data,
        }),
      ],
    };
  }
  // Other envelopes (app_rate_limited, …) have no event_id: the content identifies them.
  const team = idText(body.team_id) ?? '_';
  return {
    kind: 'events',
    events: [
      eventOf({
        id: await digestId('slack', [kind, data]),
        stream: streamOf('slack', team, 'team'),
        type: typeOf('slack', kind),
        time: isoFromMs(request.now),
        source: 'slack',
        data,
      }),
    ],
  };
}

/** A slash command (form fields) or an interactivity payload (JSON in the `payload` field). */
async function formPayload(request: WebhookRequest, text: string): Promise<WebhookOutcome> {
  const form = parseForm(text);
  if (form.ssl_check !== undefined) return { kind: 'respond', ...EMPTY_OK };
  let event: WebhookEvent;
  if (typeof form.payload === 'string') {
    const payload = without(parseJsonObject(form.payload, 'the "payload" field', LABEL), ['token']);
    const kind = str(payload.type);
    if (kind === undefined) throw invalid('invalid-request', 'the interactivity payload has no "type"');
    const team = idText(field(obj(payload.team), 'id')) ?? idText(field(obj(payload.user), 'team_id')) ?? '_';
    const channel = idText(field(obj(payload.channel), 'id')) ?? idText(field(obj(payload.container), 'channel_id')) ?? 'team';
    // trigger_id is unique per interaction; the few kinds without one are identified by their content.
    const trigger = str(payload.trigger_id);
    event = eventOf({
      id:
        trigger !== undefined && /^[\x21-\x7e]{1,200}$/.test(trigger)
          ? `slack:${trigger}`
          : await digestId('slack', ['interaction', payload]),
      stream: streamOf('slack', team, channel),
      type: typeOf('slack', 'interaction', kind),
      time: isoFromMs(request.now),
      source: 'slack',
      subject: subjectOf(field(obj(payload.user), 'id')),
      data: payload,
    });
  } else if (typeof form.command === 'string') {
    const fields = without(form, ['token']);
    const trigger = typeof form.trigger_id === 'string' ? form.trigger_id : undefined;
    event = eventOf({
      id: trigger !== undefined && /^[\x21-\x7e]{1,200}$/.test(trigger) ? `slack:${trigger}` : await digestId('slack', ['command', fields]),
      stream: streamOf(
        'slack',
        typeof form.team_id === 'string' ? form.team_id : '_',
        typeof form.channel_id === 'string' ? form.channel_id : 'team',
      ),
      type: typeOf('slack', 'command'),
      time: isoFromMs(request.now),
      source: 'slack',
      subject: subjectOf(form.command),
      data: fields,
    });
  } else {
    throw invalid('invalid-request', 'the form body is neither a slash command ("command") nor an interactivity "payload"');
  }
  return { kind: 'events', events: [event], respond: EMPTY_OK };
}

export const slack: WebhookAdapter = {
  label: LABEL,
  async post(request, secrets) {
    const secret = configured(secrets, 'secret', 'slack', 'signing secret');
    await verify(request, secret);
    const text = bodyText(request, LABEL);
    if (isForm(request)) return formPayload(request, text);
    return eventsApi(request, parseJsonObject(text, 'the body', LABEL));
  },
};
