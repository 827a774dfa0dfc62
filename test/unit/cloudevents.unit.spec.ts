// The CloudEvents mapping against messages made by the `cloudevents` SDK itself (the client of the bar).
import { CloudEvent, HTTP } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import {
  cloudEventKey,
  cloudEventsMode,
  cloudEventStream,
  fromBatchBody,
  fromBinary,
  fromStructuredBody,
} from '../../src/engine/cloudevents.js';
import { ProblemError } from '../../src/engine/problem.js';

const lower = (headers: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));

describe('CloudEvents from the SDK', () => {
  const ce = new CloudEvent({
    id: 'A234-1234-1234',
    source: 'https://github.com/cloudevents/spec/pull',
    type: 'com.github.pull_request.opened',
    subject: '123',
    time: '2018-04-05T17:31:00Z',
    datacontenttype: 'application/json',
    data: { number: 123, title: 'héllo' },
    comexampleextension1: 'value',
  });

  it('reads structured mode', () => {
    const message = HTTP.structured(ce);
    const headers = lower(message.headers);
    expect(cloudEventsMode(headers['content-type'], headers)).toBe('structured');
    const [input] = fromStructuredBody(JSON.parse(String(message.body)));
    expect(input).toEqual({
      id: 'A234-1234-1234',
      type: 'com.github.pull_request.opened',
      source: 'https://github.com/cloudevents/spec/pull',
      subject: '123',
      stream: '123',
      time: '2018-04-05T17:31:00.000Z',
      data: { number: 123, title: 'héllo' },
    });
  });

  it('reads binary mode, percent-encoded headers included', () => {
    const message = HTTP.binary(new CloudEvent({ ...ce, subject: 'a b/ç' }));
    const headers = lower(message.headers);
    expect(cloudEventsMode(headers['content-type'], headers)).toBe('binary');
    const [input] = fromBinary(headers, headers['content-type'], new TextEncoder().encode(String(message.body)));
    expect(input).toMatchObject({ id: ce.id, source: ce.source, subject: 'a b/ç', data: { number: 123, title: 'héllo' } });
    expect(input!.stream).toBe('github.com/cloudevents/spec/pull'); // the subject is no stream name: the source is used
  });

  it('reads batch mode', () => {
    const batch = [ce, new CloudEvent({ id: 'x', source: '/s', type: 't' })].map((e) => e.toJSON());
    const inputs = fromBatchBody(JSON.parse(JSON.stringify(batch)));
    expect(inputs.map((i) => [i.id, i.stream])).toEqual([
      ['A234-1234-1234', '123'],
      ['x', 's'],
    ]);
  });

  it('keys dedupe on source and id, apart from plain ids', () => {
    expect(cloudEventKey('/a', 'x')).not.toBe(cloudEventKey('/b', 'x'));
    expect(cloudEventKey('/a', 'x')).not.toBe('x');
    expect(cloudEventStream(undefined, 'urn:example:thing', 'e')).toBe('urn:example:thing');
    expect(cloudEventStream(undefined, 'a?b', 'e')).toBe('a_b');
    expect(() => cloudEventStream(undefined, '///', 'e')).toThrow(ProblemError);
  });
});
