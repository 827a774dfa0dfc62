// The freshness probe: a fixed, sustained rate of batch writes and a poller of GET /v1/status, in
// one process (forked by run.mjs) so that the 202 times and the poll times share one clock.
//
// Load: an open loop. Request i is due at start + i / rate, whatever the store answered before;
// autocannon's `overallRate` was not used because it lets each connection send its quota of the
// second back to back and then pause, i.e. a burst every second, which is not a sustained rate and
// would favour or punish a trigger depending on how its thresholds line up with the bursts.
// Requests go over a keep-alive pool of `connections` sockets; a request that falls due while all
// of them wait for answers is not sent (shed, counted): the store did not keep up, and queueing it
// would only make the run last as long as the backlog.
//
// Every event of a run is distinct (one body template per request, from a seed of its own): the
// storage figures are measured on these events, and repeated bodies would flatter any compressor.
//
// Probe: every 202 of a request sent during the measured window is a sample: its time and, per
// event, (shard, seq). The poller reads GET /v1/status every `pollMs` (sequentially: one poll at a
// time) and keeps each shard's `marks.greenThrough` with the time the answer arrived. An event is
// green from the first poll that shows greenThrough ≥ its seq; its freshness is that poll's answer
// time minus its 202 time. That is an upper bound: the shard's marks were read somewhere between
// the poll's sending and its answer. The previous poll, sent earlier, did not see it green, so its
// sending time gives a lower bound; both are reported (the gap between them is the resolution).
// `?wait=green` is not used: it makes the shard start the steps at once, which is exactly what the
// triggers differ in.
//
// After the load stops the poller goes on until no event is grey or blue (the drain time) or
// `drainTimeout` passes. Input: a JSON spec in argv[2] (`key`: the store's API key, sent with every
// write and poll). Output over IPC: { phase: 'measuring' }, { phase: 'loaded' } when the measured
// window ends, then { phase: 'done', result }.

/* global AbortSignal -- Node's global; eslint.config.js lists only a few for bench/ */
import { Buffer } from 'node:buffer';
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { bodies } from './events.mjs';

const spec = JSON.parse(process.argv[2]);
const { url, key, rate, batch, streams, duration, warmup, pollMs, connections, drainTimeout, seed } = spec;
const AUTH = { authorization: `Bearer ${key}` };

/** Wall-clock milliseconds with sub-millisecond precision (monotonic within this process). */
const now = () => performance.timeOrigin + performance.now();

// ---- the poller --------------------------------------------------------------------------------

/** Polls in arrival order: answer time, and per shard index the marks (arrays, for binary search). */
const polls = { sent: [], at: [], green: [], totals: [], errors: 0, errorSamples: [] };
let shardIds = null; // shard numbers in the order of the status answer's `shards`
let polling = true;
let lastStatus = null;

