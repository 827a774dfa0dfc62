// `npm run bench`: the benchmark of DESIGN.md section 6 — ingest, freshness and storage.
//
// Starts `wrangler dev` servers on loopback, each on fresh local state: the floor Worker of
// bench/floor/, the store with its pipeline deferred (ingest measured alone), and the store once per
// pipeline trigger (PIPELINE_TRIGGER=notify / batch). Each store gets its D1 migrations and then
// scripts/dev-key.mjs (the tenant `default` and a key with every scope and no practical rate limit),
// and every request to a store carries that key; the ingest store also gets a GitHub webhook source.
// Drives each scenario from a separate process
// (bench/load.mjs: autocannon closed loop; bench/fresh.mjs: fixed rate + 202 → green probe), measures
// the Parquet the store wrote (bench/storage.mjs, DuckDB), and prints the medians of several runs
// beside the references measured in the same run (bench/report.mjs). Every server it starts is
// killed at the end, on error and on Ctrl-C.

/* global AbortSignal -- Node's global; eslint.config.js lists only a few for bench/ */
import { execFileSync, fork, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { bodies, githubDeliveries } from './events.mjs';
import {
  fmt,
  freshnessTable,
  median,
  ingestTable,
  keptUp,
  readsTable,
  saturationTable,
  storagePass,
  storageTable,
  summariseFreshness,
  summariseIngest,
  summariseSaturation,
} from './report.mjs';
import { download, listSegments, measureStorage, settleCompaction, watchSegments } from './storage.mjs';

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const list = (name, fallback) =>
  (process.env[name] || fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const cfg = {
  duration: env('BENCH_DURATION', 10), // seconds measured per run and scenario
  warmup: env('BENCH_WARMUP', 2), // seconds of load before each measured run, discarded
  runs: env('BENCH_RUNS', 3), // runs per scenario; the median is reported
  connections: env('BENCH_CONNECTIONS', 64), // see README: what gave the floors their best rate here
  batch: env('BENCH_BATCH', 100), // events per batch request
  streams: env('BENCH_STREAMS', 10_000), // streams the events are spread over
  floorPort: env('BENCH_FLOOR_PORT', 8790),
  storePort: env('BENCH_STORE_PORT', 8791), // the pipeline stores take the next ports, one per trigger
  scenarios: list('BENCH_SCENARIOS', 'ingest,freshness,saturation,storage,parquet,reads,query'),
  triggers: list('BENCH_TRIGGERS', 'notify,batch'),
  freshRates: list('BENCH_FRESH_RATES', '10000,2000').map(Number), // events/s of the freshness runs
  pollMs: env('BENCH_POLL_MS', 50), // GET /v1/status period of the freshness probe
  segmentWatchMs: env('BENCH_SEGMENT_WATCH_MS', 250), // GET /v1/segments period (as-written Parquet)
  drainTimeout: env('BENCH_DRAIN_TIMEOUT', 120), // seconds a backlog may take to turn green
  storeLog: process.env.BENCH_STORE_LOG || 'warn', // wrangler --log-level of the stores (info: queue batches)
};
const SCENARIO_NAMES = ['ingest', 'freshness', 'saturation', 'storage', 'parquet', 'reads', 'query'];
/** The reads store's hot window: long enough for the hot measurements, short enough to wait for eviction. */
const READS_HOT_WINDOW_MS = 20_000;
const TRIGGERS = ['notify', 'batch'];
const HOST = '127.0.0.1'; // loopback only, for the servers and the load

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench', '.out');
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const state = join(out, `state-${stamp}`);
const wrangler = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const version = (pkg) => JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;

const SCENARIOS = [
  { id: 'empty', name: 'floor: GET /empty', server: 'floor', kind: 'empty', unit: 'req/s' },
  { id: 'parse', name: `floor: POST /parse, ${cfg.batch}-event batches`, server: 'floor', kind: 'parse', unit: 'events/s' },
  {
    id: 'batch',
    name: `store: POST /v1/events, ${cfg.batch}-event batches`,
    server: 'store',
    kind: 'batch',
    unit: 'events/s',
    floor: 'parse',
  },
  {
    id: 'single',
    name: 'store: POST /v1/streams/{stream}/events, 1 event',
    server: 'store',
    kind: 'single',
    unit: 'req/s',
    floor: 'empty',
  },
  {
    id: 'webhook',
    name: `store: POST /v1/webhooks/{source}, 1 signed GitHub delivery (~${(githubDeliveries({ tag: 'size', secret: 'size' }).bytes / 1024).toFixed(1)} KB)`,
    server: 'store',
    kind: 'webhook',
    unit: 'req/s',
    floor: 'empty',
  },
];
const BAR = 0.5; // DESIGN.md section 6: at least half of the floor
const FRESH_GOAL = { p99Ms: 2000, rate: 10_000 }; // DESIGN.md section 6: p99 202 → green ≤ 2 s at 10 k events/s
const STORAGE_GOAL = { ndjsonRatio: 6 }; // DESIGN.md section 6: ≤ DuckDB's zstd bytes, ≥ 6× smaller than NDJSON

/** The [vars] of wrangler.toml (the store's defaults). */
function tomlVars() {
  const text = readFileSync(join(root, 'wrangler.toml'), 'utf8');
  const section = text.split(/^\[vars\]\s*$/m)[1]?.split(/^\[/m)[0] ?? '';
  return Object.fromEntries([...section.matchAll(/^([A-Z_]+)\s*=\s*"([^"]*)"/gm)].map((m) => [m[1], m[2]]));
}

/**
 * The vars a pipeline store runs with. The batch trigger's thresholds are wrangler.toml's, passed
 * explicitly so that the header says what was measured (and a changed default is measured as such).
 */
function triggerVars(trigger) {
  if (trigger === 'notify') return { PIPELINE_TRIGGER: 'notify' };
  const toml = tomlVars();
  const vars = { PIPELINE_TRIGGER: 'batch' };
  for (const key of ['PUBLISH_MIN_EVENTS', 'PUBLISH_DELAY_MS', 'REPLICATE_MIN_EVENTS', 'REPLICATE_DELAY_MS']) {
    if (toml[key] === undefined)
      throw new Error(`wrangler.toml has no ${key} under [vars]; the batch trigger's thresholds come from there`);
    vars[key] = toml[key];
  }
  return vars;
}
const varArgs = (vars) => Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]);

// ---- processes -------------------------------------------------------------------------------

/** Every process this bench started, and whether it leads its own process group. */
const children = new Map();

function track(child, group) {
  children.set(child, group);
  // A group stays listed after its leader exits: workerd may outlive wrangler and must die too.
  if (!group) child.on('exit', () => children.delete(child));
  return child;
}

/** Runs wrangler in its own process group (it spawns workerd), so the whole group can be killed. */
function startWrangler(args, log) {
  const fd = openSync(join(out, `${stamp}-${log}.log`), 'a');
  const child = spawn(process.execPath, [wrangler, ...args], {
    cwd: root,
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
  });
  return track(child, true);
}

function killAll(signal) {
  for (const [child, group] of children) {
    // Once a leader has exited, its id could in theory be reused by a stranger's group; a group id
    // is never reused while the group has members, so only signal a group that still has some.
    const alive = child.exitCode === null && child.signalCode === null;
    if (!alive && (!group || groupStats(child.pid).members === 0)) continue;
    try {
      process.kill(group ? -child.pid : child.pid, signal);
    } catch {
      // already gone
    }
  }
}

async function cleanup() {
  killAll('SIGTERM');
  const running = () => [...children.keys()].some((c) => c.exitCode === null && c.signalCode === null);
  for (let i = 0; i < 30 && running(); i++) await sleep(100);
  killAll('SIGKILL');
}

let stopping = false;
process.on('exit', () => killAll('SIGKILL')); // last resort: nothing may outlive the bench
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    stopping = true;
    console.error(`\n${sig}: stopping the servers`);
    await cleanup();
    process.exit(130);
  });
}

