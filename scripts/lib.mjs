// Helpers shared by scripts/export.mjs (`npm run export`) and scripts/durability.mjs (`npm run durability`):
//
// - talking to a running store (status, the segment catalog, a segment's bytes) with an API key,
//   with errors that say what to do when the store is not there or refuses the key;
// - copying the live replica into a Hive-style directory that mirrors the catalog (the export);
// - reading the master row segments back and checking them (checksum, header, seq order);
// - DuckDB over an exported directory;
// - starting `wrangler dev` on a given state directory (migrations and the development key first,
//   as `npm start` does), killing its whole process tree with SIGKILL (the crash the durability run
//   injects) and starting it again on the same state.
//
// Plain Node 24 (npm scripts put it on the PATH); no TypeScript so the scripts run without a build.

/* global AbortSignal -- Node's global; eslint.config.js lists only a few for scripts/ */
import { Buffer } from 'node:buffer';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzip as gunzipCb } from 'node:zlib';

const gunzip = promisify(gunzipCb);

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_URL = 'http://localhost:8787';

// ---- formatting ------------------------------------------------------------------------------

export const fmtInt = (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US'));

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** A text table: the first row is the header; columns after the first are right-aligned (numbers). */
export function table(rows) {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

// ---- talking to a running store --------------------------------------------------------------

/** An error whose message is meant for the user as it is (no stack trace needed). */
export class UserError extends Error {
  name = 'UserError';
}

/** The connection was refused (nothing listens): the store is not running at that address. */
export function isRefused(err) {
  for (let e = err; e; e = e.cause) {
    if (e.code === 'ECONNREFUSED') return true;
    if (Array.isArray(e.errors) && e.errors.some(isRefused)) return true; // happy eyeballs: one per address
  }
  return false;
}

/** A short name for a failed fetch: the code of its innermost cause (ECONNRESET, …) or the error's name. */
export function errorKind(err) {
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return 'timeout';
  let kind = err?.name ?? 'error';
  for (let e = err; e; e = e.cause) if (e.code) kind = e.code;
  return kind;
}

/** The store's origin: --url, else EVENT_STORE_URL, else the default `npm start` address. */
export function storeUrl(flag) {
  const raw = flag ?? process.env.EVENT_STORE_URL ?? DEFAULT_URL;
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new UserError(`"${raw}" is not a URL; pass the store's origin, e.g. --url ${DEFAULT_URL}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserError(`"${raw}" is not an http(s) URL`);
  return url.origin;
}

/** Where `npm start` keeps the development key of the tenant `default` (scripts/dev-key.mjs). */
export const DEV_KEY_FILE = join(ROOT, '.wrangler', 'dev-key');

/**
 * The API key to send: --key, else EVENT_STORE_KEY, else the development key `npm start` wrote to
 * .wrangler/dev-key. Answers { key, from } (`from` says where it came from, for error messages).
 */
export function storeKey(flag) {
  const pick = (key, from) => {
    const k = key.trim();
    if (!/^esk_\S+$/.test(k)) throw new UserError(`the API key from ${from} does not look like one (they start with esk_)`);
    return { key: k, from };
  };
  if (flag !== undefined) return pick(flag, '--key');
  if (process.env.EVENT_STORE_KEY) return pick(process.env.EVENT_STORE_KEY, 'EVENT_STORE_KEY');
  let text = null;
  try {
    text = readFileSync(DEV_KEY_FILE, 'utf8');
  } catch {
    // no dev key: `npm start` never ran in this checkout
  }
  if (text?.trim()) return pick(text, relative(ROOT, DEV_KEY_FILE));
  throw new UserError(
    `no API key: pass --key esk_…, set EVENT_STORE_KEY, or start the store with \`npm start\`, which writes its development key to ` +
      `${relative(ROOT, DEV_KEY_FILE)} (used when neither is given)`,
  );
}

/**
 * A store to talk to: { url, key, keyFrom }. `keyFrom` only shapes error messages. A LocalStore is
 * one too (its url and the key dev-key.mjs made for it).
 */
export const remoteStore = (url, { key, from }) => ({ url, key, keyFrom: from });

/** fetch() against the store with its API key, turning "nothing listens there" into the advice to start it. */
export async function storeFetch(store, path, { timeoutMs = 30_000, ...init } = {}) {
  const base = store.url;
  const headers = { ...init.headers, ...(store.key ? { authorization: `Bearer ${store.key}` } : {}) };
  let res;
  try {
    res = await fetch(new URL(path, base), { ...init, headers, signal: init.signal ?? AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    if (isRefused(err)) {
      throw new UserError(
        `no event store answers at ${base} (connection refused). Start it with \`npm start\` in the repository, ` +
          `or pass --url / set EVENT_STORE_URL to where it runs.`,
      );
    }
    let inner = err;
    while (inner.cause) inner = inner.cause;
    throw new UserError(`${init.method ?? 'GET'} ${base}${path} failed: ${inner.message ?? err.message}`);
  }
  if (res.status === 401 || res.status === 403) {
    const detail = await describeFailure(res);
    const from = store.keyFrom ? ` (from ${store.keyFrom})` : '';
    const advice =
      res.status === 401
        ? `pass a key of this store with --key or EVENT_STORE_KEY; \`npm start\` prints its development key and keeps it in ${relative(ROOT, DEV_KEY_FILE)}`
        : 'use a key with the "read" scope, e.g. the development key `npm start` prints';
    const err = new UserError(`${base} refused the API key${from}: ${res.status} ${detail}\n  ${advice}`);
    err.final = true; // retrying does not change the key
    throw err;
  }
  return res;
}

/** A problem document's detail (RFC 9457), or the start of the body. */
async function describeFailure(res) {
  const text = await res.text().catch(() => '');
  try {
    const p = JSON.parse(text);
    return p.detail ?? p.title ?? text.slice(0, 300);
  } catch {
    return text.slice(0, 300);
  }
}

export async function getJson(store, path, opts) {
  const res = await storeFetch(store, path, opts);
  if (!res.ok) throw new UserError(`GET ${store.url}${path} answered ${res.status}: ${await describeFailure(res)}`);
  try {
    return await res.json();
  } catch {
    throw new UserError(`GET ${store.url}${path} did not answer JSON: is ${store.url} the event store?`);
  }
}

/** The live segments of one kind, as the catalog lists them (`GET /v1/segments?kind=`). */
export async function listSegments(store, kind) {
  const body = await getJson(store, `/v1/segments?kind=${kind}`);
  if (!Array.isArray(body?.segments))
    throw new UserError(`GET ${store.url}/v1/segments did not list segments: is ${store.url} the event store?`);
  // Defensive: the export must never copy a master object into the replica tree or the other way round.
  return body.segments.filter((s) => s.kind === kind);
}

/** The URL path of a segment's bytes; each key segment is encoded (a tenant may contain `%`). */
export const segmentPath = (key) => `/v1/segments/${key.split('/').map(encodeURIComponent).join('/')}`;

/** Retries a download a few times: one reset connection should not fail a whole export. */
async function withRetries(fn, attempts = 3) {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || (err instanceof UserError && err.final)) throw err;
      await sleep(300 * i);
    }
  }
}

/** Runs fn over items with at most `limit` at once; the first failure stops handing out new items. */
export async function pool(items, limit, fn) {
  let next = 0;
  let failed = null;
  const worker = async () => {
    while (failed === null && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failed;
}

// ---- export: the live replica as a Hive-style directory --------------------------------------

/**
 * Written into the export directory. Its presence says the directory is an export (so files the
 * catalog no longer lists may be deleted from it); `complete: false` while an export is under way.
 * The leading underscore keeps Spark and Hive readers from taking it for data.
 */
export const MANIFEST = '_event_store_export.json';
const PARTIAL = '.partial';

/** The path under the export directory for a replica key, or an error for a key that would escape it. */
function exportPath(out, key) {
  if (!key.startsWith('replica/') || !key.endsWith('.parquet'))
    throw new UserError(`the catalog lists "${key}" as replica: not a replica key`);
  const rel = key.slice('replica/'.length);
  const target = resolve(out, ...rel.split('/'));
  if (!target.startsWith(out + sep) || rel.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new UserError(`replica key "${key}" does not map to a file under ${out}`);
  }
  return target;
}

async function walk(dir) {
  const files = [];
  const dirs = [];
  const visit = async (d) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        dirs.push(p);
        await visit(p);
      } else files.push(p);
    }
  };
  await visit(dir);
  return { files, dirs };
}

