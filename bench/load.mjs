// The load generator: one scenario, one warm-up + one measured autocannon run, in its own process
// (forked by run.mjs) so that its CPU is its own and can be reported next to the rates.
//
// Input: a JSON spec in argv[2] (`key`: the store's API key, sent as a bearer token; absent for the
// floor, and not sent with webhook deliveries, which their signature authenticates; `webhook`:
// { path, secret } of a GitHub source of the store). Output over IPC: { phase: 'measuring' } when
// the measured run starts (run.mjs samples the servers' CPU there), then { phase: 'done', result }.

import autocannon from 'autocannon';
import { bodies, githubDeliveries } from './events.mjs';

const spec = JSON.parse(process.argv[2]);
const { url, kind, key, webhook, connections, duration, warmup, batch, streams, templates = 8, seed = 42 } = spec;

// Ids are `<tag>-<counter>-<index>`: the tag is unique per process, so no run repeats an id.
// `templates` distinct batch bodies are cycled (8 for the ingest scenarios: enough for the write
// path, which only sees new ids; more where the pipeline compresses the events).
const tag = `b${process.pid.toString(36)}${Date.now().toString(36)}`;
const make = bodies({ tag, streams, seed });
// The store's routes take its dev key (every scope, no practical rate limit); the floor has none.
const JSON_HEADERS = { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) };

/** The autocannon request for a scenario; bodies are rebuilt per request by setupRequest. */
function request() {
  switch (kind) {
    case 'empty':
      return { method: 'GET', path: '/empty' };
    case 'parse':
    case 'batch': {
      const next = make.batchMaker(batch, templates);
      const path = kind === 'parse' ? '/parse' : '/v1/events';
      return { method: 'POST', path, headers: JSON_HEADERS, setupRequest: (req) => ({ ...req, path, body: next() }) };
    }
    case 'single': {
      const next = make.singleMaker();
      return {
        method: 'POST',
        headers: JSON_HEADERS,
        setupRequest: (req) => {
          const { path, body } = next();
          return { ...req, path, body };
        },
      };
    }
    case 'webhook': {
      // Each request: a filled body, its HMAC and a new delivery id (the store dedupes by it).
      const deliveries = githubDeliveries({ tag, secret: webhook.secret, streams, seed });
      return {
        method: 'POST',
        path: webhook.path,
        setupRequest: (req) => {
          const { body, headers } = deliveries.next();
          return { ...req, path: webhook.path, headers, body };
        },
      };
    }
  }
  throw new Error(`unknown scenario kind ${kind}`);
}

// What answers the scenario expects: 200 for the floor's GET /empty and for webhook deliveries
// (platforms take 200 as the receipt), 202 for the rest.
const expected = kind === 'empty' || kind === 'webhook' ? 200 : 202;

// What the store answered besides the expected status: a few bodies to print, and repeated ids (should be none).
const samples = [];
let duplicates = 0;
const checked = (req) =>
  kind === 'batch' || kind === 'single' || kind === 'webhook'
    ? {
        ...req,
        onResponse: (status, body) => {
          if (status !== expected) {
            if (samples.length < 3) samples.push(`${status} ${body.slice(0, 300)}`);
          } else if (body.includes('"duplicate":true')) duplicates++;
        },
      }
    : req;

function cannon(seconds) {
  return autocannon({ url, connections, duration: seconds, requests: [checked(request())], timeout: 30 });
}

if (warmup > 0) await cannon(warmup);

process.send({ phase: 'measuring' });
const cpu = process.cpuUsage();
const started = performance.now();
const r = await cannon(duration);
const wall = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);

const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count]));
process.send({
  phase: 'done',
  result: {
    seconds: r.duration,
    requests: r.requests.total,
    ok: statusCodes[expected] ?? 0,
    // Anything that is not the expected status, including other 2xx, counts as an error here.
    bad: r.requests.total - (statusCodes[expected] ?? 0),
    statusCodes,
    errors: r.errors,
    timeouts: r.timeouts,
    duplicates,
    samples,
    reqPerSec: (statusCodes[expected] ?? 0) / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    // Share of one core used by this process (autocannon + body building) while measuring.
    loadCpu: (used.user + used.system) / 1e6 / wall,
  },
});
