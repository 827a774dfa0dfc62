// The read scenario: latency of GET /v1/events/{id} hot and cold and of reading a 1,000-event
// stream history, hot and cold, beside the latency of an empty Worker measured in the same run.
// Forked by run.mjs; requests are sequential (one at a time), so the figures are latencies, not
// throughput.
//
// Input: a JSON spec in argv[2]: { url, key, floorUrl, ids, histories, samples, hotWindowMs }.
// Output over IPC: { phase: 'measuring' }, then { phase: 'done', result }.
//
// Events are written one per request (so that the notify trigger publishes many small master
// segments) plus `histories` streams of 1,000 events. Hot figures are taken at once; then the
// scenario waits for every event to be evicted (red) and reads the same events again. Cold by id is
// reported twice: the first read of each master segment (an R2 read, a gunzip and a checksum) and
// a read whose segment this isolate has decoded already (the read side's segment cache).

const spec = JSON.parse(process.argv[2]);
const { url, key, floorUrl, ids = 150, histories = 4, samples = 200, hotWindowMs } = spec;
const auth = { authorization: `Bearer ${key}` };
const tag = `r${process.pid.toString(36)}${Date.now().toString(36)}`;

const send = (m) => process.send?.(m);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function timed(target, init = {}) {
  const t0 = performance.now();
  const res = await fetch(target, init);
  const body = await res.text();
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${target}: ${res.status} ${body.slice(0, 300)}`);
  return { ms, body };
}

function stats(list) {
  const s = [...list].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { samples: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] };
}

async function post(path, body) {
  const { body: text } = await timed(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify(body),
  });
  return JSON.parse(text).events;
}

async function status() {
  return JSON.parse((await timed(`${url}/v1/status`, { headers: auth })).body);
}

/** Every event written so far red (evicted), or the deadline passes. */
async function allRed(deadlineMs) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const s = await status();
    const { grey, blue, green } = s.totals;
    if (grey + blue + green === 0) return;
    if (Date.now() > until) throw new Error(`events still hot after ${deadlineMs} ms: ${JSON.stringify(s.totals)}`);
    await sleep(500);
  }
}

async function measure(fn, n) {
  const ms = [];
  for (let i = 0; i < n; i++) ms.push((await fn(i)).ms);
  return stats(ms);
}

const history = (stream) => timed(`${url}/v1/streams/${stream}/events?limit=1000`, { headers: auth });
const byId = (id) => timed(`${url}/v1/events/${encodeURIComponent(id)}`, { headers: auth });

// ---- write
const written = [];
for (let i = 0; i < ids; i++) {
  const [e] = await post(`/v1/streams/${tag}-s${i % 50}/events`, {
    id: `${tag}-${i}`,
    type: 'post.liked',
    data: { i, user: `u${i % 97}` },
  });
  written.push(e);
}
const streams = [];
for (let h = 0; h < histories; h++) {
  const stream = `${tag}-history-${h}`;
  await post(
    `/v1/streams/${stream}/events`,
    Array.from({ length: 1000 }, (_, i) => ({
      type: i % 5 ? 'post.liked' : 'post.commented',
      data: { i, text: `comment ${i} `.repeat(3) },
    })),
  );
  streams.push(stream);
}

send({ phase: 'measuring' });
const result = {};
// ---- hot (the hot window must outlast this part)
const t0 = Date.now();
result.floor = await measure(() => timed(`${floorUrl}/empty`), samples);
result.hotById = await measure((i) => byId(written[i % written.length].id), samples);
result.hotHistory = await measure((i) => history(streams[i % streams.length]), Math.max(20, histories * 5));
const hotSeconds = (Date.now() - t0) / 1000;
if (hotSeconds * 1000 > hotWindowMs) result.warning = `the hot part took ${hotSeconds.toFixed(1)} s, longer than the hot window`;

// ---- cold
await allRed(hotWindowMs + 120_000);
const segments = JSON.parse((await timed(`${url}/v1/segments?kind=master`, { headers: auth })).body).segments;
// One event per master segment: its first read is an R2 read.
const firsts = [];
for (const seg of segments) {
  const e = written.find((w) => w.shard === seg.shard && w.seq >= seg.firstSeq && w.seq <= seg.lastSeq);
  if (e) firsts.push(e);
}
result.coldSegments = segments.length;
result.coldById = await measure((i) => byId(firsts[i].id), firsts.length);
result.coldByIdCached = await measure((i) => byId(firsts[i % firsts.length].id), samples);
result.floorAfter = await measure(() => timed(`${floorUrl}/empty`), samples);
const coldFirst = [];
for (const s of streams) coldFirst.push((await history(s)).ms);
result.coldHistory = stats(coldFirst);
result.coldHistoryCached = await measure((i) => history(streams[i % streams.length]), Math.max(20, histories * 5));
const check = JSON.parse((await history(streams[0])).body);
if (check.events.length !== 1000 || check.events.some((e) => e.status !== 'red'))
  throw new Error('the cold history is not 1,000 red events');

send({ phase: 'done', result: { ...result, loadCpu: 0 } });
process.exit(0);
