// CloudEvents 1.0 on POST /v1/events, in workerd. The `cloudevents` SDK needs Node's http module,
// which workerd lacks, so here the messages are built as the SDK builds them (test/unit/cloudevents
// checks the engine against messages the SDK itself produced).
import { describe, expect, it } from 'vitest';
import { appended, call, problem } from './helpers.js';

let n = 0;
const uniq = (p: string) => `${p}-${Date.now().toString(36)}-${n++}`;

type Ce = { id: string; source: string; type: string; subject?: string; datacontenttype?: string; data?: unknown };
class CloudEvent {
  constructor(readonly attrs: Ce) {}
  get id() {
    return this.attrs.id;
  }
  toJSON() {
    return { specversion: '1.0', ...this.attrs };
  }
}
const HTTP = {
  structured: (ce: CloudEvent) => ({
    headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    body: JSON.stringify(ce.toJSON()),
  }),
  binary: (ce: CloudEvent) => {
    const { data, datacontenttype, ...attrs } = ce.toJSON();
    const headers: Record<string, string> = { 'content-type': datacontenttype ?? 'application/json' };
    for (const [k, v] of Object.entries(attrs)) headers[`ce-${k}`] = encodeURIComponent(String(v));
    return { headers, body: JSON.stringify(data) };
  },
};

function send(message: { headers: Record<string, unknown>; body: unknown }) {
  const headers = Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, String(v)]));
  return call('/v1/events', { method: 'POST', headers, body: message.body as string });
}

describe('CloudEvents', () => {
  it('accepts structured mode and maps subject → stream, source+id → dedupe key', async () => {
    const subject = uniq('orders/42');
    const ce = new CloudEvent({
      id: uniq('ce'),
      source: 'https://shop.example/orders',
      type: 'com.example.order.placed',
      subject,
      data: { total: 9.5 },
    });
    const [first] = await appended(await send(HTTP.structured(ce)));
    expect(first).toMatchObject({ id: ce.id, stream: subject, version: 1, duplicate: false });
    // The same id from the same source is a duplicate; from another source it is another event.
    const [again] = await appended(await send(HTTP.structured(ce)));
    expect(again).toMatchObject({ duplicate: true, seq: first!.seq });
    const other = new CloudEvent({ ...ce.attrs, source: 'https://other.example' });
    const [third] = await appended(await send(HTTP.structured(other)));
    expect(third).toMatchObject({ duplicate: false, version: 2, stream: subject });
  });

  it('accepts binary mode, with the data in the body', async () => {
    const ce = new CloudEvent({
      id: uniq('bin'),
      source: '/sensors/7',
      type: 'reading',
      datacontenttype: 'application/json',
      data: { c: 21.5 },
    });
    const [e] = await appended(await send(HTTP.binary(ce)));
    expect(e).toMatchObject({ id: ce.id, stream: 'sensors/7', duplicate: false });
  });

  it('accepts batch mode as one request of many events', async () => {
    const events = Array.from(
      { length: 5 },
      (_, i) => new CloudEvent({ id: uniq(`b${i}`), source: 'urn:example:batch', type: 't', subject: uniq('s') }),
    );
    const res = await call('/v1/events', {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify(events.map((e) => e.toJSON())),
    });
    const list = await appended(res);
    expect(list.map((e) => e.id)).toEqual(events.map((e) => e.id));
  });

  it('refuses CloudEvents that break the spec, saying which attribute', async () => {
    const post = (body: unknown, type = 'application/cloudevents+json') =>
      call('/v1/events', { method: 'POST', headers: { 'content-type': type }, body: JSON.stringify(body) });
    expect((await problem(await post({ specversion: '0.3', id: 'a', source: 's', type: 't' }), 400)).detail).toMatch(/specversion/);
    expect((await problem(await post({ specversion: '1.0', source: 's', type: 't' }), 400)).detail).toMatch(/event\.id/);
    expect(
      (await problem(await post({ specversion: '1.0', id: 'a', source: 's', type: 't' }, 'application/cloudevents-batch+json'), 400))
        .detail,
    ).toMatch(/array/);
    expect((await problem(await post([], 'application/cloudevents-batch+json'), 400)).detail).toMatch(/empty/);
    const bad = await call('/v1/events', {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-type': 't', 'content-type': 'application/json' },
      body: '{}',
    });
    expect((await problem(bad, 400)).detail).toMatch(/source/);
  });
});
