// The query benchmark (DESIGN.md §6: "on ≥ 10 M events, each query of the reference set within 3× of
// DuckDB reading the same Parquet files; a repeated query faster than DuckDB").
//
//   npx node bench/query.mjs          (BENCH_QUERY_SIZES=1000000,10000000 by default)
//
// For each size, bench/query-data.mjs provides the events as the replica's compacted Parquet files,
// once on disk and once inside a store's local R2 + D1. Each query of the reference set then runs:
//   - DuckDB (@duckdb/node-api) over the files on disk: cold = a new in-memory instance's first
//     run, warm = the median of BENCH_QUERY_RUNS (3) repeats in that instance;
//   - the engine alone on Node (bench/query-engine.ts: parse → plan → scan → merge → finish over the
//     same files, no Worker, no R2): cold = the query's first run in this process, warm = the median;
//   - ours, POST /v1/query to `wrangler dev --persist-to <state>`: cold = the first run after the store
//     started (restarted before every query, its Cache API directory removed; BENCH_QUERY_COLD=first
//     keeps one store and takes each query's first run instead), warm = the median of the repeats.
// DuckDB and Node run while no store is up; the store runs alone afterwards. Answers are checked
// against DuckDB's: exact values equal (doubles to 1e-9 relative), approx_count_distinct within 3 %
// of the exact count, approx_quantile by the rank of the answer in the data (within ±0.025).
//
// Exported for bench/run.mjs: runQueryScenario({ sizes, port, log }) → { table, results }.

/* global AbortSignal -- Node's global; eslint.config.js lists only a few for bench/ */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadEngine } from './query-bundle.mjs';
import { ensureQueryData, streamName } from './query-data.mjs';
import { fmt, median } from './report.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench', '.out');
const wrangler = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const HOST = '127.0.0.1';
const envNum = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const cfg = {
  sizes: (process.env.BENCH_QUERY_SIZES || '1000000,10000000')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((x) => x > 0),
  port: envNum('BENCH_QUERY_PORT', 8794),
  runs: envNum('BENCH_QUERY_RUNS', 3),
  slowMs: envNum('BENCH_QUERY_SLOW_MS', 20_000), // a side whose first run took longer repeats once only
  cold: process.env.BENCH_QUERY_COLD || 'restart', // restart | first
  only: (process.env.BENCH_QUERY_ONLY || '').split(',').filter(Boolean), // query ids
  sides: (process.env.BENCH_QUERY_SIDES || 'duckdb,node,worker').split(','),
  timeoutMs: envNum('BENCH_QUERY_TIMEOUT', 600) * 1000,
};
const COLD_BAR = 3; // DESIGN.md §6: within 3× of DuckDB
const stamp = new Date().toISOString().replace(/[:.]/g, '-');

// ---- the reference set ----------------------------------------------------------------------------

/**
 * Each query in the engine's SQL and, for DuckDB, by hand over the files' own columns: `col(path,
 * type)` is the shredded column `"data.<path>"` when every file has it (DuckDB's best case), else
 * the path read from the `data` JSON text with a cast. `approx` names output columns checked with a
 * tolerance: ['distinct', exactColumn] or ['quantile', q, path].
 */
