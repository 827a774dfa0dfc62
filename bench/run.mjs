// `npm run bench`: the ingest benchmark of DESIGN.md section 6.
//
// Starts two `wrangler dev` servers on loopback (the floor Worker of bench/floor/ and the store with
// fresh local state), drives each scenario from a separate process (bench/load.mjs, autocannon), and
// prints the store's rates beside the floors measured in the same run, as the median of several runs.
// Every server it starts is killed at the end, on error and on Ctrl-C.

/* global AbortSignal -- Node's global; eslint.config.js lists only a few for bench/ */
import { execFileSync, fork, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { bodies } from './events.mjs';

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const cfg = {
  duration: env('BENCH_DURATION', 10), // seconds measured per run and scenario
  warmup: env('BENCH_WARMUP', 2), // seconds of load before each measured run, discarded
  runs: env('BENCH_RUNS', 3), // runs per scenario; the median is reported
  connections: env('BENCH_CONNECTIONS', 64), // see README: what gave the floors their best rate here
  batch: env('BENCH_BATCH', 100), // events per batch request
  streams: env('BENCH_STREAMS', 10_000), // streams the events are spread over
  floorPort: env('BENCH_FLOOR_PORT', 8790),
  storePort: env('BENCH_STORE_PORT', 8791),
};
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
];
const BAR = 0.5; // DESIGN.md section 6: at least half of the floor

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
 * Waits (up to 15 s) until both servers are nearly idle. Requests still in flight when a run ends
 * are cut by autocannon, but the Durable Objects finish the work they were given; without this the
 * next scenario would share the CPU with that leftover work. Returns the seconds waited.
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