/**
 * Copies the live replica of `store` ({ url, key }) into `out`:
 *   out/tenant=<t>/date=<d>/<shard>-<firstSeq>-<lastSeq>-L<level>.parquet
 * - a file already there with the catalog's size is kept (keys are immutable: same key, same bytes),
 *   so an interrupted export resumes where it stopped;
 * - each download goes to `<file>.partial` and is renamed once complete and synced, so a file with
 *   the final name is always whole;
 * - Parquet files the catalog no longer lists (replaced by a compaction, or rebuilt) are deleted
 *   first, so the directory never holds a segment and its replacement at once (a double count).
 * `progress`: a cli-progress bar on stderr. Returns what was done.
 */
export async function exportReplica({ store, out, concurrency = 4, progress = false }) {
  out = resolve(out);
  const manifestPath = join(out, MANIFEST);
  const previous = await readFile(manifestPath, 'utf8').then(JSON.parse, () => null);
  const entries = await readdir(out).catch((err) => {
    if (err.code === 'ENOENT') return [];
    throw new UserError(`cannot use ${out} as the export directory: ${err.message}`);
  });
  if (!previous && entries.length > 0) {
    // Deleting what is not in the catalog is only safe in a directory this script made.
    throw new UserError(
      `${out} is not empty and holds no ${MANIFEST}: it was not written by \`npm run export\`. Choose a new or empty directory.`,
    );
  }

  // The status first: it says whether the store is there at all (before anything is created on disk),
  // and events not yet green are not in the replica, which the user should know.
  const status = await getJson(store, '/v1/status');
  await mkdir(out, { recursive: true });
  const segments = await listSegments(store, 'replica');
  const startedAt = new Date().toISOString();
  await writeFile(manifestPath, JSON.stringify({ store: store.url, startedAt, complete: false }, null, 2) + '\n');

  const live = new Map(segments.map((s) => [exportPath(out, s.key), s]));
  if (live.size !== segments.length) throw new UserError('the catalog lists the same replica key twice');

  // 1. Remove what the catalog no longer lists, and downloads an earlier run left unfinished.
  let removed = 0;
  let removedBytes = 0;
  const { files, dirs } = await walk(out);
  for (const f of files) {
    if (f.endsWith(PARTIAL) || (f.endsWith('.parquet') && !live.has(f))) {
      if (!f.endsWith(PARTIAL)) {
        removed++;
        removedBytes += (await stat(f)).size;
      }
      await unlink(f);
    }
  }

  // 2. Decide what to fetch: a file of the catalog's size is already complete.
  const todo = [];
  let skipped = 0;
  let skippedBytes = 0;
  for (const [target, s] of live) {
    const size = await stat(target).then(
      (st) => st.size,
      () => null,
    );
    if (size === s.bytes) {
      skipped++;
      skippedBytes += s.bytes;
    } else todo.push({ target, segment: s });
  }

  const totalBytes = segments.reduce((n, s) => n + s.bytes, 0);
  let doneFiles = skipped;
  let doneBytes = skippedBytes;
  let bar = null;
  if (progress) {
    const { default: cliProgress } = await import('cli-progress');
    bar = new cliProgress.SingleBar(
      {
        format: 'export |{bar}| {percentage}% | {files}/{totalFiles} files | {done} / {totalBytes} | ETA {eta_formatted}',
        hideCursor: true,
        noTTYOutput: !process.stderr.isTTY, // still say something now and then when piped to a log
        notTTYSchedule: 2000,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(totalBytes, 1), doneBytes, {
      files: doneFiles,
      totalFiles: segments.length,
      done: fmtBytes(doneBytes),
      totalBytes: fmtBytes(totalBytes),
    });
  }
  const tick = (bytes, file) => {
    doneBytes += bytes;
    doneFiles += file;
    bar?.update(doneBytes, { files: doneFiles, done: fmtBytes(doneBytes) });
  };

  // 3. Download, a few at a time: R2 reads through workerd are latency-bound, not bandwidth-bound.
  let downloadedBytes = 0;
  try {
    await pool(todo, concurrency, async ({ target, segment }) => {
      await mkdir(dirname(target), { recursive: true });
      const bytes = await withRetries(async () => {
        let attempt = 0; // what this attempt added to the bar, taken back if it fails
        try {
          return await download(store, segment, target + PARTIAL, (n) => {
            attempt += n;
            tick(n, 0);
          });
        } catch (err) {
          tick(-attempt, 0);
          throw err;
        }
      });
      await rename(target + PARTIAL, target);
      downloadedBytes += bytes;
      tick(0, 1);
    });
  } finally {
    bar?.stop();
  }

  // 4. Date and tenant directories that compaction emptied.
  for (const d of dirs.sort((a, b) => b.length - a.length)) {
    await rmdir(d).catch(() => {}); // fails when not empty, which is what we want
  }

  const summary = {
    files: segments.length,
    rows: segments.reduce((n, s) => n + s.rows, 0),
    bytes: totalBytes,
    downloaded: todo.length,
    downloadedBytes,
    skipped,
    removed,
    removedBytes,
    dates: [...new Set(segments.map((s) => s.date))].sort(),
    notGreen: (status?.totals?.grey ?? 0) + (status?.totals?.blue ?? 0),
  };
  await writeFile(
    manifestPath,
    JSON.stringify({ store: store.url, startedAt, finishedAt: new Date().toISOString(), complete: true, ...summary }, null, 2) + '\n',
  );
  return { out, ...summary, keys: segments.map((s) => s.key) };
}

/** One segment into `file`, synced; checks the size against the catalog. Returns the bytes written. */
async function download(store, segment, file, onBytes) {
  const res = await storeFetch(store, segmentPath(segment.key), { timeoutMs: 120_000 });
  if (res.status === 404) {
    const err = new UserError(`${segment.key} is no longer in the store (retired and deleted since it was listed); run the export again`);
    err.final = true;
    throw err;
  }
  if (!res.ok) throw new UserError(`GET ${segmentPath(segment.key)} answered ${res.status}: ${await describeFailure(res)}`);
  const fh = await open(file, 'w');
  let n = 0;
  try {
    for await (const chunk of res.body) {
      await fh.write(chunk);
      n += chunk.byteLength;
      onBytes(chunk.byteLength);
    }
    await fh.sync(); // the rename must not publish a file whose bytes are still only in the page cache
  } finally {
    await fh.close();
  }
  if (n !== segment.bytes) throw new UserError(`${segment.key}: got ${n} bytes, the catalog says ${segment.bytes}`);
  return n;
}

// ---- DuckDB over an export -------------------------------------------------------------------

const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;
export const parquetGlob = (dir) => `${resolve(dir)}/**/*.parquet`;

/** The read_parquet call the export advertises (hive_partitioning adds the tenant and date columns). */
export const readParquetSql = (dir, { unionByName = false } = {}) =>
  `read_parquet(${sqlString(parquetGlob(dir))}, hive_partitioning=1${unionByName ? ', union_by_name=true' : ''})`;

/** The shell command a user can paste; the SQL sits in double quotes, so escape what the shell expands there. */
export const duckdbCommand = (dir) => `duckdb -c "${`select count(*) from ${readParquetSql(dir)}`.replace(/[\\$`"]/g, '\\$&')}"`;

/** An in-memory DuckDB; `all(sql)` answers rows as JSON-friendly objects (BIGINT as strings). */
export async function openDuckDb() {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  return {
    all: async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJson(),
    close() {
      conn.closeSync?.();
      instance.closeSync?.();
    },
  };
}

// ---- the master store, read back -------------------------------------------------------------

/**
 * Downloads every live master row segment, checks it (SHA-256 of the uncompressed text against the
 * catalog, header against the catalog row, gap-free seqs inside) and returns its rows as
 * {shard, seq, id}. Problems are collected rather than thrown: the caller reports them all.
 */
export async function readMaster(store, { concurrency = 4 } = {}) {
  const segments = await listSegments(store, 'master');
  const rows = [];
  const problems = [];
  await pool(segments, concurrency, async (s) => {
    const res = await withRetries(async () => {
      const r = await storeFetch(store, segmentPath(s.key), { timeoutMs: 120_000 });
      if (!r.ok) throw new UserError(`GET ${segmentPath(s.key)} answered ${r.status}: ${await describeFailure(r)}`);
      return Buffer.from(await r.arrayBuffer());
    });
    let text;
    try {
      text = await gunzip(res);
    } catch (err) {
      problems.push(`${s.key}: does not gunzip (${err.message})`);
      return;
    }
    const checksum = createHash('sha256').update(text).digest('hex');
    if (checksum !== s.checksum) problems.push(`${s.key}: checksum ${checksum} but the catalog says ${s.checksum}`);
    const lines = text.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    let header;
    try {
      header = JSON.parse(lines[0]);
    } catch {
      problems.push(`${s.key}: header is not JSON`);
      return;
    }
    if (header.format !== 'esr1') problems.push(`${s.key}: format ${header.format}, expected esr1`);
    if (header.shard !== s.shard || header.firstSeq !== s.firstSeq || header.lastSeq !== s.lastSeq || header.count !== s.rows) {
      problems.push(
        `${s.key}: header ${JSON.stringify(header)} disagrees with the catalog row (shard ${s.shard}, ${s.firstSeq}–${s.lastSeq}, ${s.rows} rows)`,
      );
    }
    if (lines.length - 1 !== header.count) problems.push(`${s.key}: header says ${header.count} rows, body has ${lines.length - 1}`);
    for (let i = 1; i < lines.length; i++) {
      let row;
      try {
        row = JSON.parse(lines[i]);
      } catch {
        problems.push(`${s.key}: row ${i - 1} is not JSON`);
        continue;
      }
      if (row[0] !== header.firstSeq + i - 1)
        problems.push(`${s.key}: row ${i - 1} has seq ${row[0]}, expected ${header.firstSeq + i - 1}`);
      rows.push({ shard: s.shard, seq: row[0], id: row[1] });
    }
  });
  return { segments, rows, problems };
}

// ---- local store: wrangler dev on a state directory -------------------------------------------

const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const HOST = '127.0.0.1';

/** A TCP port nothing listens on right now (the kernel picks it). */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** A process's /proc/<pid>/stat fields after the command name: [state, ppid, pgrp, …]; starttime is [19]. */
function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Every process now running: pid → {ppid, pgrp, state, start}; empty where there is no /proc. */
function processTable() {
  const table = new Map();
  let pids = [];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return table;
  }
  for (const p of pids) {
    const f = procStat(p);
    if (f) table.set(Number(p), { state: f[0], ppid: Number(f[1]), pgrp: Number(f[2]), start: f[19] });
  }
  return table;
}

/**
 * The processes of a `wrangler dev` started as group leader `leader`: its process group and, in case
 * one of them left the group (setsid), every descendant of the leader. Each with its start time,
 * so a pid the kernel reuses later is not taken for a survivor.
 */
function treeOf(leader) {
  const procs = processTable();
  const found = new Map();
  for (const [pid, p] of procs) if (p.pgrp === leader && p.state !== 'Z') found.set(pid, p.start);
  const queue = [leader, ...found.keys()];
  while (queue.length) {
    const parent = queue.pop();
    for (const [pid, p] of procs) {
      if (p.ppid === parent && !found.has(pid) && p.state !== 'Z') {
        found.set(pid, p.start);
        queue.push(pid);
      }
    }
  }
  return found;
}

const commOf = (pid) => {
  try {
    // argv[0]'s base name: node renames its main thread ("MainThread"), so comm would not say "node".
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0].split('/').pop() || '?';
  } catch {
    return '?';
  }
};

const alive = (pid, start) => {
  const f = procStat(pid);
  return f !== null && f[0] !== 'Z' && f[19] === start;
};

/** Pids holding a listening TCP socket on the port (IPv4 and IPv6), or null without /proc. */
function listeners(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const sockets = new Set();
  try {
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      if (!existsSync(file)) continue;
      for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f[1]?.endsWith(hex) && f[3] === '0A') sockets.add(`socket:[${f[9]}]`); // 0A = LISTEN
      }
    }
  } catch {
    return null;
  }
  if (sockets.size === 0) return [];
  const pids = [];
  for (const pid of processTable().keys()) {
    try {
      if (readdirSync(`/proc/${pid}/fd`).some((fd) => sockets.has(readlinkSync(`/proc/${pid}/fd/${fd}`)))) pids.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Every wrangler group this process started and has not seen die; killed when the script exits. */
const groups = new Set();
let exitHooked = false;
function hookExit() {
  if (exitHooked) return;
  exitHooked = true;
  const killGroups = () => {
    for (const g of groups) {
      try {
        process.kill(-g, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', killGroups); // last resort: no workerd may outlive the script
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      console.error(`\n${sig}: stopping the wrangler dev this script started`);
      killGroups();
      process.exit(130);
    });
  }
}

/**
 * `wrangler dev` of this repository on loopback, with its state in `state` (--persist-to) and its
 * output appended to `log`. start() may be called again after kill9() or stop(): same port, same state.
 * After devKey() it is a store for storeFetch(), getJson() and the rest: { url, key }.
 */
export class LocalStore {
  constructor({ state, log, port, inspectorPort, vars = {}, logLevel = 'warn' }) {
    Object.assign(this, { state, log, port, inspectorPort, vars, logLevel });
    this.url = `http://${HOST}:${port}`;
    this.key = null;
    this.keyFrom = 'scripts/dev-key.mjs';
    this.child = null;
    this.starts = 0;
  }

  static async create(opts) {
    return new LocalStore({ ...opts, port: opts.port ?? (await freePort()), inspectorPort: opts.inspectorPort ?? (await freePort()) });
  }

  #spawn(args) {
    hookExit();
    const fd = openSync(this.log, 'a');
    // Its own process group (detached), so the group can be killed with workerd and everything else wrangler starts.
    const child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', CI: '1' },
    });
    closeSync(fd);
    groups.add(child.pid);
    child.exited = new Promise((ok) => child.on('exit', (code, signal) => ok({ code, signal })));
    return child;
  }

  /** The D1 catalog tables must exist before the first request (what `npm run dev` does first). */
  async migrate() {
    const child = this.#spawn(['d1', 'migrations', 'apply', 'CATALOG', '--local', '--persist-to', this.state]);
    const { code } = await child.exited;
    groups.delete(child.pid);
    if (code !== 0) throw new Error(`D1 migrations failed (exit ${code}); see ${this.log}`);
  }

  /**
   * The tenant `default` (8 shards) and a key with every scope and no practical rate limit, in this
   * state's catalog: scripts/dev-key.mjs, as `npm start` runs it. After migrate(), before start()
   * (the key is also kept in <state>/dev-key, so calling it again answers the same key).
   */
  async devKey() {
    const script = join(ROOT, 'scripts', 'dev-key.mjs');
    const out = await new Promise((ok, fail) => {
      execFile(
        process.execPath,
        [script, '--persist-to', this.state, '--print-key'],
        { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', CI: '1' }, timeout: 120_000 },
        (err, stdout, stderr) => {
          if (err) {
            appendFileSync(this.log, `\n===== scripts/dev-key.mjs failed =====\n${stdout}${stderr}\n`);
            fail(new Error(`scripts/dev-key.mjs --persist-to ${this.state} failed (${err.message.split('\n')[0]}); see ${this.log}`));
          } else ok(stdout);
        },
      );
    });
    const key = out.trim().split('\n').at(-1)?.trim() ?? '';
    if (!/^esk_\S+$/.test(key)) throw new Error(`scripts/dev-key.mjs --print-key printed no key: ${JSON.stringify(out.slice(0, 200))}`);
    this.key = key;
    return key;
  }

  async start({ timeoutMs = 90_000 } = {}) {
    if (this.child) throw new Error('already started');
    const vars = Object.entries(this.vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
    const args = ['dev', '--ip', HOST, '--port', String(this.port), '--inspector-ip', HOST, '--inspector-port', String(this.inspectorPort)];
    args.push('--persist-to', this.state, '--log-level', this.logLevel, '--show-interactive-dev-session=false', ...vars);
    const t0 = performance.now();
    this.starts++;
    // A marker, so that the log lines of each run of workerd (before and after a kill) can be told apart.
    appendFileSync(this.log, `\n===== wrangler dev start ${this.starts} at ${new Date().toISOString()} =====\n`);
    this.child = this.#spawn(args);
    await this.#waitUntilUp(timeoutMs);
    return performance.now() - t0;
  }

  async #waitUntilUp(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    const child = this.child;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`wrangler dev exited (${child.exitCode ?? child.signalCode}); see ${this.log}`);
      if (Date.now() > deadline) throw new Error(`wrangler dev did not answer ${this.url} within ${timeoutMs / 1000} s; see ${this.log}`);
      try {
        const res = await fetch(`${this.url}/openapi.json`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    // Something answered; make sure it is ours and not a stranger that took the port meanwhile.
    const owners = listeners(this.port);
    if (owners !== null && !owners.some((pid) => treeOf(child.pid).has(pid))) {
      throw new Error(`${this.url} answered, but not from the wrangler dev this script started (listening pids: ${owners.join(', ')})`);
    }
  }

  /**
   * The crash: SIGKILL to wrangler, every workerd and anything else in the tree, at once, then
   * waits until none of them lives and the port is closed. Returns the processes killed ({pid, name}).
   */
  async kill9({ timeoutMs = 10_000 } = {}) {
    const child = this.child;
    if (!child) throw new Error('not started');
    const tree = treeOf(child.pid); // before the kill: afterwards orphans are re-parented and lose the link
    const names = new Map([...tree.keys()].map((pid) => [pid, commOf(pid)]));
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
    for (const pid of tree.keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone with the group
      }
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const survivors = [...tree].filter(([pid, start]) => alive(pid, start)).map(([pid]) => pid);
      const inGroup = [...processTable()].filter(([, p]) => p.pgrp === child.pid && p.state !== 'Z').map(([pid]) => pid);
      const holding = listeners(this.port) ?? [];
      if (survivors.length + inGroup.length + holding.length === 0) break;
      if (Date.now() > deadline) {
        const pids = [...new Set([...survivors, ...inGroup, ...holding])];
        throw new Error(`after kill -9, processes of wrangler dev survive or still hold port ${this.port}: ${pids.join(', ')}`);
      }
      await sleep(50);
    }
    await child.exited;
    groups.delete(child.pid);
    this.child = null;
    return [...tree.keys()].map((pid) => ({ pid, name: names.get(pid) ?? '?' }));
  }

  /** A clean stop: SIGTERM to the group, SIGKILL after a few seconds. */
  async stop() {
    const child = this.child;
    if (!child) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // gone
    }
    const done = await Promise.race([child.exited.then(() => true), sleep(5000).then(() => false)]);
    const members = () => [...processTable()].some(([, p]) => p.pgrp === child.pid && p.state !== 'Z');
    for (let i = 0; i < 50 && done && members(); i++) await sleep(100);
    if (!done || members()) await this.kill9();
    groups.delete(child.pid);
    this.child = null;
  }

  /**
   * Wrangler's log lines that look like trouble (errors, uncaught exceptions, failed deliveries),
   * colour codes stripped, stack frames and the harmless offline warnings left out, grouped by
   * their text without numbers (seqs, shards, dates): [{ n, example }], most frequent first.
   */
  troubleInLog() {
    let text = '';
    try {
      text = readFileSync(this.log, 'utf8');
    } catch {
      return [];
    }
    const groups = new Map();
    for (const raw of text.split('\n')) {
      // eslint-disable-next-line no-control-regex -- ANSI colour codes, which wrangler writes despite NO_COLOR
      const line = raw.replace(/\x1b\[[0-9;]*m/g, '').trim();
      if (!/error|✘|uncaught|exception|failed|dead.?letter/i.test(line)) continue;
      if (/^at |Request\.cf|workers\.cloudflare\.com|ENOTFOUND|update check/i.test(line)) continue; // offline noise
      const key = line.replace(/\d+/g, 'N').slice(0, 200);
      const g = groups.get(key) ?? { n: 0, example: line };
      g.n++;
      groups.set(key, g);
    }
    return [...groups.values()].sort((a, b) => b.n - a.n);
  }

  /** Prints troubleInLog(), briefly. */
  printTrouble() {
    const trouble = this.troubleInLog();
    if (trouble.length === 0) return;
    console.log(`\nthe wrangler log (${this.log}) has ${trouble.reduce((n, t) => n + t.n, 0)} lines that look like trouble:`);
    for (const g of trouble.slice(0, 10)) console.log(`  ${g.n}× ${g.example.slice(0, 300)}`);
  }
}

// ---- the code under test ---------------------------------------------------------------------

/**
 * A fingerprint of src/ and wrangler.toml (names, sizes, mtimes): `wrangler dev` reloads the store
 * when they change, so a run that saw a change tested two versions of the code and should say so.
 */
export function codeFingerprint() {
  const hash = createHash('sha256');
  const visit = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else {
        const st = statSync(p);
        hash.update(`${relative(ROOT, p)} ${st.size} ${st.mtimeMs}\n`);
      }
    }
  };
  visit(join(ROOT, 'src'));
  hash.update(readFileSync(join(ROOT, 'wrangler.toml')));
  return hash.digest('hex');
}

/**
 * The pid of a running `npm run bench`, or null. This machine has 2 cores: a wrangler dev and its
 * writers started alongside would skew the bench's figures, so the scripts say so before they start.
 */
export function benchRunning() {
  try {
    const pid = Number(readFileSync(join(ROOT, 'bench', '.out', 'bench.lock'), 'utf8'));
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return pid;
  } catch {
    return null;
  }
}

/** A timestamp usable in a directory name. */
export const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');