export function referenceSet() {
  const hot = streamName(0); // the hottest stream of the power law
  return [
    {
      id: 'count-week',
      name: 'count, 7-day time filter',
      sql: `SELECT count(*) AS n FROM events WHERE time >= TIMESTAMP '2026-10-08 00:00:00' AND time < TIMESTAMP '2026-10-15 00:00:00'`,
      duck: () =>
        `SELECT count(*) AS n FROM EVENTS WHERE time >= TIMESTAMPTZ '2026-10-08 00:00:00+00' AND time < TIMESTAMPTZ '2026-10-15 00:00:00+00'`,
    },
    {
      id: 'by-type',
      name: 'count by type',
      sql: `SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY n DESC, type`,
      duck: () => `SELECT type, count(*) AS n FROM EVENTS GROUP BY type ORDER BY n DESC, type`,
    },
    {
      id: 'daily',
      name: 'daily buckets: count, sum(amount)',
      sql: `SELECT date_trunc('day', time) AS day, count(*) AS n, sum(data.amount) AS amount FROM events GROUP BY 1 ORDER BY 1`,
      duck: (col) =>
        `SELECT date_trunc('day', time) AS day, count(*) AS n, sum(${col('amount', 'DOUBLE')}) AS amount FROM EVENTS GROUP BY 1 ORDER BY 1`,
    },
    {
      id: 'hourly',
      name: 'hourly buckets over 2 days: count, avg(latency)',
      sql: `SELECT date_trunc('hour', time) AS hour, count(*) AS n, avg(data.latency_ms) AS latency FROM events WHERE time >= TIMESTAMP '2026-10-20 00:00:00' AND time < TIMESTAMP '2026-10-22 00:00:00' GROUP BY 1 ORDER BY 1`,
      duck: (col) =>
        `SELECT date_trunc('hour', time) AS hour, count(*) AS n, avg(${col('latency_ms', 'DOUBLE')}) AS latency FROM EVENTS WHERE time >= TIMESTAMPTZ '2026-10-20 00:00:00+00' AND time < TIMESTAMPTZ '2026-10-22 00:00:00+00' GROUP BY 1 ORDER BY 1`,
    },
    {
      id: 'top-streams',
      name: 'top 10 streams (GROUP BY stream)',
      sql: `SELECT stream, count(*) AS n FROM events GROUP BY stream ORDER BY n DESC, stream LIMIT 10`,
      duck: () => `SELECT stream, count(*) AS n FROM EVENTS GROUP BY stream ORDER BY n DESC, stream LIMIT 10`,
    },
    {
      id: 'distinct-users',
      name: 'count(DISTINCT data.user), approx_count_distinct',
      sql: `SELECT count(DISTINCT data.user) AS exact, approx_count_distinct(data.user) AS approx FROM events`,
      duck: (col) =>
        `SELECT count(DISTINCT ${col('user', 'VARCHAR')}) AS exact, approx_count_distinct(${col('user', 'VARCHAR')}) AS approx FROM EVENTS`,
      approx: { approx: ['distinct', 'exact'] },
    },
    {
      id: 'quantiles',
      name: 'approx_quantile(latency, 0.5 / 0.99) by type',
      sql: `SELECT type, approx_quantile(data.latency_ms, 0.5) AS p50, approx_quantile(data.latency_ms, 0.99) AS p99 FROM events GROUP BY type ORDER BY type`,
      duck: (col) =>
        `SELECT type, approx_quantile(${col('latency_ms', 'DOUBLE')}, 0.5) AS p50, approx_quantile(${col('latency_ms', 'DOUBLE')}, 0.99) AS p99 FROM EVENTS GROUP BY type ORDER BY type`,
      approx: { p50: ['quantile', 0.5, 'latency_ms'], p99: ['quantile', 0.99, 'latency_ms'] },
    },
    {
      id: 'amount-de',
      name: "avg/sum/min/max(amount) WHERE country = 'DE' AND type IN (…)",
      sql: `SELECT avg(data.amount) AS avg, sum(data.amount) AS sum, min(data.amount) AS min, max(data.amount) AS max, count(*) AS n FROM events WHERE data.country = 'DE' AND type IN ('payment.succeeded', 'invoice.paid', 'order.created')`,
      duck: (col) =>
        `SELECT avg(${col('amount', 'DOUBLE')}) AS avg, sum(${col('amount', 'DOUBLE')}) AS sum, min(${col('amount', 'DOUBLE')}) AS min, max(${col('amount', 'DOUBLE')}) AS max, count(*) AS n FROM EVENTS WHERE ${col('country', 'VARCHAR')} = 'DE' AND type IN ('payment.succeeded', 'invoice.paid', 'order.created')`,
    },
    {
      id: 'beta-by-plan',
      name: 'shredded booleans: WHERE flags.beta AND NOT verified, by plan',
      sql: `SELECT data.plan AS plan, count(*) AS n, avg(data.score) AS score FROM events WHERE data.flags.beta = true AND data.verified = false GROUP BY data.plan ORDER BY plan`,
      duck: (col) =>
        `SELECT ${col('plan', 'VARCHAR')} AS plan, count(*) AS n, avg(${col('score', 'DOUBLE')}) AS score FROM EVENTS WHERE ${col('flags.beta', 'BOOLEAN')} = true AND ${col('verified', 'BOOLEAN')} = false GROUP BY 1 ORDER BY 1`,
    },
    {
      id: 'one-stream-2h',
      name: 'one stream, 2-hour window (prunes most segments)',
      sql: `SELECT count(*) AS n, min(version) AS first, max(version) AS last FROM events WHERE stream = '${hot}' AND time >= TIMESTAMP '2026-10-20 10:00:00' AND time < TIMESTAMP '2026-10-20 12:00:00'`,
      duck: () =>
        `SELECT count(*) AS n, min(version) AS first, max(version) AS last FROM EVENTS WHERE stream = '${hot}' AND time >= TIMESTAMPTZ '2026-10-20 10:00:00+00' AND time < TIMESTAMPTZ '2026-10-20 12:00:00+00'`,
    },
    {
      id: 'country-plan',
      name: 'two shredded string keys: count, sum(amount) by country, plan (top 10)',
      sql: `SELECT data.country AS country, data.plan AS plan, count(*) AS n, sum(data.amount) AS amount FROM events GROUP BY data.country, data.plan ORDER BY n DESC, country, plan LIMIT 10`,
      duck: (col) =>
        `SELECT ${col('country', 'VARCHAR')} AS country, ${col('plan', 'VARCHAR')} AS plan, count(*) AS n, sum(${col('amount', 'DOUBLE')}) AS amount FROM EVENTS GROUP BY 1, 2 ORDER BY n DESC, country, plan LIMIT 10`,
    },
  ].filter((q) => cfg.only.length === 0 || cfg.only.includes(q.id));
}