async function exited(child) {
  if (child.exitCode !== null) return child.exitCode;
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

/** Fails if something already listens there: the bench would otherwise measure a stranger. */
function assertPortFree(port) {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', () => reject(new Error(`port ${HOST}:${port} is in use; stop what runs there or set BENCH_*_PORT`)));
    s.listen(port, HOST, () => s.close(resolve));
  });
}

/**
 * One bench at a time: two would share the 2 cores, and the second would find the first's servers
 * on its ports. The lock names the holder's pid; a lock left by a dead bench is taken over.
 */
function lockBench() {
  const file = join(out, 'bench.lock');
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch {
    const holder = Number(readFileSync(file, 'utf8'));
    let alive = false;
    try {
      process.kill(holder, 0); // signal 0: only asks whether the process exists
      alive = true;
    } catch {
      // stale lock
    }
    if (alive) throw new Error(`another bench (pid ${holder}) is running; wait for it, two at once would measure each other`);
    writeFileSync(file, String(process.pid));
  }
  process.on('exit', () => {
    try {
      if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
    } catch {
      // already gone
    }
  });
}

/** Pids holding a listening TCP socket on the port (Linux /proc), or null where that is unknown. */
function listeners(port) {
  try {
    const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    const sockets = new Set();
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(hex) && f[3] === '0A') sockets.add(`socket:[${f[9]}]`); // 0A = LISTEN
    }
    const pids = [];
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (readdirSync(`/proc/${pid}/fd`).some((fd) => sockets.has(readlinkSync(`/proc/${pid}/fd/${fd}`)))) pids.push(Number(pid));
      } catch {
        // gone, or not ours to read
      }
    }
    return pids;
  } catch {
    return null;
  }
}

const pgidOf = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
};