/** One warm-up + measured run of a scenario in a forked load.mjs; adds the servers' CPU use. */
function runLoad(scenario, servers) {
  const target = scenario.server;
  const spec = { url: `http://${HOST}:${servers[target].port}`, kind: scenario.kind, ...cfg };
  return new Promise((resolve, reject) => {
    const child = track(
      fork(join(root, 'bench', 'load.mjs'), [JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
      false,
    );
    let cpu0 = null;
    let t0 = 0;
    let result = null;
    child.on('message', (m) => {
      if (m.phase === 'measuring') {
        cpu0 = { ...serverCpus(servers), machine: machineCpu() };
        t0 = performance.now();
      } else if (m.phase === 'done') {
        const cpu1 = { ...serverCpus(servers), machine: machineCpu() };
        const wall = (performance.now() - t0) / 1000;
        const use = (name) => (cpu0[name] === null || cpu1[name] === null ? null : (cpu1[name] - cpu0[name]) / wall);
        // The idle server's CPU should be ~0; if not, it stole from the measured one.
        const other = Object.keys(servers).find((name) => name !== target);
        result = { ...m.result, serverCpu: use(target), otherServerCpu: use(other) };
        // Whatever else ran on the machine meanwhile (another build, tests): it skews the figures.
        const machine = use('machine');
        result.foreignCpu =
          machine === null || result.serverCpu === null
            ? null
            : Math.max(0, machine - result.serverCpu - result.otherServerCpu - result.loadCpu);
      }
    });
    child.on('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`load process for ${scenario.id} exited with ${code} without a result`));
    });
  });
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

// ---- report ----------------------------------------------------------------------------------

function median(xs) {
  const s = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (x, digits = 0) =>
  x === null ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function summarise(runs) {
  const rows = {};
  for (const s of SCENARIOS) {
    const rs = runs.map((r) => r[s.id]);
    const perEvent = s.unit === 'events/s' ? cfg.batch : 1;
    rows[s.id] = {
      ...s,
      rate: median(rs.map((r) => r.reqPerSec * perEvent)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      loadCpu: median(rs.map((r) => r.loadCpu)),
      serverCpu: median(rs.map((r) => r.serverCpu)),
      otherServerCpu: median(rs.map((r) => r.otherServerCpu)),
      foreignCpu: median(rs.map((r) => r.foreignCpu)),
      bad: rs.reduce((n, r) => n + r.bad + r.errors, 0),
      duplicates: rs.reduce((n, r) => n + r.duplicates, 0),
      // A server that hangs answers nothing: no status and no error to count, so count the runs.
      silentRuns: rs.filter((r) => r.requests === 0).length,
      statusCodes: rs.map((r) => r.statusCodes),
      samples: rs.flatMap((r) => r.samples).slice(0, 3),
      runs: rs,
    };
  }
  for (const row of Object.values(rows)) {
    if (!row.floor) continue;
    row.floorRate = rows[row.floor].rate;
    row.ratio = row.floorRate ? row.rate / row.floorRate : null;
    row.pass = row.ratio !== null && row.ratio >= BAR && row.bad === 0 && row.silentRuns === 0;
  }
  return rows;
}

function printTable(rows) {
  const lines = ['| scenario | median rate | unit | p50 ms | p99 ms | floor | ratio to floor |', '|---|---:|---|---:|---:|---:|---:|'];
  for (const r of Object.values(rows)) {
    const floor = r.floor ? `${fmt(r.floorRate)} ${rows[r.floor].unit}` : '—';
    const ratio = r.floor ? `${fmt(r.ratio, 2)} (bar ≥ ${BAR}: ${r.pass ? 'PASS' : 'FAIL'})` : '—';
    lines.push(`| ${r.name} | ${fmt(r.rate)} | ${r.unit} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${floor} | ${ratio} |`);
  }
  lines.push(
    '',
    '| scenario | CPU: load generator | CPU: server | CPU: idle server | CPU: rest of machine | unexpected statuses + errors | duplicate answers |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of Object.values(rows)) {
    lines.push(
      `| ${r.name} | ${fmt(r.loadCpu, 2)} | ${fmt(r.serverCpu, 2)} | ${fmt(r.otherServerCpu, 2)} | ${fmt(r.foreignCpu, 2)} | ${r.bad}${r.silentRuns ? ` + ${r.silentRuns} runs without any answer` : ''} | ${r.duplicates} |`,
    );
  }
  lines.push(
    '(CPU in cores over the measured seconds, medians; the idle server is the one not under load; the rest of the machine is what ran besides the bench)',
  );
  console.log(lines.join('\n'));
}

// ---- main ------------------------------------------------------------------------------------

async function main() {
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
  };
  console.log(`# Ingest benchmark ${stamp}`);
  console.log(
    `machine: ${machine.cpus} CPUs (${machine.cpuModel}), node ${machine.node}, wrangler ${machine.wrangler}, autocannon ${machine.autocannon}`,
  );
  console.log(`code: ${code.commit}${code.dirty ? ' + uncommitted changes in src/' : ''}`);
  console.log(
    `load: ${cfg.connections} connections, ${cfg.warmup} s warm-up + ${cfg.duration} s measured, ${cfg.runs} runs (median), ` +
      `${cfg.batch}-event batches over ${cfg.streams} streams; state in ${relative(root, state)}`,
  );
  console.log(
    process.env.BENCH_PUBLISH === '1'
      ? 'publish: on (the publish step shares the workerd thread with ingest)\n'
      : 'publish: deferred (ingest measured alone; BENCH_PUBLISH=1 keeps the publish step running)\n',
  );

  await assertPortFree(cfg.floorPort);
  await assertPortFree(cfg.storePort);

  // The store's catalog tables must exist before its first request.
  const persist = ['--persist-to', state];
  const migrate = startWrangler(['d1', 'migrations', 'apply', 'CATALOG', '--local', ...persist], 'migrations');
  if ((await exited(migrate)) !== 0) throw new Error(`D1 migrations failed; see bench/.out/${stamp}-migrations.log`);

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
  // --log-level warn: wrangler's per-request log lines would cost the servers CPU the Workers need.
  const quiet = ['--log-level', 'warn', '--show-interactive-dev-session=false'];
  const floor = {
    port: cfg.floorPort,
    child: startWrangler([...dev(cfg.floorPort, 9290), '-c', 'bench/floor/wrangler.toml', ...persist, ...quiet], 'floor'),
  };
  // The ingest bars compare the write path with a Worker that only parses. In production the
  // publish step runs in other invocations on other machines; under wrangler dev it would share
  // the one workerd thread with ingest, so it is deferred here (BENCH_PUBLISH=1 keeps it on).
  const deferPublish = process.env.BENCH_PUBLISH === '1' ? [] : ['--var', 'PUBLISH_DELAY_MS:600000', '--var', 'PUBLISH_MIN_EVENTS:100000'];
  const store = {
    port: cfg.storePort,
    child: startWrangler([...dev(cfg.storePort, 9291), ...persist, ...quiet, ...deferPublish], 'store'),
  };
  await Promise.all([
    waitUntilUp(floor.child, `http://${HOST}:${cfg.floorPort}/empty`, 'floor'),
    waitUntilUp(store.child, `http://${HOST}:${cfg.storePort}/openapi.json`, 'store'),
  ]);

  // One real batch first: a store that refuses the bodies should fail here, not after minutes.
  const probe = bodies({ tag: `probe${Date.now().toString(36)}`, streams: cfg.streams }).batchMaker(cfg.batch, 1)();
  const res = await fetch(`http://${HOST}:${cfg.storePort}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: probe,
  });
  if (res.status !== 202) throw new Error(`the store answered the probe batch with ${res.status}: ${(await res.text()).slice(0, 500)}`);
  await res.arrayBuffer();

  // Runs are interleaved (every scenario once per run) so slow drift (state growing, thermal) hits all alike.
  const servers = { floor, store };
  const runs = [];
  for (let i = 1; i <= cfg.runs; i++) {
    const run = {};
    for (const s of SCENARIOS) {
      const settled = await settle(servers);
      const r = await runLoad(s, servers);
      r.settledSeconds = settled;
      run[s.id] = r;
      const rate = r.reqPerSec * (s.unit === 'events/s' ? cfg.batch : 1);
      const trouble =
        r.requests === 0
          ? '  !! no answer at all'
          : r.bad + r.errors > 0
            ? `  !! ${r.bad} unexpected ${JSON.stringify(r.statusCodes)}, ${r.errors} errors`
            : '';
      console.error(
        `run ${i}/${cfg.runs} ${s.name}: ${fmt(rate)} ${s.unit}, p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms, ` +
          `CPU: load ${fmt(r.loadCpu, 2)}, server ${fmt(r.serverCpu, 2)}, idle server ${fmt(r.otherServerCpu, 2)}, rest ${fmt(r.foreignCpu, 2)}; settled ${fmt(settled, 1)} s before${trouble}`,
      );
    }
    runs.push(run);
  }

  const rows = summarise(runs);
  console.log('');
  printTable(rows);

  const bad = Object.values(rows).filter((r) => r.bad > 0 || r.duplicates > 0 || r.silentRuns > 0);
  if (bad.length > 0) {
    console.log('\n!!!!!!!! THE BENCHMARK SAW ERRORS: the figures above are not valid !!!!!!!!');
    for (const r of bad) {
      console.log(
        `- ${r.name}: ${r.bad} non-expected answers or connection errors, ${r.duplicates} duplicate answers, ` +
          `${r.silentRuns} runs without any answer`,
      );
      console.log(`  status codes per run: ${JSON.stringify(r.statusCodes)}`);
      for (const s of r.samples) console.log(`  e.g. ${s}`);
    }
  }
  for (const r of Object.values(rows).filter((x) => x.floor)) {
    console.log(`\nbar: ${r.name} ≥ ${BAR} × ${rows[r.floor].name}: ${r.pass ? 'PASS' : 'FAIL'} (${fmt(r.ratio, 2)})`);
  }

  code.changedDuringRun = srcFingerprint() !== fingerprint;
  if (code.changedDuringRun) {
    console.log('\n!!!!!!!! src/ OR wrangler.toml CHANGED DURING THE RUN: wrangler dev may have reloaded the store mid-way !!!!!!!!');
  }

  const file = join(out, `results-${stamp}.json`);
  writeFileSync(file, JSON.stringify({ stamp, machine, code, config: cfg, bar: BAR, scenarios: rows }, null, 2) + '\n');
  console.log(`\nresults: ${relative(root, file)}`);
  return bad.length === 0;
}

let ok = false;
try {
  ok = await main();
} catch (err) {
  if (!stopping) console.error(`\nbench failed: ${err.message}`);
} finally {
  await cleanup();
}
process.exitCode = ok ? 0 : 1;