/** The DuckDB column expression of a data path: shredded when every file has the column. */
export function columnChooser(manifest) {
  const everywhere = new Map();
  for (const s of manifest.segments) for (const c of s.stats.shredded ?? []) everywhere.set(c.name, (everywhere.get(c.name) ?? 0) + 1);
  const used = { shredded: new Set(), json: new Set() };
  const col = (path, type) => {
    const name = `data.${path}`;
    if (everywhere.get(name) === manifest.segments.length) {
      used.shredded.add(path);
      return `"${name}"`;
    }
    used.json.add(path);
    return `TRY_CAST(json_extract_string(data, '$.${path}') AS ${type})`;
  };
  return { col, used };
}

// ---- answers --------------------------------------------------------------------------------------

/** A DuckDB value as plain JS: bigint → number, Date → epoch ms. */
function plain(v) {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime();
  return v;
}

/** Our answer's rows with timestamp columns as epoch ms (the engine renders them as ISO-8601). */
function oursPlain(res) {
  const ts = res.columns.map((c) => c.type === 'timestamp');
  return res.rows.map((r) => r.map((v, k) => (ts[k] && typeof v === 'string' ? Date.parse(v) : v)));
}

const close = (a, b) =>
  a === b || (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)));

/**
 * Compares our rows with DuckDB's. Exact columns must be equal; approximate ones are checked by
 * `approx` (quantiles by rank, with `rankOf` asking DuckDB). Answers { ok, notes }.
 */