async function waitUntilUp(child, url, what) {
  const deadline = Date.now() + 90_000;
  for (let up = false; !up;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}; see bench/.out/${stamp}-${what}.log`);
    if (Date.now() > deadline) throw new Error(`${what} did not answer ${url} within 90 s; see bench/.out/${stamp}-${what}.log`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      up = res.ok;
    } catch {
      // not listening yet
    }
    if (!up) await sleep(250);
  }
  // A server that answers is not necessarily ours: wrangler only logs "Address already in use".
  const owners = listeners(Number(new URL(url).port));
  const ours = (pid) => {
    try {
      return pgidOf(pid) === child.pid;
    } catch {
      return false;
    }
  };
  if (owners !== null && !owners.some(ours)) {
    throw new Error(
      `${url} answered, but not from the ${what} this bench started (pids ${owners.join(', ') || 'unknown'}); is another server on that port?`,
    );
  }
}

// ---- CPU of the servers (Linux /proc), to show who saturates the 2 cores ---------------------

const TICKS = 100; // USER_HZ on Linux

/** The live processes of a process group (wrangler + its workerd), and the CPU seconds they used. */
function groupStats(pgid) {
  let ticks = 0;
  let members = 0;
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
        if (Number(f[2]) !== pgid) continue; // pgrp
        ticks += Number(f[11]) + Number(f[12]); // utime, stime
        if (f[0] !== 'Z') members++;
      } catch {
        // the process ended meanwhile
      }
    }
  } catch {
    return { cpu: null, members: 0 }; // no /proc: not Linux
  }
  return { cpu: ticks / TICKS, members };
}

// ---- one scenario run ------------------------------------------------------------------------

/** CPU seconds the whole machine has been busy (all cores), to see load from outside the bench. */
function machineCpu() {
  try {
    const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f; // idle and iowait are not busy
    return (user + nice + system + irq + softirq + steal) / TICKS;
  } catch {
    return null;
  }
}

/** CPU seconds of each server so far, by name. */
const serverCpus = (servers) => Object.fromEntries(Object.entries(servers).map(([name, s]) => [name, groupStats(s.child.pid).cpu]));

/**
 * Waits (up to 15 s) until every server is nearly idle. Requests still in flight when a run ends
 * are cut by autocannon, but the Durable Objects finish the work they were given, and the pipeline
 * goes on compacting after a freshness run; without this the next scenario would share the CPU
 * with that leftover work. Returns the seconds waited.
 */
async function settle(servers) {
  const started = performance.now();
  for (;;) {
    const a = serverCpus(servers);
    await sleep(500);
    const b = serverCpus(servers);
    const busy = Object.keys(a).reduce((n, k) => n + (b[k] - a[k]) / 0.5, 0);
    const waited = (performance.now() - started) / 1000;
    if (!(busy > 0.15) || waited > 15) return waited; // also ends when /proc is unavailable (NaN)
  }
}

/**
 * Runs a forked load process (load.mjs or fresh.mjs) against server `target` and adds the CPU the
 * servers and the machine used between its 'measuring' message and its 'loaded' (or 'done') one.
 * `hooks.measuring` / `hooks.loaded` are called at those moments (e.g. to read the store's status).
 */
function runChild(script, spec, target, servers, hooks = {}) {
  return new Promise((resolve, reject) => {
    const child = track(
      fork(join(root, 'bench', script), [JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
      false,
    );
    let cpu0 = null;
    let cpu = null;
    let t0 = 0;
    let result = null;
    const stopClock = () => {
      if (cpu || !cpu0) return;
      const cpu1 = { ...serverCpus(servers), machine: machineCpu() };
      const wall = (performance.now() - t0) / 1000;
      const use = (name) => (cpu0[name] === null || cpu1[name] === null ? null : (cpu1[name] - cpu0[name]) / wall);
      // The idle servers' CPU should be ~0; if not, it was taken from the measured one.
      const others = Object.keys(servers).filter((name) => name !== target);
      cpu = { serverCpu: use(target), otherServerCpu: others.reduce((s, name) => s + (use(name) ?? 0), 0), machine: use('machine') };
      hooks.loaded?.();
    };
    child.on('message', (m) => {
      if (m.phase === 'measuring') {
        cpu0 = { ...serverCpus(servers), machine: machineCpu() };
        t0 = performance.now();
        hooks.measuring?.();
      } else if (m.phase === 'loaded') {
        stopClock();
      } else if (m.phase === 'done') {
        stopClock();
        result = { ...m.result, serverCpu: cpu.serverCpu, otherServerCpu: cpu.otherServerCpu };
        // Whatever else ran on the machine meanwhile (another build, tests): it skews the figures.
        result.foreignCpu =
          cpu.machine === null || cpu.serverCpu === null
            ? null
            : Math.max(0, cpu.machine - cpu.serverCpu - cpu.otherServerCpu - result.loadCpu);
      }
    });
    child.on('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`${script} for ${target} exited with ${code} without a result`));
    });
  });
}

/** One warm-up + measured closed-loop run of an ingest scenario (load.mjs, autocannon). */
function runLoad(scenario, servers) {
  const server = servers[scenario.server];
  const spec = { url: baseOf(server), key: server.key, kind: scenario.kind, ...cfg };
  if (scenario.kind === 'webhook') spec.webhook = server.webhook;
  return runChild('load.mjs', spec, scenario.server, servers);
}

const baseOf = (server) => `http://${HOST}:${server.port}`;
/** A store as bench/storage.mjs takes it: its origin and its API key. */
const storeOf = (server) => ({ base: baseOf(server), key: server.key });
/** The headers of a request to a store: its dev key (the floor needs none). */
const authOf = (server) => (server.key ? { authorization: `Bearer ${server.key}` } : {});

async function status(server) {
  const res = await fetch(`${baseOf(server)}/v1/status`, { headers: authOf(server), signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /v1/status answered ${res.status}: ${text.slice(0, 300)}`);
  return { ...JSON.parse(text), receivedAt: performance.now() };
}

/** Polls the status until nothing is grey or blue; answers the seconds from `since`, or null on timeout. */
async function drain(server, since) {
  const deadline = since + cfg.drainTimeout * 1000;
  for (;;) {
    const s = await status(server);
    if (s.totals.grey === 0 && s.totals.blue === 0) return (s.receivedAt - since) / 1000;
    if (performance.now() > deadline) return null;
    await sleep(100);
  }
}

/**
 * What the probes cost an idle store: CPU cores used while only `poll` runs every `everyMs` for
 * `seconds`, minus what it used just before with nothing running, and how fast it answered.
 */
async function probeCost(server, poll, everyMs, seconds = 3) {
  const cpu = () => groupStats(server.child.pid).cpu;
  const c0 = cpu();
  await sleep(1000);
  const idle = cpu() - c0;
  const answers = [];
  const c1 = cpu();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const started = performance.now();
    await poll();
    answers.push(performance.now() - started);
    await sleep(Math.max(0, started + everyMs - performance.now()));
  }
  const wall = (performance.now() - t0) / 1000;
  return { everyMs, cores: Math.max(0, (cpu() - c1) / wall - idle), answerP50: median(answers), polls: answers.length };
}

/** Seeds for the generated events: each pipeline run gets its own, so no two runs repeat a body. */
let seedCounter = 1000;

/** A freshness run: fixed rate, 202 → green probe (fresh.mjs). */
function runFresh(trigger, rate, servers) {
  const spec = {
    url: baseOf(servers[trigger]),
    key: servers[trigger].key,
    rate: rate / cfg.batch,
    batch: cfg.batch,
    streams: cfg.streams,
    duration: cfg.duration,
    warmup: cfg.warmup,
    pollMs: cfg.pollMs,
    connections: cfg.connections,
    drainTimeout: cfg.drainTimeout,
    seed: seedCounter++,
  };
  return runChild('fresh.mjs', spec, trigger, servers);
}

/**
 * Throughput with the pipeline running: the batch scenario's closed loop against a pipeline store,
 * with the store's status read when the measured run starts and ends (green events per second
 * while loaded), then the time until nothing is grey or blue (the backlog's drain).
 */
async function runSaturation(trigger, servers) {
  const server = servers[trigger];
  let s0 = null;
  let s1 = null;
  let loadedAt = 0;
  const r = await runChild(
    'load.mjs',
    { url: baseOf(server), key: server.key, kind: 'batch', ...cfg, templates: 512, seed: seedCounter++ },
    trigger,
    servers,
    {
      measuring: () => (s0 = status(server)),
      loaded: () => {
        loadedAt = performance.now();
        s1 = status(server);
      },
    },
  );
  [s0, s1] = await Promise.all([s0, s1]);
  const drained = await drain(server, loadedAt);
  return {
    ...r,
    batch: cfg.batch,
    greenEventsPerSec: (s1.totals.green - s0.totals.green) / ((s1.receivedAt - s0.receivedAt) / 1000),
    backlogAtEnd: s1.totals.grey + s1.totals.blue,
    drainSeconds: drained,
  };
}

// ---- the stores' keys and webhook source ------------------------------------------------------

/**
 * scripts/dev-key.mjs on a store's state (after its migrations, before wrangler dev starts on it):
 * creates the tenant `default` (8 shards) and a key with every scope and a rate limit of 1,000,000
 * requests/s, and prints the key alone. Its own process group, so cleanup() also ends the
 * `wrangler d1 execute` it runs.
 */
async function devKey(name) {
  const log = `devkey-${name}`;
  const fd = openSync(join(out, `${stamp}-${log}.log`), 'a');
  const child = track(
    spawn(process.execPath, [join(root, 'scripts', 'dev-key.mjs'), '--persist-to', join(state, name), '--print-key'], {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', fd],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
    }),
    true,
  );
  let text = '';
  child.stdout.on('data', (c) => (text += c));
  const code = await exited(child);
  const key = text.trim().split('\n').at(-1)?.trim() ?? '';
  if (code !== 0 || !/^esk_\S+$/.test(key)) {
    throw new Error(`scripts/dev-key.mjs for the ${name} store failed (exit ${code}); see bench/.out/${stamp}-${log}.log`);
  }
  return key;
}

/**
 * Creates a GitHub webhook source on the store (POST /v1/admin/sources with its admin key) and sends
 * one signed delivery through it, which must be stored (200, not a duplicate). Answers what load.mjs
 * needs: { path, secret }.
 */
async function githubSource(server) {
  const secret = randomBytes(32).toString('hex');
  const res = await fetch(`${baseOf(server)}/v1/admin/sources`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authOf(server) },
    body: JSON.stringify({ platform: 'github', secrets: { secret } }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST /v1/admin/sources answered ${res.status}: ${text.slice(0, 500)}`);
  const { url: path } = JSON.parse(text);
  const probe = githubDeliveries({ tag: `probe${Date.now().toString(36)}`, secret, streams: cfg.streams }).next();
  const delivered = await fetch(`${baseOf(server)}${path}`, {
    method: 'POST',
    headers: probe.headers,
    body: probe.body,
    signal: AbortSignal.timeout(30_000),
  });
  const answer = await delivered.text();
  if (delivered.status !== 200 || !answer.includes('"duplicate":false')) {
    throw new Error(`the store answered a signed GitHub delivery to ${path} with ${delivered.status}: ${answer.slice(0, 500)}`);
  }
  return { path, secret };
}

// ---- what was measured ----------------------------------------------------------------------

/** The commit, and whether src/ differs from it: the figures belong to that code. */
function codeVersion() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--porcelain', '--', 'src', 'wrangler.toml') !== '' };
  } catch {
    return { commit: 'unknown', dirty: null };
  }
}

