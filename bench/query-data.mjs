// The query benchmark's data: N webhook-like events encoded as the replica's compacted Parquet files,
// written (1) to a local directory for DuckDB and the engine on Node and (2) into the persisted R2
// bucket and D1 catalog of a store that `wrangler dev --persist-to <state>` then serves.
//
//   npx node bench/query-data.mjs [N ...]       (default BENCH_QUERY_SIZES or 1000000,10000000)
//
// Layout of bench/.out/query-data-<N>/:
//   files/<R2 key>                 the Parquet files (replica/tenant=default/date=…/<shard>-<first>-<last>-L1.parquet)
//   manifest.json                  how they were made (generator version, N, seed) and their catalog rows
//   state/                         the store's --persist-to directory (v3/d1, v3/r2, dev-key)
//   state/loaded.json              written once R2 and D1 hold every file and row
// A rerun with the same generator version, N and seed reuses what exists.
//
// The events (see `eventAt`): 8 shards (the dev tenant's count; a stream's shard is the store's own
// routing, FNV-1a of the stream), 30 days from 2026-10-01 with daily and weekly cycles, 20 types with
// a skewed mix and their sources, streams of a power law over max(100 k, N/10) names (user-, post-,
// order-), and a `data` object of ~300 bytes: a high-cardinality user id (`data.user`), low-cardinality
// strings (`country`, `plan`), numbers (`latency_ms`, `score`, `amount` on ~70 %), booleans (`verified`,
// `flags.beta`, `flags.retry`), a nested object (`device`), text and tags on social types. Files are
// cut per shard and UTC day of `time` in seq order, at most BENCH_QUERY_FILE_ROWS (50,000) rows each,
// level 1 (what compaction writes). Generation runs in worker threads (one per core); the pre-pass
// (times, streams, versions, seqs) runs on the main thread into shared typed arrays.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { loadEngine } from './query-bundle.mjs';
import { rng } from './events.mjs';

// 2: catalog rows by src/engine/replica.ts encodeReplica (with per-row-group stats).
export const GEN_VERSION = 3; // 3: catalog rows carry the file layout (range reads)
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outRoot = join(root, 'bench', '.out');
const TENANT = 'default';
const SHARDS = 8;
const DAYS = 30;
const START = Date.UTC(2026, 9, 1); // 2026-10-01T00:00:00Z
const DAY = 86_400_000;
const HOUR = 3_600_000;
const LEVEL = 1;
const SEED = 20_261_001;
const envNum = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const FILE_ROWS = envNum('BENCH_QUERY_FILE_ROWS', 50_000);

// ---- random numbers -----------------------------------------------------------------------------

/** Picks from weighted items with a cumulative table. */
function weighted(items, weightOf) {
  const cum = [];
  let total = 0;
  for (const it of items) cum.push((total += weightOf(it)));
  return (u) => {
    const x = u * total;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return items[lo];
  };
}

// ---- what an event looks like ---------------------------------------------------------------------

// [type, weight, source]: a social app with SaaS billing, commerce and developer webhooks.
export const TYPES = [
  ['post.viewed', 30, 'https://app.example.com'],
  ['post.liked', 18, 'https://app.example.com'],
  ['page.viewed', 12, 'https://segment.com'],
  ['post.commented', 6, 'https://app.example.com'],
  ['post.created', 5, 'https://app.example.com'],
  ['message.sent', 5, 'https://slack.com'],
  ['user.login', 4, 'https://auth0.com'],
  ['payment.succeeded', 3, 'https://stripe.com'],
  ['invoice.paid', 2, 'https://stripe.com'],
  ['order.created', 2, 'https://shopify.com'],
  ['order.fulfilled', 1.5, 'https://shopify.com'],
  ['member.joined', 1.5, 'https://app.example.com'],
  ['subscription.updated', 1, 'https://stripe.com'],
  ['push', 1, 'https://github.com'],
  ['pull_request.opened', 0.8, 'https://github.com'],
  ['issue_comment.created', 0.8, 'https://github.com'],
  ['payment.failed', 0.5, 'https://stripe.com'],
  ['user.signup', 0.5, 'https://auth0.com'],
  ['subscription.canceled', 0.3, 'https://stripe.com'],
  ['refund.created', 0.1, 'https://stripe.com'],
];
const COMMERCE = new Set([
  'payment.succeeded',
  'invoice.paid',
  'order.created',
  'order.fulfilled',
  'subscription.updated',
  'payment.failed',
  'subscription.canceled',
  'refund.created',
]);
const SOCIAL = new Set(['post.created', 'post.commented', 'message.sent', 'issue_comment.created']);
export const COUNTRIES = [
  ['US', 30],
  ['IN', 10],
  ['BR', 8],
  ['GB', 7],
  ['DE', 7],
  ['FR', 5],
  ['JP', 5],
  ['CA', 4],
  ['MX', 4],
  ['ID', 4],
  ['ES', 3],
  ['IT', 3],
  ['NG', 3],
  ['KR', 2],
  ['AU', 2],
  ['PL', 1.5],
  ['NL', 1.5],
  ['SE', 1],
  ['TR', 1],
  ['ZA', 1],
];
const PLANS = [
  ['free', 60],
  ['pro', 25],
  ['team', 10],
  ['enterprise', 5],
];
const OSES = [
  ['ios', 35],
  ['android', 40],
  ['web', 20],
  ['macos', 3],
  ['windows', 2],
];
const WORDS =
  'the a new post photo today launch team great thanks love this update release check out our weekend trip coffee code review merged bug fix deploy friday music game win lost match city night morning product feature beta invite join welcome'.split(
    ' ',
  );