async function compare(query, columns, ours, duck, rankOf) {
  const notes = [];
  if (ours.length !== duck.length) return { ok: false, notes: [`${ours.length} rows, DuckDB ${duck.length}`] };
  const names = columns.map((c) => c.name);
  for (let i = 0; i < ours.length; i++) {
    for (let k = 0; k < names.length; k++) {
      const rule = query.approx?.[names[k]];
      const a = ours[i][k];
      const b = duck[i][k];
      if (!rule) {
        if (!close(a, b)) notes.push(`row ${i} ${names[k]}: ours ${JSON.stringify(a)}, DuckDB ${JSON.stringify(b)}`);
      } else if (rule[0] === 'distinct') {
        const exact = duck[i][names.indexOf(rule[1])];
        const err = Math.abs(a - exact) / exact;
        notes.push(`approx_count_distinct ${a} vs exact ${exact} (${(err * 100).toFixed(2)} %; DuckDB's approx ${b})`);
        if (!(err <= 0.03)) notes.push('FAIL: approx_count_distinct off by more than 3 %');
      }
    }
  }
  // Quantiles: where does our answer fall in the data? (fraction below, fraction at or below) must bracket q ± 0.025.
  const quantiles = Object.entries(query.approx ?? {}).filter(([, r]) => r[0] === 'quantile');
  if (quantiles.length > 0) {
    let worst = 0;
    for (const [name, [, q, path]] of quantiles) {
      const k = names.indexOf(name);
      const ranks = await rankOf(
        path,
        ours.map((r) => [r[0], r[k]]),
      );
      for (const [group, below, atOrBelow] of ranks) {
        const miss = Math.max(0, below - q, q - atOrBelow);
        worst = Math.max(worst, miss);
        if (miss > 0.025) notes.push(`FAIL: ${name} of ${group}: ranks ${below.toFixed(4)}–${atOrBelow.toFixed(4)}, wanted ${q}`);
      }
    }
    notes.push(`quantiles: worst rank error ${worst.toFixed(4)}`);
  }
  const failed = notes.filter((n) => !n.startsWith('approx_count_distinct') && !n.startsWith('quantiles'));
  return { ok: failed.length === 0, notes };
}

// ---- DuckDB -------------------------------------------------------------------------------------

async function duckdbRun(conn, sql) {
  const t0 = performance.now();
  const reader = await conn.runAndReadAll(sql);
  const ms = performance.now() - t0;
  return { ms, rows: reader.getRowsJS().map((r) => r.map(plain)) };
}

async function newDuck(from) {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run(`SET TimeZone = 'UTC'`);
  return {
    instance,
    conn,
    sqlOf: (text) => text.replaceAll('FROM EVENTS', `FROM ${from} AS events`),
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

// ---- the store (wrangler dev) ---------------------------------------------------------------------

let store = null;

function stopStore() {
  if (!store) return;
  const { child } = store;
  store = null;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      resolve();
    }, 5000);
    child.on('exit', () => {
      clearTimeout(t);
      resolve();
    });
    if (child.exitCode !== null) {
      clearTimeout(t);
      resolve();
    }
  });
}
process.on('exit', () => {
  if (store) {
    try {
      process.kill(-store.child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await stopStore();
    process.exit(130);
  });
}

/** Starts `wrangler dev` on the data's state (its own process group) and waits until it answers. */
async function startStore(data, port, { clearCache }) {
  if (clearCache) rmSync(join(data.state, 'v3', 'cache'), { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const log = join(out, `${stamp}-query-store-${data.n}.log`);
  const fd = openSync(log, 'a');
  const args = [wrangler, 'dev', '--ip', HOST, '--port', String(port), '--inspector-ip', HOST, '--inspector-port', String(port + 500)];
  args.push('--persist-to', data.state, '--log-level', 'warn', '--show-interactive-dev-session=false');
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: root,
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
  });
  store = { child, base: `http://${HOST}:${port}`, key: data.key, log };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}; see ${log}`);
    if (Date.now() > deadline) throw new Error(`wrangler dev did not answer within 120 s; see ${log}`);
    try {
      const res = await fetch(`${store.base}/openapi.json`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not yet
    }
    await sleep(200);
  }
  return performance.now() - t0;
}

async function storeGet(path) {
  const res = await fetch(`${store.base}${path}`, {
    headers: { authorization: `Bearer ${store.key}` },
    signal: AbortSignal.timeout(60_000),
  });
  return { status: res.status, body: await res.text() };
}

/** POST /v1/query; answers the wall time, the status and the parsed body. */
async function postQuery(sql) {
  const t0 = performance.now();
  try {
    const res = await fetch(`${store.base}/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${store.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql }),
      signal: AbortSignal.timeout(cfg.timeoutMs),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = { text: text.slice(0, 500) };
    }
    return { ms, status: res.status, body };
  } catch (e) {
    return { ms: performance.now() - t0, status: 0, body: { error: String(e?.message ?? e) } };
  }
}

