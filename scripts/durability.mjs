// `npm run durability -- [--seconds 8] [--writers 4] [--kills 2] [--tail 4] [--drain-timeout 120] [--days 1]
//                        [--drain-kill] [--keep] [--var NAME:VALUE]`   (`--help` lists them)
//
// The crash test of the loss bar (DESIGN.md section 6): "ingest with wrangler dev, kill it mid-stream,
// restart it on the same local state, let it drain: acknowledged count = distinct ids in the replica =
// distinct ids in the master, nothing doubled."
//
//   1. wrangler dev on a fresh state directory and a free port, after the D1 migrations and
//      scripts/dev-key.mjs (the tenant "default" and a key with every scope, as `npm start`); every
//      request carries that key;
//   2. --writers concurrent writers post 100-event batches of unique ids to POST /v1/events. Every id
//      of a 202 answer is "acknowledged"; every id of a request that failed or got no answer after it
//      was sent is "maybe" (it may or may not be stored, but never twice). A refused connection sent
//      nothing, so that batch is simply tried again;
//   3. after --seconds, SIGKILL to wrangler, workerd and everything they started, mid-stream, then a
//      restart on the same state; repeated --kills times. After each restart every other failed batch
//      is sent again with the same ids, and a few acknowledged ones too (both exercise the dedupe);
//   4. writers go on for --tail seconds, stop; with --drain-kill one more kill -9 / restart while the
//      pipeline still has work; then wait until GET /v1/status says grey = 0 and blue = 0;
//   5. read the master (row segments through GET /v1/segments, gunzip, checksum, parse) and the replica
//      (exported like `npm run export`, read with DuckDB) and check: every acknowledged id exactly once
//      in each, no id twice anywhere, nothing stored that was never sent, master = replica, and each
//      shard's master gap-free from seq 1 to its head.
// Exits 1 on any loss, double or inconsistency. Everything goes to .wrangler/durability/<time>/ (the
// wrangler log stays; the state is deleted after a clean run unless --keep).

/* global AbortSignal -- Node's global; eslint.config.js lists only a few for scripts/ */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  benchRunning,
  codeFingerprint,
  errorKind,
  exportReplica,
  fmtInt,
  getJson,
  isRefused,
  LocalStore,
  openDuckDb,
  readMaster,
  readParquetSql,
  ROOT,
  stamp,
  table,
  UserError,
} from './lib.mjs';

const USAGE = `usage: npm run durability -- [options]

  --seconds N        seconds of writing before each kill (default 8)
  --kills N          kill -9 / restart cycles (default 2)
  --writers N        concurrent writers, each one 100-event batch at a time (default 4)
  --tail N           seconds of writing after the last restart (default 4)
  --drain-timeout N  seconds to wait for grey = 0 and blue = 0 at the end (default 120)
  --days N           spread the events' time over N UTC days (default 1: receipt time), so that replica
                     steps split by date and compaction works on several partitions
  --drain-kill       also kill -9 / restart once while the pipeline drains (if grey + blue > 0 then)
  --var NAME:VALUE   passed to wrangler dev (repeatable), e.g. --var PIPELINE_TRIGGER:batch
  --keep             keep the state directory even when the run is clean`;