/**
 * A fingerprint of src/ (names, sizes, mtimes). `wrangler dev` rebuilds and reloads the store when
 * a source file changes, so an edit during the bench would silently mix two versions of the code.
 */
function srcFingerprint() {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(`${path} ${statSync(path).size} ${statSync(path).mtimeMs}\n`);
    }
  };
  walk(join(root, 'src'));
  hash.update(readFileSync(join(root, 'wrangler.toml')));
  return hash.digest('hex');
}

// ---- main ------------------------------------------------------------------------------------

const has = (scenario) => cfg.scenarios.includes(scenario);

/** Lines of a server's log worth showing when something failed (wrangler's offline noise left out). */
function logTail(name, lines = 15) {
  try {
    const noise = /Request\.cf|ENOTFOUND workers\.cloudflare\.com|onlookupall|^\s*$/;
    return readFileSync(join(out, `${stamp}-${name}.log`), 'utf8')
      .split('\n')
      .filter((l) => !noise.test(l))
      .slice(-lines);
  } catch {
    return [];
  }
}

function progress(what, r, extra = '') {
  const trouble =
    r.requests === 0
      ? '  !! no answer at all'
      : r.bad + r.errors > 0
        ? `  !! ${r.bad} unexpected ${JSON.stringify(r.statusCodes)}, ${r.errors} errors`
        : '';
  console.error(
    `${what}${extra}, CPU: load ${fmt(r.loadCpu, 2)}, server ${fmt(r.serverCpu, 2)}, idle servers ${fmt(r.otherServerCpu, 2)}, ` +
      `rest ${fmt(r.foreignCpu, 2)}; settled ${fmt(r.settledSeconds, 1)} s before${trouble}`,
  );
}