// ---- one size -------------------------------------------------------------------------------------

async function measureSize(n, { port, log }) {
  const data = await ensureQueryData(n, { log });
  const engine = await loadEngine();
  const queries = referenceSet();
  const from = `read_parquet('${data.filesDir}/**/*.parquet', union_by_name = true, hive_partitioning = false)`;
  const { col, used } = columnChooser(data.manifest);
  const results = queries.map((q) => ({ id: q.id, name: q.name, sql: q.sql, duckSql: q.duck(col) }));
  const segments = data.manifest.segments;
  const fileOf = (key) => join(data.filesDir, key);
  const runs = cfg.runs;
  const repeats = (firstMs) => (firstMs > cfg.slowMs ? 1 : runs);

  // DuckDB: a new instance per query for the cold run, then the repeats in it.
  let ref = null;
  if (cfg.sides.includes('duckdb')) {
    for (const r of results) {
      const duck = await newDuck(from);
      try {
        const cold = await duckdbRun(duck.conn, duck.sqlOf(r.duckSql));
        const warm = [];
        for (let i = 0; i < runs; i++) warm.push((await duckdbRun(duck.conn, duck.sqlOf(r.duckSql))).ms);
        r.duck = { coldMs: cold.ms, warmMs: median(warm), rows: cold.rows };
      } finally {
        duck.close();
      }
      log(`  ${n} ${r.id}: DuckDB cold ${fmt(r.duck.coldMs)} ms, warm ${fmt(r.duck.warmMs)} ms`);
    }
    ref = await newDuck(from); // for the quantile rank checks
  }
  const rankOf = async (path, pairs) => {
    const values = pairs.map(([g, v]) => `('${String(g).replace(/'/g, "''")}', ${Number(v)})`).join(', ');
    const x = col(path, 'DOUBLE');
    const sql = `WITH ours(g, v) AS (VALUES ${values}) SELECT o.g, avg(CASE WHEN ${x} < o.v THEN 1 ELSE 0 END), avg(CASE WHEN ${x} <= o.v THEN 1 ELSE 0 END) FROM EVENTS JOIN ours o ON events.type = o.g WHERE ${x} IS NOT NULL GROUP BY o.g`;
    return (await duckdbRun(ref.conn, ref.sqlOf(sql))).rows;
  };

  // The engine alone on Node.
  if (cfg.sides.includes('node')) {
    for (const [i, q] of queries.entries()) {
      const r = results[i];
      const first = await engine.runEngine(q.sql, segments, fileOf);
      const warm = [];
      let last = first;
      for (let k = 0; k < repeats(first.stats.elapsedMs); k++) {
        last = await engine.runEngine(q.sql, segments, fileOf);
        warm.push(last.stats.elapsedMs);
      }
      r.node = { coldMs: first.stats.elapsedMs, warmMs: median(warm), stats: last.stats, columns: first.columns, rows: oursPlain(first) };
      if (r.duck) r.node.check = await compare(q, first.columns, r.node.rows, r.duck.rows, rankOf);
      log(
        `  ${n} ${r.id}: Node engine cold ${fmt(r.node.coldMs)} ms, warm ${fmt(r.node.warmMs)} ms${r.node.check ? `, answer ${r.node.check.ok ? 'agrees' : 'DIFFERS: ' + r.node.check.notes.join('; ')}` : ''}`,
      );
    }
  }

  // Ours through the Worker.
  const worker = { available: false, note: null, startMs: [] };
  if (cfg.sides.includes('worker')) {
    try {
      worker.startMs.push(await startStore(data, port, { clearCache: true }));
      const listed = await storeGet('/v1/segments?kind=replica');
      const count = listed.status === 200 ? JSON.parse(listed.body).segments.length : null;
      worker.segmentsListed = count;
      if (count !== segments.length)
        throw new Error(`GET /v1/segments?kind=replica answered ${listed.status} with ${count} segments, expected ${segments.length}`);
      const probe = await postQuery('SELECT count(*) AS n FROM events');
      if (probe.status === 404 || probe.status === 405) {
        worker.note = `POST /v1/query answered ${probe.status}: the endpoint is not there yet`;
      } else if (probe.status !== 200) {
        worker.note = `POST /v1/query answered ${probe.status}: ${JSON.stringify(probe.body).slice(0, 300)}`;
      } else {
        worker.available = true;
        worker.count = probe.body.rows?.[0]?.[0];
        if (worker.count !== n) worker.note = `count(*) answered ${worker.count}, expected ${n}`;
      }
      log(`  ${n}: store up, ${count} replica segments listed; ${worker.note ?? `count(*) = ${worker.count}`}`);
      if (worker.available) {
        for (const [i, q] of queries.entries()) {
          const r = results[i];
          if (cfg.cold === 'restart') {
            await stopStore();
            worker.startMs.push(await startStore(data, port, { clearCache: true }));
          }
          const first = await postQuery(q.sql);
          const warm = [];
          let last = first;
          const want = repeats(first.ms);
          for (let k = 0; k < want && first.status === 200; k++) {
            last = await postQuery(q.sql);
            if (last.status !== 200) break;
            warm.push(last.ms);
          }
          r.worker = {
            coldMs: first.status === 200 ? first.ms : null,
            warmMs: warm.length === want ? median(warm) : null,
            status: first.status === 200 ? last.status : first.status,
            error: first.status !== 200 ? first.body : last.status !== 200 ? last.body : null,
            failedAfterMs: first.status !== 200 ? first.ms : last.status !== 200 ? last.ms : null,
            coldStats: first.body?.stats ?? null,
            stats: last.body?.stats ?? null,
          };
          if (first.status === 200 && r.duck)
            r.worker.check = await compare(q, first.body.columns, oursPlain(first.body), r.duck.rows, rankOf);
          log(
            `  ${n} ${r.id}: Worker cold ${fmt(r.worker.coldMs)} ms, warm ${fmt(r.worker.warmMs)} ms, status ${r.worker.status}${r.worker.check ? `, answer ${r.worker.check.ok ? 'agrees' : 'DIFFERS: ' + r.worker.check.notes.join('; ')}` : ''}${r.worker.error ? ` ${JSON.stringify(r.worker.error).slice(0, 300)}` : ''}`,
          );
        }
      }
    } catch (e) {
      worker.note = `store: ${e.message}`;
      log(`  ${n}: ${worker.note}`);
    } finally {
      await stopStore();
    }
  }
  ref?.close();
  return {
    n,
    files: segments.length,
    bytes: data.manifest.bytes,
    generateMs: data.manifest.generateMs,
    loadMs: data.loadMs,
    streams: data.manifest.streams,
    users: data.manifest.users,
    duckForm: { shredded: [...used.shredded], json: [...used.json] },
    worker,
    results,
  };
}