function parse(argv) {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        seconds: { type: 'string', default: '8' },
        kills: { type: 'string', default: '2' },
        writers: { type: 'string', default: '4' },
        tail: { type: 'string', default: '4' },
        'drain-timeout': { type: 'string', default: '120' },
        var: { type: 'string', multiple: true, default: [] },
        keep: { type: 'boolean', default: false },
        'drain-kill': { type: 'boolean', default: false },
        days: { type: 'string', default: '1' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    throw new UserError(`${err.message}\n\n${USAGE}`);
  }
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (name, min) => {
    const n = Number(v[name]);
    if (!Number.isFinite(n) || n < min) throw new UserError(`--${name} must be a number ≥ ${min}, not "${v[name]}"\n\n${USAGE}`);
    return n;
  };
  const vars = {};
  for (const kv of v.var) {
    const i = kv.indexOf(':');
    if (i <= 0) throw new UserError(`--var ${kv}: expected NAME:VALUE\n\n${USAGE}`);
    vars[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return {
    seconds: num('seconds', 0.5),
    kills: Math.floor(num('kills', 0)),
    writers: Math.floor(num('writers', 1)),
    tail: num('tail', 0),
    drainTimeout: num('drain-timeout', 1),
    vars,
    keep: v.keep,
    drainKill: v['drain-kill'],
    days: Math.floor(num('days', 1)),
  };
}

const BATCH = 100;
const log = (msg) => console.log(`[${(performance.now() / 1000).toFixed(1).padStart(6)} s] ${msg}`);

// ---- the writers -----------------------------------------------------------------------------

/** What the writers learnt: the ids by outcome, and every answer and failure by kind. */
const book = {
  sent: new Set(), // every id put in a request body that may have reached the store
  acked: new Set(), // ids of 202 answers
  maybe: new Set(), // sent, no 202 (yet): may be stored, at most once
  failed: [], // batches whose request failed after it was sent, for re-sending
  ackedSample: [], // a few acknowledged batches, re-sent after a restart: must come back duplicate
  requests: 0,
  statuses: {},
  errors: {}, // failures without an answer, by kind (ECONNRESET, timeout, …)
  refused: 0, // connection refused: nothing sent; the batch is tried again
  samples: [], // a few bodies of unexpected answers
  resent: { batches: 0, acked: 0, duplicates: 0, fresh: 0 }, // failed batches sent again
  reacked: { batches: 0, duplicates: 0, notDuplicate: 0 }, // acknowledged batches sent again
  firstSendDuplicates: 0, // a new id answered duplicate: true would mean an id collision or a stray write
  badAnswers: 0, // 202 whose events do not match the request
};

let writing = true;
let up = false; // the store is believed to be running (writers re-send only then)
let inFlight = 0;
const resendQueue = [];

let days = 1;
const DAY_MS = 86_400_000;

function makeBatch(run, writer, n) {
  const ids = [];
  const events = [];
  const now = Date.now();
  for (let i = 0; i < BATCH; i++) {
    const id = `dur-${run}-w${writer}-b${n}-${i}`;
    ids.push(id);
    const event = { stream: `dur-${writer}-${(n * BATCH + i) % 61}`, type: 'durability.test', id, data: { writer, batch: n, i } };
    if (days > 1) event.time = new Date(now - (i % days) * DAY_MS).toISOString();
    events.push(event);
  }
  return { ids, body: JSON.stringify(events), kind: 'new' };
}

/** One POST; returns 'acked', 'refused' (nothing sent) or 'failed' (sent, outcome unknown). */
async function send(store, batch) {
  for (const id of batch.ids) book.sent.add(id);
  book.requests++;
  inFlight++;
  let res;
  let text;
  try {
    res = await fetch(`${store.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${store.key}` },
      body: batch.body,
      signal: AbortSignal.timeout(30_000),
    });
    text = await res.text();
  } catch (err) {
    if (isRefused(err)) {
      book.refused++;
      return 'refused';
    }
    const kind = errorKind(err);
    book.errors[kind] = (book.errors[kind] ?? 0) + 1;
    for (const id of batch.ids) if (!book.acked.has(id)) book.maybe.add(id);
    return 'failed';
  } finally {
    inFlight--;
  }
  book.statuses[res.status] = (book.statuses[res.status] ?? 0) + 1;
  if (res.status !== 202) {
    if (book.samples.length < 5) book.samples.push(`${res.status} ${text.slice(0, 300)}`);
    for (const id of batch.ids) if (!book.acked.has(id)) book.maybe.add(id);
    return 'failed';
  }
  let events;
  try {
    events = JSON.parse(text).events;
  } catch {
    events = null;
  }
  if (!Array.isArray(events) || events.length !== batch.ids.length || events.some((e, i) => e.id !== batch.ids[i])) {
    book.badAnswers++;
    if (book.samples.length < 5) book.samples.push(`202 that does not match its request: ${text.slice(0, 300)}`);
    for (const id of batch.ids) if (!book.acked.has(id)) book.maybe.add(id);
    return 'failed';
  }
  let dups = 0;
  for (const e of events) {
    book.acked.add(e.id);
    book.maybe.delete(e.id);
    if (e.duplicate) dups++;
  }
  if (batch.kind === 'new') book.firstSendDuplicates += dups;
  else if (batch.kind === 'resend') {
    book.resent.acked++;
    book.resent.duplicates += dups;
    book.resent.fresh += events.length - dups;
  } else if (batch.kind === 'reack') {
    book.reacked.duplicates += dups;
    book.reacked.notDuplicate += events.length - dups;
  }
  return 'acked';
}

