// `npm run export -- --out DIR [--url http://localhost:8787] [--key esk_…] [--kind replica] [--concurrency 4]`
//
// Copies the live replica of a running store (what `GET /v1/segments?kind=replica` lists) into DIR as
// a Hive-style tree, DIR/tenant=<t>/date=<YYYY-MM-DD>/<file>.parquet, that DuckDB, Spark or pandas
// read as it is. DIR mirrors the catalog: a re-run downloads only what is missing (so an interrupted
// export resumes) and deletes the files of segments no longer live (so a compaction never makes a
// second export count events twice). The work itself is exportReplica() in scripts/lib.mjs.
// It reads with an API key (scope "read"): --key, else $EVENT_STORE_KEY, else the development key
// that `npm start` keeps in .wrangler/dev-key.
//
// `npm run export -- --self-test` proves it end to end: wrangler dev on a fresh state directory and a
// free port (migrations and the development key first, as `npm start`), a few thousand events over several days, wait until all are green, export, count with
// DuckDB through the exact command printed for users, then interrupt-and-resume and a planted stale
// file to show that a re-run repairs the directory.

/* global AbortSignal -- Node's global; eslint.config.js lists only a few for scripts/ */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  benchRunning,
  duckdbCommand,
  exportReplica,
  fmtBytes,
  fmtInt,
  getJson,
  LocalStore,
  openDuckDb,
  readParquetSql,
  remoteStore,
  ROOT,
  stamp,
  storeKey,
  storeUrl,
  UserError,
} from './lib.mjs';

const USAGE = `usage: npm run export -- --out DIR [--url URL] [--key KEY] [--kind replica] [--concurrency N]
       npm run export -- --self-test [--events N] [--days N] [--keep]

  --out DIR          where to write the Hive-style tree (DIR/tenant=…/date=…/….parquet); created if
                     missing; a directory exported before is brought up to date
  --url URL          the running store (default: $EVENT_STORE_URL, else http://localhost:8787)
  --key KEY          an API key of the store with the "read" scope (default: $EVENT_STORE_KEY, else
                     the development key \`npm start\` printed and keeps in .wrangler/dev-key)
  --kind replica     what to export; only the Parquet replica is exportable
  --concurrency N    downloads at once (default 4)
  --self-test        start a private wrangler dev, write events, export them and check with DuckDB
  --events N, --days N   self-test: events to write (default 5000), days their times span (default 5)
  --keep             self-test: keep its state directory and export`;

function parse(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        url: { type: 'string' },
        key: { type: 'string' },
        kind: { type: 'string', default: 'replica' },
        concurrency: { type: 'string', default: '4' },
        'self-test': { type: 'boolean', default: false },
        events: { type: 'string', default: '5000' },
        days: { type: 'string', default: '5' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UserError(`${err.message}\n\n${USAGE}`);
  }
  if (parsed.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name, min) => {
    const n = Number(parsed[name]);
    if (!Number.isInteger(n) || n < min) throw new UserError(`--${name} must be an integer ≥ ${min}, not "${parsed[name]}"\n\n${USAGE}`);
    return n;
  };
  if (parsed.kind !== 'replica') {
    throw new UserError(
      `--kind ${parsed.kind}: only the replica (Parquet) is exportable; the master row segments are listed by GET /v1/segments?kind=master\n\n${USAGE}`,
    );
  }
  if (!parsed['self-test'] && !parsed.out) throw new UserError(`--out DIR is required\n\n${USAGE}`);
  // npm runs scripts from the package root; a relative --out means relative to where the user typed it.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  return {
    out: parsed.out === undefined ? undefined : resolve(cwd, parsed.out),
    url: parsed.url,
    key: parsed.key,
    concurrency: int('concurrency', 1),
    selfTest: parsed['self-test'],
    events: int('events', 1),
    days: int('days', 1),
    keep: parsed.keep,
  };
}

function report(r) {
  console.log(
    `exported ${fmtInt(r.files)} Parquet files (${fmtBytes(r.bytes)}, ${fmtInt(r.rows)} events) over ${r.dates.length} days to ${r.out}`,
  );
  console.log(
    `  this run: ${fmtInt(r.downloaded)} downloaded (${fmtBytes(r.downloadedBytes)}), ${fmtInt(r.skipped)} already present, ` +
      `${fmtInt(r.removed)} removed as no longer live (${fmtBytes(r.removedBytes)})`,
  );
  if (r.notGreen > 0) {
    console.log(
      `  note: ${fmtInt(r.notGreen)} events were not yet green (in the replica) when the export listed it; run it again later to add them`,
    );
  }
  console.log(`\ncount the events with:\n  ${duckdbCommand(r.out)}`);
  console.log(
    `the shredded data.* columns differ from file to file, so queries that use them need union_by_name=true:\n` +
      `  read_parquet('${r.out}/**/*.parquet', hive_partitioning=1, union_by_name=true)`,
  );
}

