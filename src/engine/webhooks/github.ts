// GitHub: `X-Hub-Signature-256` (HMAC-SHA256 of the body), one event per delivery, id from `X-GitHub-Delivery`.

import { invalid } from '../problem.js';
import {
  bodyText,
  configured,
  eventOf,
  field,
  idText,
  isForm,
  isoFromMs,
  obj,
  parseForm,
  parseJsonObject,
  platformId,
  requiredSignatureHeader,
  header,
  signatureProblem,
  str,
  streamOf,
  typeOf,
  type JsonObject,
} from './common.js';
import { hexToBytes, hmacSha256, timingSafeEqual } from './crypto.js';
import type { WebhookAdapter, WebhookRequest } from './types.js';

const LABEL = 'GitHub';

/**
 * Verifies `X-Hub-Signature-256: sha256=<hex>` over the raw body. GitHub signs the body only: the event name and
 * the delivery id are plain headers, and there is no timestamp, so GitHub defines no replay window.
 */
export async function verifyGitHubSignature(request: WebhookRequest, secret: string, label = LABEL): Promise<void> {
  if (header(request, 'x-hub-signature-256') === undefined && header(request, 'x-hub-signature') !== undefined) {
    throw signatureProblem(`X-Hub-Signature-256 header is missing (only the SHA-1 X-Hub-Signature was sent, which is not accepted)`);
  }
  const value = requiredSignatureHeader(request, 'x-hub-signature-256', 'X-Hub-Signature-256', label);
  const given = value.startsWith('sha256=') ? hexToBytes(value.slice(7), 32) : null;
  if (!given) throw signatureProblem('X-Hub-Signature-256 must be "sha256=" and 64 hex digits');
  const expected = await hmacSha256(secret, request.body);
  if (!timingSafeEqual(expected, given)) {
    throw signatureProblem('X-Hub-Signature-256 does not match the body signed with the configured secret');
  }
}

/** The stream: the repository, else the organization, else the installation, enterprise or hook the delivery belongs to. */
function streamOfPayload(payload: JsonObject, request: WebhookRequest): string {
  const fullName = str(field(obj(payload.repository), 'full_name'));
  if (fullName !== undefined && /^[^/]+\/[^/]+$/.test(fullName)) {
    const [owner, repo] = fullName.split('/') as [string, string];
    return streamOf('github', owner, repo);
  }
  const org = str(field(obj(payload.organization), 'login'));
  if (org !== undefined) return streamOf('github', org);
  const installation = idText(field(obj(payload.installation), 'id'));
  if (installation !== undefined) return streamOf('github', `installation:${installation}`);
  const enterprise = str(field(obj(payload.enterprise), 'slug'));
  if (enterprise !== undefined) return streamOf('github', `enterprise:${enterprise}`);
  const hook = header(request, 'x-github-hook-id');
  if (hook !== undefined && /^\d{1,20}$/.test(hook)) return streamOf('github', `hook:${hook}`);
  return streamOf('github', '_');
}

/** The subject: the issue, pull request or discussion, in GitHub's URL form, else the ref of a push, create or delete. */
function subjectOfPayload(payload: JsonObject): string | undefined {
  for (const [key, path] of [
    ['pull_request', 'pull'],
    ['issue', 'issues'],
    ['discussion', 'discussions'],
  ] as const) {
    const n = idText(field(obj(field(payload, key)), 'number'));
    if (n !== undefined) return `${path}/${n}`;
  }
  const ref = str(field(payload, 'ref'));
  // eslint-disable-next-line no-control-regex -- refs never hold control characters; a payload that does gets no subject
  return ref !== undefined && !/[\x00-\x1f\x7f]/.test(ref) ? ref.slice(0, 1024) : undefined;
}

export const github: WebhookAdapter = {
  label: LABEL,
  async post(request, secrets) {
    const secret = configured(secrets, 'secret', 'github', 'webhook secret');
    await verifyGitHubSignature(request, secret);

    const name = header(request, 'x-github-event')?.trim();
    if (!name) throw invalid('invalid-request', 'X-GitHub-Event header is missing; GitHub names the event of every delivery with it');
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name))
      throw invalid('invalid-request', `X-GitHub-Event "${name.slice(0, 60)}" is not an event name`);
    const delivery = platformId(header(request, 'x-github-delivery')?.trim(), 'X-GitHub-Delivery header', LABEL);

    // A webhook set to `application/x-www-form-urlencoded` sends the JSON in the `payload` field; the signature is over the form.
    const text = bodyText(request, LABEL);
    let json = text;
    if (isForm(request)) {
      const payload = parseForm(text).payload;
      if (typeof payload !== 'string') throw invalid('invalid-request', 'the form body has no single "payload" field holding the JSON');
      json = payload;
    }
    const payload = parseJsonObject(json, 'the payload', LABEL);

    const action = str(payload.action);
    return {
      kind: 'events',
      events: [
        eventOf({
          id: `github:${delivery}`,
          stream: streamOfPayload(payload, request),
          type: action === undefined ? typeOf('github', name) : typeOf('github', name, action),
          // GitHub sends no delivery time, and the payloads' own timestamps differ per event: the receipt time.
          time: isoFromMs(request.now),
          source: 'github',
          subject: subjectOfPayload(payload),
          data: payload,
        }),
      ],
    };
  },
};