async function pollOnce() {
  const sent = now();
  try {
    const res = await fetch(`${url}/v1/status`, { headers: AUTH, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    const at = now();
    if (res.status !== 200) throw new Error(`${res.status} ${text.slice(0, 300)}`);
    const status = JSON.parse(text);
    shardIds ??= status.shards.map((s) => s.shard);
    polls.sent.push(sent);
    polls.at.push(at);
    polls.green.push(status.shards.map((s) => s.marks.greenThrough));
    polls.totals.push(status.totals);
    lastStatus = status;
  } catch (err) {
    polls.errors++;
    if (polls.errorSamples.length < 3) polls.errorSamples.push(String(err.message ?? err));
  }
}

async function poller() {
  while (polling) {
    const started = now();
    await pollOnce();
    const wait = started + pollMs - now();
    if (wait > 0) await sleep(wait);
  }
}

// ---- the load ----------------------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: connections });
const target = new URL('/v1/events', url);
// Built before the load starts (~1 s for 1,200 requests' worth), so it does not disturb the pacing.
const templates = Math.min(2000, Math.ceil(rate * (warmup + duration)));
const next = bodies({ tag: `f${process.pid.toString(36)}${Date.now().toString(36)}`, streams, seed }).batchMaker(batch, templates);

const load = {
  sent: 0,
  answered: 0,
  statusCodes: {},
  errors: 0,
  samples: [],
  duplicates: 0,
  inFlight: 0,
  maxInFlight: 0,
  /** Requests not sent because every connection was waiting for an answer (measured window only). */
  shed: 0,
  /** How late the most delayed request left, ms after it was due (the pacer's own jitter included). */
  maxSendDelay: 0,
  /** 202 answers that arrived during the measured window, and their events: the sustained rate. */
  windowAnswers: 0,
  windowEvents: 0,
  measuredAnswers: 0,
  measuredEvents: 0,
  postedBytes: 0,
  latencies: [],
};
/** Per sampled request: its 202 time and each event's shard index and seq. */
const sampled = [];

/** The measured window, [start, end) in now() time; set when it starts. */
const span = { start: Infinity, end: Infinity };

function send(due, measured) {
  if (load.inFlight >= connections) {
    if (measured) load.shed++;
    return;
  }
  const body = next();
  load.sent++;
  load.inFlight++;
  load.maxInFlight = Math.max(load.maxInFlight, load.inFlight);
  const req = request(target, {
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/json', 'content-length': body.length, ...AUTH },
  });
  // The socket may be assigned later than due when all are busy: that is the store falling behind.
  req.on('socket', () => (load.maxSendDelay = Math.max(load.maxSendDelay, now() - due)));
  req.on('response', (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      const at = now();
      load.inFlight--;
      load.answered++;
      load.statusCodes[res.statusCode] = (load.statusCodes[res.statusCode] ?? 0) + 1;
      const text = Buffer.concat(chunks).toString('utf8');
      if (res.statusCode !== 202) {
        if (load.samples.length < 3) load.samples.push(`${res.statusCode} ${text.slice(0, 300)}`);
        return;
      }
      const events = JSON.parse(text).events;
      if (events.some((e) => e.duplicate)) load.duplicates++;
      if (at >= span.start && at < span.end) {
        load.windowAnswers++;
        load.windowEvents += events.length;
      }
      if (!measured) return;
      load.measuredAnswers++;
      load.measuredEvents += events.length;
      load.postedBytes += body.length;
      load.latencies.push(at - due); // from when it was due: a late send counts against the store
      sampled.push({ at, shards: events.map((e) => e.shard), seqs: events.map((e) => e.seq) });
    });
  });
  req.on('error', (err) => {
    load.inFlight--;
    load.errors++;
    if (load.samples.length < 3) load.samples.push(`error ${err.message}`);
  });
  req.end(body);
}

/** Sends at `rate` requests/s from `from` for `seconds`; `measured` marks the samples. */
async function paced(from, seconds, measured) {
  const interval = 1000 / rate;
  const count = Math.round(seconds * rate);
  for (let i = 0; i < count; i++) {
    const due = from + i * interval;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    send(due, measured);
  }
  return from + count * interval;
}

async function answered(deadline) {
  while (load.inFlight > 0 && now() < deadline) await sleep(5);
}

// ---- the numbers -------------------------------------------------------------------------------

function quantiles(xs) {
  if (xs.length === 0) return { n: 0, p50: null, p90: null, p99: null, max: null };
  const s = Float64Array.from(xs).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1] };
}

/** Index of the first poll whose greenThrough for shard index k is ≥ seq, or -1. */
function firstGreen(k, seq) {
  let lo = 0;
  let hi = polls.green.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (polls.green[mid][k] >= seq) hi = mid;
    else lo = mid + 1;
  }
  return lo < polls.green.length ? lo : -1;
}