// ---- self-test -------------------------------------------------------------------------------

const check = (failures, ok, what) => {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

/** Posts `total` events in 100-event batches, 4 requests at once, times spread over `days` UTC days; returns the acknowledged ids. */
async function postEvents(store, total, days) {
  const tag = Date.now().toString(36);
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  const acked = new Set();
  const latencies = [];
  let next = 0;
  const writer = async () => {
    while (next < total) {
      const from = next;
      next = Math.min(total, next + 100);
      const events = [];
      for (let i = from; i < next; i++) {
        const day = i % days;
        const time = new Date(today - day * 86_400_000 + ((i * 7919) % 86_400_000)).toISOString();
        // Per-day data shapes, so the shredded columns differ between files as they do in real use.
        const data = day % 2 === 0 ? { n: i, kind: i % 3 ? 'like' : 'post' } : { n: i, user: { id: `u${i % 50}` }, ok: i % 2 === 0 };
        events.push({ stream: `export-test-${i % 97}`, type: 'post.liked', id: `exp-${tag}-${i}`, time, data });
      }
      const t0 = performance.now();
      const res = await fetch(`${store.url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${store.key}` },
        body: JSON.stringify(events),
        signal: AbortSignal.timeout(30_000),
      });
      const body = await res.json();
      latencies.push(performance.now() - t0);
      if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
      for (const e of body.events) acked.add(e.id);
    }
  };
  await Promise.all(Array.from({ length: 4 }, writer));
  latencies.sort((a, b) => a - b);
  const ms = (q) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
  return { acked, latency: `p50 ${ms(0.5)} ms, p99 ${ms(0.99)} ms, max ${ms(1)} ms over ${latencies.length} requests` };
}

async function waitGreen(store, expected, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await getJson(store, '/v1/status');
    const t = s.totals;
    console.log(
      `  status: grey ${t.grey}, blue ${t.blue}, green ${t.green}, red ${t.red}; lag grey ${s.lag.greyMs ?? '—'} ms, blue ${s.lag.blueMs ?? '—'} ms`,
    );
    if (t.grey === 0 && t.blue === 0 && t.green + t.red >= expected) return s;
    if (Date.now() > deadline) throw new Error(`not all green after ${timeoutMs / 1000} s: ${JSON.stringify(t)}`);
    await sleep(1000);
  }
}