async function writer(store, run, w) {
  let n = 0;
  let pending = null; // refused: nothing was sent, send the same batch when the store is back
  while (writing) {
    let batch = pending;
    if (!batch && up && resendQueue.length > 0) batch = resendQueue.shift();
    if (!batch) batch = makeBatch(run, w, n++);
    const outcome = await send(store, batch);
    if (outcome === 'acked') {
      pending = null;
      if (batch.kind === 'new' && book.ackedSample.length < 64 && n % 7 === 0) book.ackedSample.push({ ...batch, kind: 'reack' });
    } else if (outcome === 'refused') {
      pending = batch;
      await sleep(100);
    } else {
      pending = null;
      if (batch.kind === 'new') book.failed.push({ ...batch, kind: 'resend' });
      await sleep(50);
    }
  }
  // A batch refused until the end was never sent; it stays out of the books (none of its ids can be stored).
  if (pending && pending.kind === 'new') for (const id of pending.ids) book.sent.delete(id);
}

// ---- drain -----------------------------------------------------------------------------------

async function drain(store, timeoutS) {
  const t0 = performance.now();
  const deadline = Date.now() + timeoutS * 1000;
  let last = null;
  for (;;) {
    try {
      last = await getJson(store, '/v1/status', { timeoutMs: 20_000 });
      const t = last.totals;
      log(
        `drain: grey ${fmtInt(t.grey)}, blue ${fmtInt(t.blue)}, green ${fmtInt(t.green)}, red ${fmtInt(t.red)}; ` +
          `lag grey ${last.lag.greyMs ?? '—'} ms, blue ${last.lag.blueMs ?? '—'} ms; dead letters ${last.deadLetters?.count ?? '?'}`,
      );
      if (t.grey === 0 && t.blue === 0) return { status: last, seconds: (performance.now() - t0) / 1000 };
    } catch (err) {
      log(`drain: GET /v1/status failed: ${err.message}`);
    }
    if (Date.now() > deadline) {
      const lines = [`the store did not drain within ${timeoutS} s (grey and blue must reach 0).`];
      for (const s of last?.shards ?? []) {
        if (s.counts.grey + s.counts.blue === 0) continue;
        lines.push(
          `  shard ${s.shard}: head ${s.headSeq}, blue through ${s.marks.blueThrough}, green through ${s.marks.greenThrough}; ` +
            `grey ${s.counts.grey} (oldest ${s.lag.greyMs ?? '—'} ms), blue ${s.counts.blue} (oldest ${s.lag.blueMs ?? '—'} ms)`,
        );
      }
      for (const d of last?.deadLetters?.latest ?? []) lines.push(`  dead letter: ${JSON.stringify(d)}`);
      lines.push('  The publish (grey → blue) or replicate (blue → green) step is stuck: see the wrangler log.');
      throw new UserError(lines.join('\n'));
    }
    await sleep(1000);
  }
}

// ---- verification ----------------------------------------------------------------------------

const countIds = (ids) => {
  const m = new Map();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
};
const extra = (counts) => [...counts.values()].reduce((n, c) => n + c - 1, 0);