// ---- report ---------------------------------------------------------------------------------------

const ms = (x) => (x === null || x === undefined ? '—' : fmt(x, x < 10 ? 1 : 0));
const ratio = (a, b) => (a === null || a === undefined || !b ? null : a / b);
const mib = (b) => (b === null || b === undefined ? '—' : `${fmt(b / 2 ** 20, 1)} MiB`);

/** The commit, and whether src/ or wrangler.toml differ from it (wrangler dev serves the working copy). */
function codeVersion() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = git('status', '--porcelain', '--', 'src', 'wrangler.toml') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted changes in src/ or wrangler.toml' : ''}`;
  } catch {
    return 'unknown';
  }
}

function machineLine(duckVersion, commit) {
  const c = cpus();
  const version = (pkg) => JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  return `machine: ${c.length} × ${c[0]?.model ?? 'unknown CPU'}, ${fmt(totalmem() / 2 ** 30, 1)} GiB; Node ${process.version}; wrangler ${version('wrangler')}; DuckDB ${duckVersion} (@duckdb/node-api ${version('@duckdb/node-api')}, default threads = ${c.length}); code ${commit}`;
}

function sizeTable(s) {
  const lines = [
    `### ${fmt(s.n)} events: ${s.files} files, ${mib(s.bytes)} (${fmt(s.bytes / s.n, 1)} B/event), ${fmt(s.streams)} streams, ${fmt(s.users)} users; generated in ${fmt(s.generateMs / 1000, 1)} s, loaded into R2 + D1 in ${fmt(s.loadMs / 1000, 1)} s`,
    '',
    `| query | rows scanned | segments scanned/total | ours cold ms | DuckDB cold ms | ratio | ours warm ms | DuckDB warm ms | ratio | bar (cold ≤ ${COLD_BAR}×, warm < DuckDB) | engine on Node cold / warm ms | answers (Worker, Node) |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|',
  ];
  for (const r of s.results) {
    const w = r.worker;
    const st = w?.stats ?? w?.coldStats ?? null;
    const rows = st?.rowsScanned ?? r.node?.stats.rowsScanned;
    const segs = st
      ? `${st.segmentsScanned}/${st.segmentsTotal}`
      : r.node
        ? `${r.node.stats.segmentsScanned}/${r.node.stats.segmentsTotal}`
        : '—';
    const cr = ratio(w?.coldMs, r.duck?.coldMs);
    const wr = ratio(w?.warmMs, r.duck?.warmMs);
    let bar = '—';
    if (w && w.status !== 200) bar = `FAIL (status ${w.status})`;
    else if (cr !== null || wr !== null)
      bar = `cold ${cr !== null && cr <= COLD_BAR ? 'PASS' : 'FAIL'}, warm ${wr !== null && wr < 1 ? 'PASS' : 'FAIL'}`;
    const answer = (x) => (!x ? '—' : x.check ? (x.check.ok ? '✓' : '✗') : x.status && x.status !== 200 ? `HTTP ${x.status}` : '—');
    lines.push(
      `| ${r.name} | ${fmt(rows)} | ${segs} | ${ms(w?.coldMs)} | ${ms(r.duck?.coldMs)} | ${cr === null ? '—' : fmt(cr, 2)} | ${ms(w?.warmMs)} | ${ms(r.duck?.warmMs)} | ${wr === null ? '—' : fmt(wr, 2)} | ${bar} | ${ms(r.node?.coldMs)} / ${ms(r.node?.warmMs)} | ${answer(w)}, ${answer(r.node)} |`,
    );
  }
  lines.push('');
  if (!s.worker.available) lines.push(`Worker columns empty: ${s.worker.note ?? 'not measured (BENCH_QUERY_SIDES)'}.`);
  else if (s.worker.note) lines.push(`Worker note: ${s.worker.note}.`);
  if (s.worker.startMs.length)
    lines.push(`wrangler dev start (to first answer): median ${fmt(median(s.worker.startMs))} ms over ${s.worker.startMs.length} starts.`);
  lines.push(
    `DuckDB form: shredded columns ${s.duckForm.shredded.map((p) => `"data.${p}"`).join(', ') || 'none'}; from the \`data\` JSON (json_extract_string + cast): ${s.duckForm.json.map((p) => `data.${p}`).join(', ') || 'none'}.`,
    '',
    '| query | Worker: sub-requests | cache hits / misses (cold → warm) | bytes read (cold → warm) | server elapsed ms (cold → warm) | Node: bytes read | Node: plan / read / scan / merge ms (warm) | Node: tasks |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of s.results) {
    const c = r.worker?.coldStats;
    const w = r.worker?.stats;
    const cache = (x) => (x?.cache ? `${x.cache.hits ?? '—'} / ${x.cache.misses ?? '—'}` : '—');
    const ns = r.node?.stats;
    lines.push(
      `| ${r.name} | ${c?.subrequests ?? '—'} → ${w?.subrequests ?? '—'} | ${cache(c)} → ${cache(w)} | ${mib(c?.bytesRead)} → ${mib(w?.bytesRead)} | ${ms(c?.elapsedMs)} → ${ms(w?.elapsedMs)} | ${mib(ns?.bytesRead)} | ${ns ? `${ms(ns.planMs)} / ${ms(ns.readMs)} / ${ms(ns.scanMs)} / ${ms(ns.mergeMs)}` : '—'} | ${ns?.tasks ?? '—'} |`,
    );
  }
  const notes = s.results.flatMap((r) =>
    [
      ['Worker', r.worker?.check],
      ['Node', r.node?.check],
    ]
      .filter(([, c]) => c && c.notes.length)
      .map(([who, c]) => `- ${r.id} (${who}): ${c.notes.slice(0, 4).join('; ')}`),
  );
  const errors = s.results
    .filter((r) => r.worker?.error)
    .map(
      (r) => `- ${r.id}: HTTP ${r.worker.status} after ${ms(r.worker.failedAfterMs)} ms: ${JSON.stringify(r.worker.error).slice(0, 400)}`,
    );
  if (notes.length) lines.push('', 'Answer checks:', ...notes);
  if (errors.length) lines.push('', 'Worker errors:', ...errors);
  return lines.join('\n');
}