const TAGS = ['news', 'tech', 'travel', 'food', 'music', 'sports', 'art', 'dev', 'design', 'ai'];

const pickType = weighted(TYPES, (t) => t[1]);
const pickCountry = weighted(COUNTRIES, (c) => c[1]);
const pickPlan = weighted(PLANS, (p) => p[1]);
const pickOs = weighted(OSES, (o) => o[1]);

/** Streams and users for N events: power laws (a few hot ones, a long tail). */
export const sizing = (n) => ({
  streams: Math.min(1_000_000, Math.max(100_000, Math.round(n / 10))),
  users: Math.max(50_000, Math.round(n / 20)),
});

export function streamName(i) {
  const kind = i % 20 < 12 ? 'user' : i % 20 < 18 ? 'post' : 'order';
  return `${kind}-${String(i).padStart(7, '0')}`;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A UUIDv7 of the receipt time, with random bits from `r` (like the store mints ids). */
function uuidv7(ms, r) {
  const b = new Uint8Array(16);
  b[0] = (ms / 2 ** 40) & 0xff;
  b[1] = (ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  for (let i = 6; i < 16; i++) b[i] = (r() * 256) | 0;
  b[6] = 0x70 | (b[6] & 0x0f);
  b[8] = 0x80 | (b[8] & 0x3f);
  let s = '';
  for (let i = 0; i < 16; i++) s += (i === 4 || i === 6 || i === 8 || i === 10 ? '-' : '') + HEX[b[i]];
  return s;
}

/** Event `i`'s row (the fields not fixed by the pre-pass come from its own generator). */
function eventAt(i, pre, users) {
  const r = rng(SEED ^ Math.imul(i + 1, 0x9e3779b1));
  const [type, , source] = pickType(r());
  const stream = streamName(pre.stream[i]);
  const user = Math.floor(users * r() ** 1.5);
  const data = {
    user: `u_${String(user).padStart(7, '0')}`,
    country: pickCountry(r())[0],
    plan: pickPlan(r())[0],
    latency_ms: Math.round(Math.exp(3.5 + r() * 1.2 + r() * r() * 2.5) * 10) / 10,
    verified: r() < 0.8,
    device: { os: pickOs(r())[0], app_version: `5.${(r() * 12) | 0}.${(r() * 4) | 0}`, mobile: r() < 0.7 },
    flags: { beta: r() < 0.12, retry: r() < 0.03 },
  };
  if (r() < 0.85) data.score = Math.round(r() * 1000) / 1000;
  if (COMMERCE.has(type) || r() < 0.66) {
    data.amount = Math.round((COMMERCE.has(type) ? 5 + r() * r() * 495 : r() * 50) * 100) / 100;
    data.currency = r() < 0.7 ? 'USD' : 'EUR';
  }
  if (SOCIAL.has(type)) {
    const words = 6 + ((r() * 18) | 0);
    let text = '';
    for (let w = 0; w < words; w++) text += (w ? ' ' : '') + WORDS[(r() * WORDS.length) | 0];
    data.text = text;
    data.tags = [TAGS[(r() * TAGS.length) | 0], TAGS[(r() * TAGS.length) | 0]];
  }
  data.ref = { id: `obj_${Math.floor(r() * 2 ** 40).toString(36)}`, kind: type.split('.')[0] };
  const receivedAt = pre.receivedAt[i];
  return {
    seq: pre.seq[i],
    id: uuidv7(receivedAt, r),
    stream,
    version: pre.version[i],
    type,
    source,
    subject: r() < 0.3 ? `thread-${(r() * 50_000) | 0}` : null,
    time: pre.time[i],
    receivedAt,
    data: JSON.stringify(data),
    shard: pre.shard[i],
  };
}

// ---- the pre-pass: times, streams, shards, seqs, versions ---------------------------------------

function shared(Type, n) {
  return new Type(new SharedArrayBuffer(Type.BYTES_PER_ELEMENT * n));
}

/**
 * Receipt times in ascending order over the 30 days (daily cycle peaking at 15:00 UTC, weekends at
 * 75 %, +30 % growth over the month), each event's stream (power law), its shard (the store's
 * routing), seq (per shard, in receipt order), version (per stream), and `time` = receipt minus a
 * delivery delay (exponential, mean 0.8 s; 1 % up to 10 minutes late), never before the start.
 * Then the files: events grouped by (shard, UTC day of time) in seq order, cut into pieces of at
 * most FILE_ROWS rows.
 */
function prepass(n, shardOf) {
  const { streams } = sizing(n);
  const r = rng(SEED);
  const hours = DAYS * 24;
  const weights = new Float64Array(hours);
  let total = 0;
  for (let h = 0; h < hours; h++) {
    const day = Math.floor(h / 24);
    const dow = new Date(START + day * DAY).getUTCDay();
    const w = (1 + 0.6 * Math.cos(((h % 24) - 15) * (Math.PI / 12))) * (dow === 0 || dow === 6 ? 0.75 : 1) * (1 + (0.3 * day) / DAYS);
    weights[h] = w;
    total += w;
  }
  const pre = {
    receivedAt: shared(Float64Array, n),
    time: shared(Float64Array, n),
    stream: shared(Int32Array, n),
    shard: shared(Uint8Array, n),
    seq: shared(Float64Array, n),
    version: shared(Int32Array, n),
  };
  let at = 0;
  let carry = 0;
  for (let h = 0; h < hours; h++) {
    const exact = (n * weights[h]) / total + carry;
    const count = h === hours - 1 ? n - at : Math.round(exact);
    carry = exact - count;
    const slice = pre.receivedAt.subarray(at, at + count);
    for (let k = 0; k < count; k++) slice[k] = START + h * HOUR + Math.floor(r() * HOUR);
    slice.sort();
    at += count;
  }
  const shardOfStream = new Uint8Array(streams);
  for (let s = 0; s < streams; s++) shardOfStream[s] = shardOf(streamName(s), SHARDS);
  const versions = new Int32Array(streams);
  const seqs = new Float64Array(SHARDS);
  for (let i = 0; i < n; i++) {
    const s = Math.floor(streams * r() ** 2);
    const shard = shardOfStream[s];
    pre.stream[i] = s;
    pre.shard[i] = shard;
    pre.seq[i] = ++seqs[shard];
    pre.version[i] = ++versions[s];
    const u = r();
    const delay = u < 0.01 ? r() * 600_000 : -Math.log(1 - r()) * 800;
    pre.time[i] = Math.max(START, pre.receivedAt[i] - Math.floor(delay));
  }
  // Partitions (shard, day of time), each in seq order: counting sort by partition keeps receipt order.
  const parts = SHARDS * (DAYS + 1);
  const partOf = (i) => pre.shard[i] * (DAYS + 1) + Math.min(DAYS, Math.floor((pre.time[i] - START) / DAY));
  const starts = new Int32Array(parts + 1);
  for (let i = 0; i < n; i++) starts[partOf(i) + 1]++;
  for (let p = 0; p < parts; p++) starts[p + 1] += starts[p];
  const order = shared(Int32Array, n);
  const fill = starts.slice(0, parts);
  for (let i = 0; i < n; i++) order[fill[partOf(i)]++] = i;
  const files = [];
  for (let p = 0; p < parts; p++) {
    const len = starts[p + 1] - starts[p];
    if (len === 0) continue;
    const pieces = Math.ceil(len / FILE_ROWS);
    for (let k = 0; k < pieces; k++) {
      const from = starts[p] + Math.floor((k * len) / pieces);
      const to = starts[p] + Math.floor(((k + 1) * len) / pieces);
      files.push({ from, to });
    }
  }
  return { pre, order, files };
}

// ---- generation ---------------------------------------------------------------------------------

const dataDir = (n) => join(outRoot, `query-data-${n}`);

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** Generates the files of N events (worker threads), or reuses them when the manifest matches. */
export async function generate(n, log) {
  const dir = dataDir(n);
  const manifestFile = join(dir, 'manifest.json');
  const old = readJson(manifestFile);
  if (old && old.version === GEN_VERSION && old.n === n && old.seed === SEED && old.fileRows === FILE_ROWS) {
    log(`query data ${n}: reusing ${old.segments.length} files in ${dir} (generated in ${(old.generateMs / 1000).toFixed(1)} s)`);
    return old;
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'files'), { recursive: true });
  const engine = await loadEngine();
  const t0 = performance.now();
  const { pre, order, files } = prepass(n, engine.shardOf);
  const prepassMs = performance.now() - t0;
  log(`query data ${n}: pre-pass ${Math.round(prepassMs)} ms, ${files.length} files to encode`);
  const threads = Math.max(1, Math.min(envNum('BENCH_QUERY_THREADS', availableParallelism()), files.length));
  const segments = new Array(files.length);
  let next = 0;
  let done = 0;
  let lastLog = performance.now();
  await Promise.all(
    Array.from({ length: threads }, () => {
      const worker = new Worker(fileURLToPath(import.meta.url), {
        workerData: { pre, order, users: sizing(n).users, filesDir: join(dir, 'files') },
        resourceLimits: { maxOldGenerationSizeMb: 4096 },
      });
      return new Promise((resolve, reject) => {
        const send = () => {
          if (next < files.length) worker.postMessage({ index: next, ...files[next++] });
          else worker.postMessage(null);
        };
        worker.on('message', (m) => {
          if (m.ready) return send();
          segments[m.index] = m.row;
          done++;
          if (performance.now() - lastLog > 10_000) {
            lastLog = performance.now();
            log(`query data ${n}: ${done}/${files.length} files, ${Math.round((performance.now() - t0) / 1000)} s`);
          }
          send();
        });
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`a generator thread exited with ${code}`))));
      });
    }),
  );
  const generateMs = performance.now() - t0;
  const bytes = segments.reduce((s, x) => s + x.bytes, 0);
  const manifest = {
    version: GEN_VERSION,
    n,
    seed: SEED,
    fileRows: FILE_ROWS,
    shards: SHARDS,
    days: DAYS,
    start: new Date(START).toISOString(),
    ...sizing(n),
    threads,
    prepassMs,
    generateMs,
    bytes,
    segments,
  };
  writeFileSync(manifestFile, JSON.stringify(manifest));
  log(
    `query data ${n}: ${segments.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB (${(bytes / n).toFixed(1)} B/event) in ${(generateMs / 1000).toFixed(1)} s on ${threads} threads`,
  );
  return manifest;
}