async function selfTest(opts) {
  const dir = join(ROOT, '.wrangler', 'export-self-test', stamp());
  const out = opts.out ?? join(dir, 'export');
  await mkdir(dir, { recursive: true });
  const store = await LocalStore.create({ state: join(dir, 'state'), log: join(dir, 'wrangler.log') });
  const failures = [];
  try {
    console.log(`self-test: wrangler dev on ${store.url}, state and log in ${dir}`);
    const bench = benchRunning();
    if (bench) console.log(`!! npm run bench (pid ${bench}) is running: this run shares the 2 cores with it and skews its figures`);
    await store.migrate();
    await store.devKey(); // as `npm start`: the tenant "default" and a key with every scope
    await store.start();

    const t0 = performance.now();
    const { acked, latency } = await postEvents(store, opts.events, opts.days);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      `posted ${fmtInt(opts.events)} events over ${opts.days} days: ${fmtInt(acked.size)} acknowledged in ${secs} s (${latency})`,
    );
    await waitGreen(store, acked.size);

    const first = await exportReplica({ store, out, concurrency: opts.concurrency, progress: true });
    report(first);

    console.log('\nchecks:');
    const db = await openDuckDb();
    // Exactly the command printed for users, then the ids with the same call.
    const [{ 'count_star()': n }] = await db.all(`select count(*) from ${readParquetSql(out)}`);
    check(failures, Number(n) === acked.size, `DuckDB count(*) ${fmtInt(n)} = acknowledged ${fmtInt(acked.size)}`);
    const ids = await db.all(`select id, count(*) as n from ${readParquetSql(out)} group by id`);
    const doubled = ids.filter((r) => Number(r.n) !== 1).length;
    const stored = new Set(ids.map((r) => r.id));
    const lost = [...acked].filter((id) => !stored.has(id)).length;
    const foreign = [...stored].filter((id) => !acked.has(id)).length;
    check(
      failures,
      stored.size === acked.size && lost === 0 && foreign === 0 && doubled === 0,
      `distinct ids ${fmtInt(stored.size)}: ${lost} missing, ${foreign} unknown, ${doubled} stored twice`,
    );
    const days = await db.all(`select count(distinct date) as d, count(distinct tenant) as t from ${readParquetSql(out)}`);
    check(failures, Number(days[0].d) === Math.min(opts.days, opts.events), `hive partitions: ${days[0].d} dates, ${days[0].t} tenant`);
    const shredded = await db.all(`select sum("data.n") as s from ${readParquetSql(out, { unionByName: true })}`);
    const expectSum = (opts.events * (opts.events - 1)) / 2;
    check(
      failures,
      Number(shredded[0].s) === expectSum,
      `shredded column data.n with union_by_name=true: sum ${shredded[0].s} = ${expectSum}`,
    );

    // An interrupted export leaves a .partial file and maybe a short one (were the rename not atomic);
    // an earlier export may hold a segment that compaction retired. A re-run must repair all three.
    const partition = join(out, 'tenant=default', `date=${first.dates[0]}`);
    const [victim] = (await readdir(partition)).filter((f) => f.endsWith('.parquet'));
    await mkdir(join(out, 'tenant=default', 'date=1999-01-01'), { recursive: true });
    await copyFile(join(partition, victim), join(out, 'tenant=default', 'date=1999-01-01', 'stale.parquet')); // would double count
    await truncate(join(partition, victim), 100);
    await writeFile(join(partition, `${victim}.partial`), 'half a file');
    console.log(`\nre-run after truncating ${victim}, leaving a .partial and planting a stale date=1999-01-01/stale.parquet:`);
    const second = await exportReplica({ store, out, concurrency: opts.concurrency, progress: false });
    report(second);
    console.log('\nchecks:');
    // Compaction may have replaced segments between the two runs: the re-run must follow the catalog.
    const before = new Set(first.keys);
    const after = new Set(second.keys);
    const added = second.keys.filter((k) => !before.has(k)).length;
    const retired = first.keys.filter((k) => !after.has(k)).length;
    const victimLive = second.keys.some((k) => k.endsWith(`/date=${first.dates[0]}/${victim}`)) ? 1 : 0;
    if (added + retired > 0)
      console.log(`  (the catalog changed between the runs: ${added} segments added, ${retired} retired, by compaction)`);
    check(
      failures,
      second.downloaded === added + victimLive && second.removed === retired + 1 && second.skipped === second.files - added - victimLive,
      `re-run downloaded ${second.downloaded} (${added} new + ${victimLive} truncated), removed ${second.removed} (${retired} retired + 1 stale), kept ${second.skipped}`,
    );
    const [{ 'count_star()': n2 }] = await db.all(`select count(*) from ${readParquetSql(out)}`);
    check(failures, Number(n2) === acked.size, `DuckDB count(*) after the re-run ${fmtInt(n2)} = acknowledged ${fmtInt(acked.size)}`);
    const third = await exportReplica({ store, out, concurrency: opts.concurrency, progress: false });
    check(
      failures,
      third.downloaded === 0 && third.removed === 0,
      `a third run has nothing to do (${third.downloaded} downloaded, ${third.removed} removed)`,
    );
    db.close();

    // A key the store does not know: refused with a message that says what to do, before anything is written.
    const stranger = join(dir, 'refused');
    const refusal = await exportReplica({
      store: remoteStore(store.url, { key: `esk_${randomBytes(32).toString('base64url')}`, from: 'the self-test' }),
      out: stranger,
    }).then(
      () => null,
      (err) => err,
    );
    const written = await stat(stranger).then(
      () => true,
      () => false,
    );
    check(
      failures,
      refusal instanceof UserError && /refused the API key.*401/.test(refusal.message) && !written,
      `an unknown key is refused with a clear message and nothing written: ${refusal ? JSON.stringify(refusal.message.split('\n')[0]) : 'not refused'}`,
    );

    store.printTrouble();
  } finally {
    await store.stop();
  }
  // The log stays (it is small and says what the store did); the state and the export go unless asked for.
  if (failures.length === 0 && !opts.keep) {
    await rm(join(dir, 'state'), { recursive: true, force: true });
    if (!opts.out) await rm(out, { recursive: true, force: true });
    console.log(`\nwrangler log kept in ${store.log}`);
  } else console.log(`\nstate, log and export kept in ${dir}`);
  console.log(failures.length === 0 ? '\nself-test PASSED' : `\nself-test FAILED: ${failures.join('; ')}`);
  return failures.length === 0;
}

// ---- main ------------------------------------------------------------------------------------

try {
  const opts = parse(process.argv.slice(2));
  if (opts.selfTest) {
    process.exitCode = (await selfTest(opts)) ? 0 : 1;
  } else {
    const store = remoteStore(storeUrl(opts.url), storeKey(opts.key));
    const result = await exportReplica({ store, out: opts.out, concurrency: opts.concurrency, progress: true });
    report(result);
  }
} catch (err) {
  if (err instanceof UserError) console.error(`export: ${err.message}`);
  else console.error(err);
  process.exitCode = process.exitCode || 2;
}