function queriesList(results) {
  return [
    'Queries (ours, then DuckDB over `read_parquet(…)`):',
    ...results.map((r) => `- ${r.id}: \`${r.sql}\`\n  DuckDB: \`${r.duckSql}\``),
  ].join('\n');
}

// ---- entry points ---------------------------------------------------------------------------------

/** One bench at a time (bench/run.mjs's lock): two would share the 2 cores. */
function lock() {
  const file = join(out, 'bench.lock');
  mkdirSync(out, { recursive: true });
  let holder = null;
  try {
    holder = Number(readFileSync(file, 'utf8'));
  } catch {
    // none
  }
  if (holder && holder !== process.pid) {
    let alive = false;
    try {
      process.kill(holder, 0);
      alive = true;
    } catch {
      // stale
    }
    if (alive) throw new Error(`another bench (pid ${holder}) is running; wait for it, two at once would measure each other`);
  }
  if (holder === process.pid) return; // bench/run.mjs holds it in this process
  writeFileSync(file, String(process.pid));
  process.on('exit', () => {
    try {
      if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
    } catch {
      // gone
    }
  });
}

/**
 * The query scenario: for each size, the reference set through DuckDB, the engine on Node and the
 * store. Answers the markdown `table` and the raw `results` (per size).
 */
export async function runQueryScenario({ sizes = cfg.sizes, port = cfg.port, log = console.log } = {}) {
  lock();
  const commit = codeVersion();
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const duckVersion = plain((await conn.runAndReadAll('SELECT version()')).getRowsJS()[0][0]);
  conn.closeSync();
  inst.closeSync();
  const results = [];
  for (const n of sizes) results.push(await measureSize(n, { port, log }));
  const parts = [
    `## Queries (DESIGN.md §6: each within ${COLD_BAR}× of DuckDB cold; a repeated query faster than DuckDB)`,
    '',
    machineLine(duckVersion, commit),
    `cold: ours = first run after the store started (${cfg.cold === 'restart' ? 'restarted before each query, Cache API state removed' : 'one start, each query’s first run'}), DuckDB = a new instance’s first run, Node = the query’s first run in the process; warm = median of ${cfg.runs} repeats (1 when the first run took over ${fmt(cfg.slowMs / 1000)} s). Ours is the wall time of POST /v1/query seen by the client on the same machine.`,
    '',
    ...results.map(sizeTable).flatMap((t) => [t, '']),
    queriesList(results[0]?.results ?? []),
  ];
  return { table: parts.join('\n'), results };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const { table, results } = await runQueryScenario({ log: (m) => console.error(m) });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `${stamp}-query.json`), JSON.stringify(results, null, 1));
  writeFileSync(join(out, `${stamp}-query.md`), table + '\n');
  console.log(table);
  console.error(`\n(${fmt((performance.now() - t0) / 1000)} s; bench/.out/${stamp}-query.md and .json)`);
  process.exit(0);
}