/** A generator thread: encodes the files it is handed and answers their catalog rows. */
async function workerMain() {
  const engine = await loadEngine({ rebuild: false });
  const { pre, order, users, filesDir } = workerData;
  parentPort.on('message', async (task) => {
    if (task === null) return parentPort.close();
    const rows = [];
    for (let k = task.from; k < task.to; k++) rows.push(eventAt(order[k], pre, users));
    const { bytes, row } = await engine.encodeSegment(TENANT, rows, LEVEL);
    const file = join(filesDir, row.key);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, bytes);
    parentPort.postMessage({ index: task.index, row });
  });
  parentPort.postMessage({ ready: true });
}

// ---- loading into the store's local R2 and D1 -----------------------------------------------------

/** The R2 bucket and D1 database ids of wrangler.toml (what `wrangler dev` names the local state by). */
function bindingIds() {
  const toml = readFileSync(join(root, 'wrangler.toml'), 'utf8');
  const block = (table, binding) =>
    toml.split(`[[${table}]]`).find((b) => new RegExp(`binding\\s*=\\s*"${binding}"`).test(b.split('[')[0])) ?? '';
  const field = (text, name) => text.match(new RegExp(`^${name}\\s*=\\s*"([^"]+)"`, 'm'))?.[1];
  const bucket = field(block('r2_buckets', 'SEGMENTS'), 'bucket_name');
  const database = field(block('d1_databases', 'CATALOG'), 'database_id');
  if (!bucket || !database) throw new Error('wrangler.toml has no SEGMENTS bucket_name or CATALOG database_id');
  return { bucket, database };
}