/** Each shard's master segments must tile 1..headSeq: no gap (lost range), no overlap (a range written twice). */
function seqCoverage(segments, shards) {
  const problems = [];
  for (const s of shards) {
    const segs = segments.filter((g) => g.shard === s.shard).sort((a, b) => a.firstSeq - b.firstSeq);
    let next = 1;
    for (const g of segs) {
      if (g.firstSeq > next) problems.push(`shard ${s.shard}: seqs ${next}–${g.firstSeq - 1} are in no master segment`);
      if (g.firstSeq < next) problems.push(`shard ${s.shard}: ${g.key} starts at ${g.firstSeq}, overlapping seqs up to ${next - 1}`);
      next = Math.max(next, g.lastSeq + 1);
    }
    if (next - 1 !== s.headSeq) problems.push(`shard ${s.shard}: master ends at seq ${next - 1}, the shard's head is ${s.headSeq}`);
  }
  return problems;
}

async function verify(store, dir, status) {
  log('reading the master: every live row segment, gunzipped and checksummed');
  const master = await readMaster(store);
  log(`master: ${fmtInt(master.segments.length)} segments, ${fmtInt(master.rows.length)} rows`);
  log('reading the replica: export, then DuckDB');
  const out = join(dir, 'replica');
  const exported = await exportReplica({ store, out, concurrency: 4, progress: false });
  const db = await openDuckDb();
  const replicaRows = await db.all(`select id, shard, seq from ${readParquetSql(out)}`);
  const [{ n: duckCount }] = await db.all(`select count(*) as n from ${readParquetSql(out)}`);
  db.close();
  log(`replica: ${fmtInt(exported.files)} Parquet files, ${fmtInt(replicaRows.length)} rows (DuckDB count(*) ${fmtInt(duckCount)})`);

  const inMaster = countIds(master.rows.map((r) => r.id));
  const inReplica = countIds(replicaRows.map((r) => r.id));
  const where = new Map(master.rows.map((r) => [r.id, `${r.shard}/${r.seq}`]));
  const stored = new Set([...inMaster.keys(), ...inReplica.keys()]);
  const lostMaster = [...book.acked].filter((id) => !inMaster.has(id));
  const lostReplica = [...book.acked].filter((id) => !inReplica.has(id));
  const lost = [...book.acked].filter((id) => !inMaster.has(id) || !inReplica.has(id));
  const neverSent = [...stored].filter((id) => !book.sent.has(id));
  const onlyMaster = [...inMaster.keys()].filter((id) => !inReplica.has(id));
  const onlyReplica = [...inReplica.keys()].filter((id) => !inMaster.has(id));
  const moved = replicaRows.filter((r) => where.has(r.id) && where.get(r.id) !== `${r.shard}/${Number(r.seq)}`);
  const maybeStored = [...book.maybe].filter((id) => stored.has(id)).length;
  const doubledIds = [...stored].filter((id) => (inMaster.get(id) ?? 0) > 1 || (inReplica.get(id) ?? 0) > 1);
  const coverage = seqCoverage(master.segments, status.shards);
  const totals = status.totals;

  console.log('');
  console.log(
    table([
      ['events', 'count'],
      ['acknowledged (ids of 202 answers)', fmtInt(book.acked.size)],
      ['maybe-stored (sent, no 202 answer)', fmtInt(book.maybe.size)],
      ['  of which stored', fmtInt(maybeStored)],
      ['stored in master (rows)', fmtInt(master.rows.length)],
      ['  distinct ids', fmtInt(inMaster.size)],
      ['stored in replica (rows)', fmtInt(replicaRows.length)],
      ['  distinct ids', fmtInt(inReplica.size)],
      ['status green + red', fmtInt(totals.green + totals.red)],
      ['duplicates (extra rows, master + replica)', fmtInt(extra(inMaster) + extra(inReplica))],
      ['lost (acknowledged, missing in master or replica)', fmtInt(lost.length)],
      ['stored but never sent', fmtInt(neverSent.length)],
      ['in master only / in replica only', `${fmtInt(onlyMaster.length)} / ${fmtInt(onlyReplica.length)}`],
      ['replica rows at another shard/seq than master', fmtInt(moved.length)],
    ]),
  );

  const failures = [];
  const fail = (ok, what, examples = []) => {
    if (!ok) failures.push(examples.length ? `${what} (e.g. ${examples.slice(0, 5).join(', ')})` : what);
  };
  fail(lostMaster.length === 0, `${lostMaster.length} acknowledged ids are not in the master`, lostMaster);
  fail(lostReplica.length === 0, `${lostReplica.length} acknowledged ids are not in the replica`, lostReplica);
  fail(doubledIds.length === 0, `${doubledIds.length} ids are stored more than once`, doubledIds);
  fail(neverSent.length === 0, `${neverSent.length} stored ids were never sent`, neverSent);
  fail(onlyMaster.length + onlyReplica.length === 0, `master and replica differ`, [...onlyMaster, ...onlyReplica]);
  fail(
    moved.length === 0,
    `${moved.length} replica rows carry another shard/seq than the master`,
    moved.map((r) => r.id),
  );
  fail(master.rows.length === replicaRows.length, `count(master) ${master.rows.length} ≠ count(replica) ${replicaRows.length}`);
  fail(Number(duckCount) === replicaRows.length, `DuckDB count(*) ${duckCount} ≠ rows read ${replicaRows.length}`);
  fail(
    totals.green + totals.red === master.rows.length,
    `status says ${totals.green + totals.red} green/red, master holds ${master.rows.length}`,
  );
  for (const p of master.problems) fail(false, `master: ${p}`);
  for (const p of coverage) fail(false, `master: ${p}`);
  fail(book.firstSendDuplicates === 0, `${book.firstSendDuplicates} never-sent ids were answered duplicate: true`);
  fail(book.reacked.notDuplicate === 0, `${book.reacked.notDuplicate} re-sent acknowledged ids were not answered duplicate: true`);
  fail(book.badAnswers === 0, `${book.badAnswers} 202 answers did not match their request`);
  // The development key has every scope and a rate limit no writer reaches: a refusal is a bug.
  const refused = [401, 403, 429].filter((code) => book.statuses[code] > 0).map((code) => `${book.statuses[code]}× ${code}`);
  fail(refused.length === 0, `the store refused the development key: ${refused.join(', ')}`);
  return failures;
}