function freshness() {
  const index = new Map(shardIds.map((s, k) => [s, k]));
  const perEvent = [];
  const perEventLow = [];
  const perRequest = [];
  let neverGreen = 0;
  for (const r of sampled) {
    let worst = 0;
    for (let i = 0; i < r.seqs.length; i++) {
      const p = firstGreen(index.get(r.shards[i]), r.seqs[i]);
      if (p === -1) {
        neverGreen++;
        worst = Infinity;
        continue;
      }
      // A poll answered before the 202 arrived (the step beat the answer home) counts as 0.
      const ms = Math.max(0, polls.at[p] - r.at);
      perEvent.push(ms);
      // The previous poll's snapshot, taken after it was sent, did not show it green yet: a lower bound.
      perEventLow.push(p === 0 ? 0 : Math.max(0, polls.sent[p - 1] - r.at));
      worst = Math.max(worst, ms);
    }
    if (Number.isFinite(worst)) perRequest.push(worst);
  }
  return { perEvent: quantiles(perEvent), perEventLowerBound: quantiles(perEventLow), perRequest: quantiles(perRequest), neverGreen };
}

function pollStats() {
  const gaps = polls.sent.slice(1).map((t, i) => t - polls.sent[i]);
  const answers = polls.at.map((t, i) => t - polls.sent[i]);
  return {
    count: polls.at.length,
    errors: polls.errors,
    errorSamples: polls.errorSamples,
    interval: quantiles(gaps),
    answer: quantiles(answers),
  };
}

// ---- the run -----------------------------------------------------------------------------------

const pollerDone = poller();
while (polls.at.length === 0 && polls.errors < 50) await sleep(10); // the shard list comes from the first answer
if (!shardIds) throw new Error(`GET /v1/status never answered: ${polls.errorSamples.join('; ')}`);

let t = now() + 20;
if (warmup > 0) t = await paced(t, warmup, false);
process.send({ phase: 'measuring' });
const green0 = polls.totals.at(-1).green;
const windowStart = t;
span.start = t;
span.end = t + duration * 1000;
const cpu = process.cpuUsage();
const windowEnd = await paced(t, duration, true);
await sleep(Math.max(0, windowEnd - now()));
process.send({ phase: 'loaded' });
const used = process.cpuUsage(cpu);
const greenAtEnd = polls.totals.at(-1).green;
const wall = (now() - windowStart) / 1000;

// The drain: until every answer is in and nothing is grey or blue, or the timeout.
const drainDeadline = now() + drainTimeout * 1000;
await answered(drainDeadline);
const lastAnswer = now();
let drained = null;
for (;;) {
  const i = polls.totals.length - 1;
  const tot = polls.totals[i];
  // Only a poll sent after the last answer surely saw the last events (grey at least).
  if (polls.sent[i] > lastAnswer && tot.grey === 0 && tot.blue === 0) {
    drained = (polls.at[i] - lastAnswer) / 1000;
    break;
  }
  if (now() > drainDeadline) break;
  await sleep(pollMs / 2);
}
polling = false;
await pollerDone;
agent.destroy();

const ok = load.statusCodes[202] ?? 0;
process.send({
  phase: 'done',
  result: {
    target: { reqPerSec: rate, eventsPerSec: rate * batch },
    seconds: wall,
    sent: load.sent,
    answered: load.answered,
    ok,
    bad: load.answered - ok,
    errors: load.errors,
    unanswered: load.inFlight,
    statusCodes: load.statusCodes,
    samples: load.samples,
    duplicates: load.duplicates,
    // Answers received while measuring, per second: the rate the store really sustained.
    achievedEventsPerSec: load.windowEvents / duration,
    achievedReqPerSec: load.windowAnswers / duration,
    shed: load.shed,
    maxInFlight: load.maxInFlight,
    maxSendDelayMs: load.maxSendDelay,
    latency: quantiles(load.latencies),
    // A body is `[e1,e2,…]`: as NDJSON (one event and a newline each) that is one byte less.
    postedBytesPerEvent: load.measuredEvents ? (load.postedBytes - load.measuredAnswers) / load.measuredEvents : null,
    freshness: freshness(),
    polls: pollStats(),
    // Events turned green per second during the measured window, over all shards.
    greenEventsPerSec: (greenAtEnd - green0) / wall,
    drainSeconds: drained,
    finalStatus: lastStatus && { totals: lastStatus.totals, lag: lastStatus.lag, deadLetters: lastStatus.deadLetters },
    loadCpu: (used.user + used.system) / 1e6 / wall,
  },
});