const wrangler = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const childEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' };

/**
 * The store's state for N events: D1 migrations and the dev key (as bench/run.mjs prepares a store),
 * then every file into R2 and every catalog row into D1 through Miniflare, on the same persistence
 * layout wrangler dev uses (<state>/v3/r2, <state>/v3/d1). Skipped when state/loaded.json says it
 * was done for this manifest.
 */
async function load(n, manifest, log) {
  const dir = dataDir(n);
  const state = join(dir, 'state');
  const marker = join(state, 'loaded.json');
  const key = () => readFileSync(join(state, 'dev-key'), 'utf8').trim();
  const old = readJson(marker);
  if (old && old.generateMs === manifest.generateMs && old.segments === manifest.segments.length) {
    log(`query data ${n}: store state ${state} already loaded (in ${(old.loadMs / 1000).toFixed(1)} s)`);
    return { state, key: key(), loadMs: old.loadMs };
  }
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { recursive: true });
  const t0 = performance.now();
  execFileSync(process.execPath, [wrangler, 'd1', 'migrations', 'apply', 'CATALOG', '--local', '--persist-to', state], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: childEnv,
  });
  execFileSync(process.execPath, [join(root, 'scripts', 'dev-key.mjs'), '--persist-to', state, '--print-key'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: childEnv,
  });
  const setupMs = performance.now() - t0;
  const { Miniflare, convertV4MiniflareOptions } = await import('miniflare');
  const { bucket, database } = bindingIds();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: true,
      script: 'export default { fetch() { return new Response(null, { status: 404 }); } };',
      resourcePersistencePath: join(state, 'v3'),
      d1Databases: { CATALOG: database },
      r2Buckets: { SEGMENTS: bucket },
    }),
  );
  try {
    const r2 = await mf.getR2Bucket('SEGMENTS');
    const db = await mf.getD1Database('CATALOG');
    const t1 = performance.now();
    let i = 0;
    const putOne = async () => {
      for (; i < manifest.segments.length;) {
        const s = manifest.segments[i++];
        const bytes = readFileSync(join(dir, 'files', s.key));
        await r2.put(s.key, bytes, {
          httpMetadata: { contentType: 'application/vnd.apache.parquet' },
          customMetadata: { format: 'parquet', rows: String(s.rows), firstSeq: String(s.firstSeq), lastSeq: String(s.lastSeq) },
        });
      }
    };
    await Promise.all(Array.from({ length: 4 }, putOne));
    const r2Ms = performance.now() - t1;
    // The catalog rows, written by src/workers/catalog.ts insertSegments itself.
    const t2 = performance.now();
    const engine = await loadEngine();
    const now = Date.now();
    for (let k = 0; k < manifest.segments.length; k += 50) {
      await db.batch(engine.insertSegments(db, manifest.segments.slice(k, k + 50), now));
    }
    const d1Ms = performance.now() - t2;
    const counted = await db
      .prepare(`SELECT count(*) AS n, sum(rows) AS rows FROM segments WHERE kind = 'replica' AND state = 'live'`)
      .first();
    const listed = await r2.list({ prefix: 'replica/', limit: 1000 });
    if (counted.n !== manifest.segments.length || counted.rows !== n)
      throw new Error(`the catalog holds ${counted.n} segments of ${counted.rows} rows, expected ${manifest.segments.length} of ${n}`);
    const loadMs = performance.now() - t0;
    writeFileSync(
      marker,
      JSON.stringify({ generateMs: manifest.generateMs, segments: manifest.segments.length, setupMs, r2Ms, d1Ms, loadMs }),
    );
    log(
      `query data ${n}: loaded ${manifest.segments.length} objects into R2 (${(r2Ms / 1000).toFixed(1)} s; first list page ${listed.objects.length}) and D1 (${(d1Ms / 1000).toFixed(1)} s), migrations + key ${(setupMs / 1000).toFixed(1)} s`,
    );
    return { state, key: key(), loadMs };
  } finally {
    await mf.dispose();
  }
}

/**
 * The data of N events, generated and loaded unless cached: `{ n, dir, filesDir, state, key,
 * manifest }`. `filesDir` holds the files under their R2 keys; `state` is the store's --persist-to.
 */
export async function ensureQueryData(n, { log = console.log } = {}) {
  const manifest = await generate(n, log);
  const loaded = await load(n, manifest, log);
  const dir = dataDir(n);
  return { n, dir, filesDir: join(dir, 'files'), state: loaded.state, key: loaded.key, manifest, loadMs: loaded.loadMs };
}

if (!isMainThread) {
  await workerMain();
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const sizes = (process.argv.slice(2).length ? process.argv.slice(2) : (process.env.BENCH_QUERY_SIZES || '1000000,10000000').split(','))
    .map((s) => Number(s.trim()))
    .filter((x) => x > 0);
  for (const n of sizes) await ensureQueryData(n);
}