/** "5 processes: node ×2, workerd ×2, esbuild" */
function describe(procs) {
  const names = new Map();
  for (const p of procs) names.set(p.name, (names.get(p.name) ?? 0) + 1);
  return `${procs.length} processes (${[...names].map(([n, c]) => (c > 1 ? `${n} ×${c}` : n)).join(', ')})`;
}

// ---- main ------------------------------------------------------------------------------------

async function main(opts) {
  days = opts.days;
  const run = Date.now().toString(36);
  const dir = join(ROOT, '.wrangler', 'durability', stamp());
  await mkdir(dir, { recursive: true });
  const store = await LocalStore.create({ state: join(dir, 'state'), log: join(dir, 'wrangler.log'), vars: opts.vars });
  const url = store.url;
  const fingerprint = codeFingerprint();
  let ok = false;
  try {
    log(
      `durability: ${opts.writers} writers, ${opts.kills} kill -9 cycles after ${opts.seconds} s each, ${opts.tail} s tail; ${url}; files in ${dir}`,
    );
    const bench = benchRunning();
    if (bench) console.log(`!! npm run bench (pid ${bench}) is running: this run shares the 2 cores with it and skews its figures`);
    await store.migrate();
    await store.devKey(); // the tenant "default" and a key with every scope, as `npm start`
    const startMs = await store.start();
    up = true;
    log(`wrangler dev up in ${(startMs / 1000).toFixed(1)} s`);

    const writers = Array.from({ length: opts.writers }, (_, w) => writer(store, run, w));
    for (let k = 1; k <= opts.kills; k++) {
      const acked0 = book.acked.size;
      const t0 = performance.now();
      await sleep(opts.seconds * 1000);
      const rate = ((book.acked.size - acked0) / ((performance.now() - t0) / 1000)).toFixed(0);
      const flying = inFlight;
      up = false;
      const pids = await store.kill9();
      log(
        `kill ${k}: SIGKILL to ${describe(pids)} with ${flying} requests in flight; ${fmtInt(book.acked.size)} acknowledged so far (${rate} events/s)`,
      );
      const restartMs = await store.start();
      up = true;
      // Half of the batches that failed around this kill go again with the same ids, plus a few acknowledged ones.
      const failedNow = book.failed.filter((b) => !b.queued);
      const again = failedNow.filter((_, i) => i % 2 === 0);
      for (const b of failedNow) b.queued = true;
      const reack = book.ackedSample.splice(0, 4);
      resendQueue.push(...again, ...reack);
      book.resent.batches += again.length;
      book.reacked.batches += reack.length;
      log(
        `restart ${k}: up again in ${(restartMs / 1000).toFixed(1)} s; ${failedNow.length} batches failed since the last restart, ` +
          `${again.length} of them and ${reack.length} acknowledged ones queued to be sent again`,
      );
    }
    await sleep(opts.tail * 1000);
    writing = false;
    await Promise.all(writers);
    log(
      `writers stopped: ${fmtInt(book.acked.size)} acknowledged, ${fmtInt(book.maybe.size)} maybe; ${resendQueue.length} re-sends left unsent`,
    );

    console.log('');
    console.log(
      table([
        ['requests', 'count'],
        ['sent', fmtInt(book.requests)],
        ...Object.entries(book.statuses).map(([s, n]) => [`  answered ${s}`, fmtInt(n)]),
        ...Object.entries(book.errors).map(([e, n]) => [`  no answer: ${e}`, fmtInt(n)]),
        ['  refused (store down, nothing sent, tried again)', fmtInt(book.refused)],
        ['failed batches sent again / answered 202', `${book.resent.batches} / ${book.resent.acked}`],
        ['  their ids answered duplicate (were stored) / new', `${fmtInt(book.resent.duplicates)} / ${fmtInt(book.resent.fresh)}`],
        ['acknowledged batches sent again', fmtInt(book.reacked.batches)],
        ['  ids answered duplicate / not duplicate', `${fmtInt(book.reacked.duplicates)} / ${fmtInt(book.reacked.notDuplicate)}`],
      ]),
    );
    for (const s of book.samples) console.log(`  unexpected answer: ${s}`);
    console.log('');

    if (opts.drainKill) {
      // The pipeline's own crash recovery: publish claims, replicate steps and queue messages cut mid-way.
      const s = await getJson(store, '/v1/status');
      if (s.totals.grey + s.totals.blue > 0) {
        const pids = await store.kill9();
        log(`drain kill: SIGKILL to ${describe(pids)} with grey ${fmtInt(s.totals.grey)}, blue ${fmtInt(s.totals.blue)} in the pipeline`);
        log(`drain restart: up again in ${((await store.start()) / 1000).toFixed(1)} s`);
      } else log('drain kill: skipped, the pipeline had nothing left to do (grey = blue = 0)');
    }
    const drained = await drain(store, opts.drainTimeout);
    log(`drained in ${drained.seconds.toFixed(1)} s`);
    const failures = await verify(store, dir, drained.status);
    store.printTrouble();

    if (codeFingerprint() !== fingerprint) {
      console.log('\n!! src/ or wrangler.toml changed during the run: wrangler dev may have reloaded the store mid-way');
    }

    console.log('');
    if (failures.length === 0) {
      console.log(`PASS: ${opts.kills} kill -9 / restart cycles, nothing lost, nothing doubled`);
      ok = true;
    } else {
      console.log('FAIL:');
      for (const f of failures) console.log(`  - ${f}`);
    }
  } catch (err) {
    if (err instanceof UserError) console.error(`\nFAIL: ${err.message}`);
    else console.error(err);
    store.printTrouble();
  } finally {
    writing = false;
    await store.stop();
  }
  if (ok && !opts.keep) {
    await rm(join(dir, 'state'), { recursive: true, force: true });
    await rm(join(dir, 'replica'), { recursive: true, force: true });
    console.log(`wrangler log kept in ${store.log}`);
  } else console.log(`state, replica export and wrangler log kept in ${dir}`);
  return ok;
}

try {
  process.exitCode = (await main(parse(process.argv.slice(2)))) ? 0 : 1;
} catch (err) {
  if (err instanceof UserError) console.error(`\ndurability: ${err.message}`);
  else console.error(err);
  process.exitCode = 1;
}