async function main() {
  for (const s of cfg.scenarios)
    if (!SCENARIO_NAMES.includes(s)) throw new Error(`BENCH_SCENARIOS: unknown "${s}"; known: ${SCENARIO_NAMES}`);
  for (const t of cfg.triggers) if (!TRIGGERS.includes(t)) throw new Error(`BENCH_TRIGGERS: unknown "${t}"; known: ${TRIGGERS}`);
  mkdirSync(out, { recursive: true });
  lockBench();
  mkdirSync(state);
  const code = codeVersion();
  const fingerprint = srcFingerprint();
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    wrangler: version('wrangler'),
    autocannon: version('autocannon'),
    duckdb: version('@duckdb/node-api'),
  };
  const pipeline = has('freshness') || has('saturation') || has('storage') ? cfg.triggers : [];
  const vars = Object.fromEntries(pipeline.map((t) => [t, triggerVars(t)]));
  // The ingest bars compare the write path with a Worker that only parses. In production the
  // pipeline's steps run in other invocations on other machines; under wrangler dev they would
  // share the one workerd thread with ingest, so the ingest store defers them (BENCH_PUBLISH=1
  // runs it with wrangler.toml's settings instead). With the notify trigger a delay defers nothing,
  // hence the batch trigger with a 10-minute delay and a threshold no run reaches.
  const ingestVars =
    process.env.BENCH_PUBLISH === '1' ? {} : { PIPELINE_TRIGGER: 'batch', PUBLISH_DELAY_MS: '600000', PUBLISH_MIN_EVENTS: '100000' };

  console.log(`# Benchmark ${stamp}`);
  console.log(
    `machine: ${machine.cpus} CPUs (${machine.cpuModel}), node ${machine.node}, wrangler ${machine.wrangler}, autocannon ${machine.autocannon}, DuckDB ${machine.duckdb}`,
  );
  console.log(`code: ${code.commit}${code.dirty ? ' + uncommitted changes in src/ or wrangler.toml' : ''}`);
  console.log(`scenarios: ${cfg.scenarios.join(', ')}; state in ${relative(root, state)}`);
  console.log(
    `load: ${cfg.connections} connections, ${cfg.warmup} s warm-up + ${cfg.duration} s measured, ${cfg.runs} runs (median), ` +
      `${cfg.batch}-event batches over ${cfg.streams} streams`,
  );
  if (has('ingest')) {
    console.log(
      process.env.BENCH_PUBLISH === '1'
        ? 'ingest store: pipeline on with wrangler.toml settings (it shares the workerd thread with ingest)'
        : `ingest store: pipeline deferred (${Object.entries(ingestVars)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}; BENCH_PUBLISH=1 keeps it running)`,
    );
  }
  for (const t of pipeline) {
    console.log(
      `pipeline store "${t}": ${Object.entries(vars[t])
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')} (the rest as in wrangler.toml)`,
    );
  }
  if (has('freshness'))
    console.log(`freshness: ${cfg.freshRates.map((r) => fmt(r)).join(' and ')} events/s, GET /v1/status every ${cfg.pollMs} ms`);
  console.log('');

  // ---- servers
  const servers = {};
  const persist = (name) => ['--persist-to', join(state, name)];
  const dev = (port, inspector) => [
    'dev',
    '--ip',
    HOST,
    '--port',
    String(port),
    '--inspector-ip',
    HOST,
    '--inspector-port',
    String(inspector),
  ];
  const quiet = (level) => ['--log-level', level, '--show-interactive-dev-session=false'];
  const plan = [];
  if (has('ingest') || has('reads'))
    plan.push({ name: 'floor', port: cfg.floorPort, args: ['-c', 'bench/floor/wrangler.toml'], up: '/empty', level: 'warn' });
  if (has('ingest')) {
    plan.push({ name: 'store', port: cfg.storePort, args: varArgs(ingestVars), up: '/openapi.json', level: cfg.storeLog, store: true });
  }
  pipeline.forEach((t, i) =>
    plan.push({ name: t, port: cfg.storePort + 1 + i, args: varArgs(vars[t]), up: '/openapi.json', level: cfg.storeLog, store: true }),
  );
  if (has('reads')) {
    const readsVars = { PIPELINE_TRIGGER: 'notify', HOT_WINDOW_MS: String(READS_HOT_WINDOW_MS) };
    plan.push({
      name: 'reads',
      port: cfg.storePort + 1 + pipeline.length,
      args: varArgs(readsVars),
      up: '/openapi.json',
      level: cfg.storeLog,
      store: true,
    });
  }
  for (const p of plan) await assertPortFree(p.port);

  // Every store's catalog tables must exist before its first request; each has its own state.
  const migrations = plan
    .filter((p) => p.store)
    .map(async (p) => {
      const m = startWrangler(['d1', 'migrations', 'apply', 'CATALOG', '--local', ...persist(p.name)], `migrations-${p.name}`);
      if ((await exited(m)) !== 0) throw new Error(`D1 migrations failed; see bench/.out/${stamp}-migrations-${p.name}.log`);
    });
  await Promise.all(migrations);
  // Then, as `npm start` does, the tenant `default` and a key with every scope (rate 1,000,000/s):
  // every request to a store carries it. Other keys default to 200 req/s, far below these loads.
  const keys = Object.fromEntries(await Promise.all(plan.filter((p) => p.store).map(async (p) => [p.name, await devKey(p.name)])));
  // --log-level warn: wrangler's per-request log lines would cost the servers CPU the Workers need.
  plan.forEach((p, i) => {
    servers[p.name] = {
      port: p.port,
      key: keys[p.name] ?? null,
      child: startWrangler([...dev(p.port, 9290 + i), ...p.args, ...persist(p.name), ...quiet(p.level)], p.name),
    };
  });
  await Promise.all(plan.map((p) => waitUntilUp(servers[p.name].child, `${baseOf(servers[p.name])}${p.up}`, p.name)));

  // One real batch first: a store that refuses the bodies (or the key) should fail here, not after minutes.
  for (const p of plan.filter((x) => x.store)) {
    const probe = bodies({ tag: `probe${Date.now().toString(36)}`, streams: cfg.streams }).batchMaker(cfg.batch, 1)();
    const res = await fetch(`${baseOf(servers[p.name])}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authOf(servers[p.name]) },
      body: probe,
    });
    const text = await res.text();
    if (res.status !== 202) throw new Error(`the ${p.name} store answered the probe batch with ${res.status}: ${text.slice(0, 500)}`);
  }
  // The webhook scenario's GitHub source on the ingest store, and one signed delivery through it.
  if (has('ingest')) servers.store.webhook = await githubSource(servers.store);

  const problems = [];
  const results = { stamp, machine, code, config: cfg, vars: { ingest: ingestVars, ...vars } };
  const print = (title, table) => {
    console.log(`\n## ${title}\n`);
    console.log(table);
  };

  // ---- ingest alone: runs are interleaved (every scenario once per run) so slow drift hits all alike
  if (has('ingest')) {
    const runs = [];
    for (let i = 1; i <= cfg.runs; i++) {
      const run = {};
      for (const s of SCENARIOS) {
        const settled = await settle(servers);
        const r = await runLoad(s, servers);
        r.settledSeconds = settled;
        run[s.id] = r;
        const rate = r.reqPerSec * (s.unit === 'events/s' ? cfg.batch : 1);
        progress(`run ${i}/${cfg.runs} ${s.name}: ${fmt(rate)} ${s.unit}, p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms`, r);
      }
      runs.push(run);
    }
    results.ingest = summariseIngest(SCENARIOS, runs, cfg.batch, BAR);
    for (const r of Object.values(results.ingest)) {
      if (r.bad > 0 || r.duplicates > 0 || r.silentRuns > 0) {
        problems.push(
          `${r.name}: ${r.bad} unexpected answers or connection errors, ${r.duplicates} duplicate answers, ${r.silentRuns} runs without any answer; ` +
            `status codes per run ${JSON.stringify(r.statusCodes)}${r.samples.map((s) => `\n  e.g. ${s}`).join('')}`,
        );
      }
    }
  }

  // What the probes cost the store they watch, measured on an idle one (they share its thread).
  if (pipeline.length > 0 && (has('freshness') || has('storage'))) {
    const server = servers[pipeline[0]];
    await settle(servers);
    results.probeCost = {
      status: await probeCost(server, () => status(server), cfg.pollMs),
      segments: await probeCost(server, () => listSegments(storeOf(server), 'replica'), cfg.segmentWatchMs),
    };
  }

  // The as-written Parquet is gathered while the pipeline stores run (compaction retires it).
  const watchers = has('storage')
    ? Object.fromEntries(pipeline.map((t) => [t, watchSegments(storeOf(servers[t]), cfg.segmentWatchMs)]))
    : {};
  const snapshots = {};
  /** Everything the storage figures need, taken once the pipeline is drained and compaction settled. */
  async function snapshot() {
    for (const t of pipeline) {
      const store = storeOf(servers[t]);
      const compaction = await settleCompaction(store);
      const watch = await watchers[t].stop();
      const live = await listSegments(store, 'replica');
      const master = await listSegments(store, 'master');
      const st = await status(servers[t]);
      const written = new Map(watchers[t].seen);
      for (const s of live) if (s.level === 0) written.set(s.key, s);
      const dir = join(out, `${stamp}-segments`, t);
      snapshots[t] = {
        compaction,
        watch,
        greenEvents: st.totals.green,
        allGreen: st.totals.grey === 0 && st.totals.blue === 0,
        live: await download(store, live, join(dir, 'live')),
        asWritten: await download(store, [...written.values()], join(dir, 'written')),
        master,
      };
      console.error(
        `storage ${t}: ${live.length} live replica segments, ${written.size} level-0 segments seen (${watch.polls} listings), ` +
          `${master.length} master segments; compaction ${compaction.settled ? 'settled' : 'still changing'} after ${fmt(compaction.seconds, 1)} s`,
      );
    }
  }

  // ---- freshness: 202 → green at fixed rates, the triggers interleaved
  if (has('freshness') && pipeline.length > 0) {
    const cells = [];
    for (const rate of cfg.freshRates) for (const trigger of pipeline) cells.push({ trigger, rate, runs: [] });
    for (let i = 1; i <= cfg.runs; i++) {
      for (const cell of cells) {
        const settled = await settle(servers);
        const r = await runFresh(cell.trigger, cell.rate, servers);
        r.settledSeconds = settled;
        cell.runs.push(r);
        const f = r.freshness.perEvent;
        progress(
          `run ${i}/${cfg.runs} freshness ${cell.trigger} @ ${fmt(cell.rate)} events/s: achieved ${fmt(r.achievedEventsPerSec)}` +
            `${keptUp(r) ? '' : ` (NOT kept up: ${r.shed} shed, ${r.maxInFlight} in flight at most)`}, 202 p50 ${fmt(r.latency.p50)} ms, ` +
            `green p50 ${fmt(f.p50)} p99 ${fmt(f.p99)} max ${fmt(f.max)} ms, drain ${r.drainSeconds === null ? 'NEVER' : `${fmt(r.drainSeconds, 1)} s`}`,
          { ...r, requests: r.answered },
          `, status polls every ${fmt(r.polls.interval.p50)} ms answered in ${fmt(r.polls.answer.p50)} ms`,
        );
      }
    }
    results.freshness = summariseFreshness(cells);
    for (const r of results.freshness) {
      r.pass = r.keptUpRuns === r.runs.length && r.greenP99 !== null && r.greenP99 <= FRESH_GOAL.p99Ms && r.bad === 0 && r.neverGreen === 0;
      if (r.bad > 0 || r.duplicates > 0 || r.neverGreen > 0 || r.undrainedRuns > 0) {
        problems.push(
          `freshness ${r.trigger} @ ${fmt(r.rate)} events/s: ${r.bad} unexpected answers, errors or unanswered requests, ${r.duplicates} duplicate answers, ` +
            `${r.neverGreen} sampled events never seen green, ${r.undrainedRuns} runs whose backlog never drained within ${cfg.drainTimeout} s` +
            `${r.samples.map((s) => `\n  e.g. ${s}`).join('')}`,
        );
      }
    }
    if (has('storage')) await snapshot();
  }

  // ---- throughput with the pipeline running (closed loop), the triggers interleaved
  if (has('saturation') && pipeline.length > 0) {
    const cells = pipeline.map((trigger) => ({ trigger, runs: [] }));
    for (let i = 1; i <= cfg.runs; i++) {
      for (const cell of cells) {
        const settled = await settle(servers);
        const r = await runSaturation(cell.trigger, servers);
        r.settledSeconds = settled;
        cell.runs.push(r);
        progress(
          `run ${i}/${cfg.runs} saturation ${cell.trigger}: ${fmt(r.reqPerSec * cfg.batch)} events/s, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, ` +
            `green ${fmt(r.greenEventsPerSec)} events/s, backlog ${fmt(r.backlogAtEnd)}, drain ${r.drainSeconds === null ? 'NEVER' : `${fmt(r.drainSeconds, 1)} s`}`,
          r,
        );
      }
    }
    results.saturation = summariseSaturation(cells, results.ingest?.batch?.rate ?? null);
    for (const r of results.saturation) {
      if (r.bad > 0 || r.duplicates > 0 || r.silentRuns > 0 || r.undrainedRuns > 0) {
        problems.push(
          `saturation ${r.trigger}: ${r.bad} unexpected answers or connection errors, ${r.duplicates} duplicate answers, ${r.silentRuns} runs without any answer, ` +
            `${r.undrainedRuns} runs whose backlog never drained within ${cfg.drainTimeout} s${r.samples.map((s) => `\n  e.g. ${s}`).join('')}`,
        );
      }
    }
  }
  if (has('storage') && pipeline.length > 0 && Object.keys(snapshots).length === 0) await snapshot();

  // ---- reads: latency of the read routes, hot and cold, beside an empty Worker's (bench/reads.mjs)
  if (has('reads')) {
    try {
      await settle(servers);
      const spec = {
        url: baseOf(servers.reads),
        key: servers.reads.key,
        floorUrl: baseOf(servers.floor),
        hotWindowMs: READS_HOT_WINDOW_MS,
      };
      results.reads = await runChild('reads.mjs', spec, 'reads', servers);
      progress(
        `reads: hot by id p50 ${fmt(results.reads.hotById.p50, 1)} ms, cold ${fmt(results.reads.coldById.p50, 1)} ms`,
        results.reads,
      );
    } catch (err) {
      problems.push(`reads: ${err.message}`);
    }
  }

  // ---- the end state of every pipeline store: all green, nothing dead-lettered
  results.finalStatus = {};
  for (const t of pipeline) {
    const st = await status(servers[t]);
    results.finalStatus[t] = { totals: st.totals, lag: st.lag, deadLetters: st.deadLetters };
    if (st.totals.grey + st.totals.blue > 0 || st.deadLetters.count > 0) {
      problems.push(
        `pipeline store "${t}" did not end all green: totals ${JSON.stringify(st.totals)}, lag ${JSON.stringify(st.lag)}, ` +
          `${st.deadLetters.count} dead letters ${JSON.stringify(st.deadLetters.latest.slice(0, 3))}`,
      );
    }
  }
  const logs = Object.fromEntries(plan.filter((p) => p.store).map((p) => [p.name, logTail(p.name)]));
  code.changedDuringRun = srcFingerprint() !== fingerprint;
  await cleanup(); // the servers are done; DuckDB and parquet-size.mjs get the cores to themselves

  // ---- storage: the store's Parquet beside DuckDB's and NDJSON of the same events
  if (has('storage') && pipeline.length > 0) {
    results.storage = {};
    for (const t of pipeline) {
      const s = snapshots[t];
      try {
        const compactMaxRows = Number(tomlVars().COMPACT_MAX_ROWS ?? 50_000);
        const m = await measureStorage({ ...s, compactMaxRows, work: join(out, `${stamp}-segments`, t, 'duckdb') });
        for (const set of [m.asWritten, m.compacted, m.fullyCompacted]) set.pass = storagePass(set, m.ndjson.postedPerEvent, STORAGE_GOAL);
        results.storage[t] = { ...m, compaction: s.compaction, watch: s.watch };
        if (m.compacted.rows !== s.greenEvents)
          problems.push(
            `pipeline store "${t}": the live replica segments hold ${m.compacted.rows} rows, the shards report ${s.greenEvents} green events`,
          );
      } catch (err) {
        results.storage[t] = { error: err.message };
        problems.push(`storage of "${t}" could not be measured: ${err.message}`);
      }
    }
  }

  // ---- bench/parquet-size.mjs: the same bar on generated rows, one shard's 5 k / 20 k / 50 k events
  if (has('parquet')) {
    const child = track(fork(join(root, 'bench', 'parquet-size.mjs'), [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] }), false);
    let text = '';
    child.stdout.on('data', (c) => (text += c));
    if ((await exited(child)) !== 0) problems.push('bench/parquet-size.mjs failed (its error is above)');
    const lines = text.split('\n');
    const from = lines.findIndex((l) => l.startsWith('| file |'));
    results.parquetSize = from === -1 ? null : lines.slice(from - 2, lines.indexOf('', from)).join('\n');
  }

  // ---- bench/query.mjs: the reference query set over generated 1 M and 10 M events (BENCH_QUERY_SIZES),
  // ours beside DuckDB on the same files, cold and warm; it starts its own store
  if (has('query')) {
    try {
      const { runQueryScenario } = await import('./query.mjs');
      results.query = await runQueryScenario({ log: (m) => console.error(m) });
    } catch (err) {
      problems.push(`query: ${err.message}`);
    }
  }

  // ---- report
  if (results.ingest) print('Ingest (pipeline deferred)', ingestTable(results.ingest, BAR));
  if (results.freshness) {
    print(
      `Freshness: 202 → green at a fixed rate (${cfg.warmup} s warm-up + ${cfg.duration} s measured)`,
      freshnessTable(results.freshness, FRESH_GOAL),
    );
  }
  if (results.probeCost) {
    const { status: st, segments: sg } = results.probeCost;
    console.log(
      `(the probes share the store's thread: on an idle store, GET /v1/status every ${st.everyMs} ms took ${fmt(st.cores, 2)} cores, answered in ` +
        `${fmt(st.answerP50, 1)} ms (p50); GET /v1/segments every ${sg.everyMs} ms (as-written Parquet) took ${fmt(sg.cores, 2)} cores, ${fmt(sg.answerP50, 1)} ms)`,
    );
  }
  if (results.saturation) {
    print(
      'Throughput with the pipeline running (closed loop, as the ingest batch scenario)',
      saturationTable(results.saturation, results.ingest?.batch?.rate ?? null),
    );
  }
  if (results.storage)
    print('Storage: bytes per event of the Parquet written in the freshness runs', storageTable(results.storage, STORAGE_GOAL));
  if (results.parquetSize) print('Storage on generated rows (bench/parquet-size.mjs)', results.parquetSize);
  if (results.reads) print('Reads: latency, one request at a time', readsTable(results.reads));
  if (results.query) console.log(`\n${results.query.table}`);

  console.log('');
  if (results.ingest) {
    for (const r of Object.values(results.ingest).filter((x) => x.floor)) {
      console.log(`bar: ${r.name} ≥ ${BAR} × ${results.ingest[r.floor].name}: ${r.pass ? 'PASS' : 'FAIL'} (${fmt(r.ratio, 2)})`);
    }
  }
  for (const r of (results.freshness ?? []).filter((x) => x.rate === FRESH_GOAL.rate)) {
    console.log(
      `goal: p99 202 → green ≤ ${fmt(FRESH_GOAL.p99Ms)} ms at ${fmt(FRESH_GOAL.rate)} events/s, ${r.trigger}: ${r.pass ? 'PASS' : 'FAIL'} ` +
        `(p99 ${fmt(r.greenP99)} ms; ${r.keptUpRuns}/${r.runs.length} runs kept up the rate)`,
    );
  }
  for (const [t, s] of Object.entries(results.storage ?? {})) {
    if (s.error) continue;
    console.log(
      `goal: Parquet ≤ DuckDB zstd and ≥ ${STORAGE_GOAL.ndjsonRatio}× smaller than NDJSON, ${t}: as written ${s.asWritten.pass ? 'PASS' : 'FAIL'}, ` +
        `live after compaction ${s.compacted.pass ? 'PASS' : 'FAIL'}, fully compacted ${s.fullyCompacted.pass ? 'PASS' : 'FAIL'}`,
    );
  }
  // Which trigger did better, with the figures: near-equal figures are within this machine's noise.
  for (const rate of results.freshness ? cfg.freshRates : []) {
    const rows = results.freshness.filter((r) => r.rate === rate && r.greenP99 !== null).sort((a, b) => a.greenP99 - b.greenP99);
    if (rows.length < 2) continue;
    const kept = rows.filter((r) => r.keptUpRuns === r.runs.length).map((r) => r.trigger);
    console.log(
      `fresher at ${fmt(rate)} events/s (lower green p99): ${rows[0].trigger} (${rows.map((r) => `${r.trigger} ${fmt(r.greenP99)} ms`).join(' vs ')}; ` +
        `${kept.length ? `kept up the rate: ${kept.join(', ')}` : 'neither kept up the rate'})`,
    );
  }
  if (results.saturation?.length > 1) {
    const rows = [...results.saturation].sort((a, b) => b.rate - a.rate);
    console.log(
      `more throughput with the pipeline running: ${rows[0].trigger} (${rows.map((r) => `${r.trigger} ${fmt(r.rate)} events/s`).join(' vs ')})`,
    );
  }
  for (const [t, st] of Object.entries(results.finalStatus)) {
    const { grey, blue, green, red } = st.totals;
    console.log(
      `end state of the ${t} store: ${fmt(green)} green, ${fmt(grey)} grey, ${fmt(blue)} blue, ${fmt(red)} red, ${st.deadLetters.count} dead letters`,
    );
  }

  if (problems.length > 0) {
    console.log('\n!!!!!!!! THE BENCHMARK SAW ERRORS: the figures above are not valid !!!!!!!!');
    for (const p of problems) console.log(`- ${p}`);
    for (const [name, lines] of Object.entries(logs)) {
      if (lines.length > 0) console.log(`\nlast lines of bench/.out/${stamp}-${name}.log:\n${lines.map((l) => `  ${l}`).join('\n')}`);
    }
  }
  if (code.changedDuringRun) {
    console.log('\n!!!!!!!! src/ OR wrangler.toml CHANGED DURING THE RUN: wrangler dev may have reloaded the stores mid-way !!!!!!!!');
  }

  results.problems = problems;
  const file = join(out, `results-${stamp}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nresults: ${relative(root, file)}`);
  return problems.length === 0;
}

let ok = false;
try {
  ok = await main();
} catch (err) {
  if (!stopping) console.error(`\nbench failed: ${err.stack ?? err.message}`);
} finally {
  await cleanup();
}
process.exitCode = ok ? 0 : 1;
