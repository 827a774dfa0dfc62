// The storage figures of `npm run bench`: bytes per event of the Parquet the store really wrote,
// beside the raw NDJSON of the same events and beside DuckDB's own `COPY … (FORMAT parquet,
// COMPRESSION zstd)` of the same events (DESIGN.md §6: Parquet ≤ DuckDB's bytes, ≥ 6× smaller
// than NDJSON). bench/parquet-size.mjs measures the same bar on generated rows; this measures the
// files of a real run, as written by the replicate step and after compaction merged them.
//
// Compaction retires small replica segments soon after they are written, so the as-written set is
// gathered while the run goes on: a watcher lists GET /v1/segments?kind=replica every few hundred
// ms and remembers every level-0 segment it saw. Retired segments stay downloadable for
// COMPACT_GRACE_MS (10 min), long enough to fetch them after the run.
//
// Compaction only merges a partition once 8 small segments gathered, so a short run ends with
// some unmerged; what it converges to is measured offline: the live files' rows re-encoded by the
// store's own encoder (src/engine/parquet.ts, as the compactor calls it) in COMPACT_MAX_ROWS files
// per shard and day. Node 24 imports the .ts file by type stripping, as bench/parquet-size.mjs does.

/* global AbortSignal -- Node's global; eslint.config.js lists only a few for bench/ */
import { DuckDBInstance } from '@duckdb/node-api';
import { Buffer } from 'node:buffer';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeParquet, encodeParquet, initParquet } from '../src/engine/parquet.ts';

/** What the functions here take for a store: its origin and its API key (GET /v1/segments needs "read"). */
const auth = (store) => ({ authorization: `Bearer ${store.key}` });

async function getJson(store, path) {
  const url = `${store.base}${path}`;
  const res = await fetch(url, { headers: auth(store), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

export const listSegments = async (store, kind) => (await getJson(store, `/v1/segments?kind=${kind}`)).segments;

/**
 * Lists a store's replica segments every `everyMs` until stopped; keeps every level-0 segment seen
 * (the replicate step's output, before compaction retires it).
 */
export function watchSegments(store, everyMs) {
  const seen = new Map();
  let running = true;
  let polls = 0;
  let errors = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        for (const s of await listSegments(store, 'replica')) if (s.level === 0) seen.set(s.key, s);
        polls++;
      } catch {
        errors++; // a slow answer under load; the next listing catches up
      }
      await sleep(Math.max(0, started + everyMs - performance.now()));
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await loop;
      return { polls, errors };
    },
  };
}

/** Downloads segments (GET /v1/segments/<key>) into `dir`; answers them with their local file. */
export async function download(store, segments, dir) {
  mkdirSync(dir, { recursive: true });
  const files = [];
  for (const s of segments) {
    const res = await fetch(`${store.base}/v1/segments/${s.key}`, { headers: auth(store), signal: AbortSignal.timeout(60_000) });
    const bytes = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`GET /v1/segments/${s.key} answered ${res.status}: ${bytes.toString('utf8', 0, 300)}`);
    if (bytes.length !== s.bytes) throw new Error(`segment ${s.key} has ${bytes.length} bytes, the catalog says ${s.bytes}`);
    const file = join(dir, s.key.replace(/[^A-Za-z0-9._-]+/g, '_'));
    writeFileSync(file, bytes);
    files.push({ ...s, file });
  }
  return files;
}

/**
 * Waits until the store's live replica segments stop changing (compaction settled): the listing
 * must be the same `stableFor` times in a row, `everyMs` apart, or `timeoutMs` passes.
 */
export async function settleCompaction(store, { everyMs = 1000, stableFor = 3, timeoutMs = 60_000 } = {}) {
  const started = performance.now();
  let last = '';
  let same = 0;
  while (performance.now() - started < timeoutMs) {
    const keys = (await listSegments(store, 'replica')).map((s) => s.key).join('\n');
    same = keys === last ? same + 1 : 0;
    last = keys;
    if (same >= stableFor) return { settled: true, seconds: (performance.now() - started) / 1000 };
    await sleep(everyMs);
  }
  return { settled: false, seconds: (performance.now() - started) / 1000 };
}

// ---- sizes -------------------------------------------------------------------------------------

// The columns of the events table (DESIGN.md §3), typed as bench/parquet-size.mjs gives them to
// DuckDB; our files hold the same columns plus the shredded `data.*` ones, which DuckDB's copy leaves out.
const TABLE = `id::VARCHAR AS id, stream::VARCHAR AS stream, type::VARCHAR AS type, source::VARCHAR AS source,
  subject::VARCHAR AS subject, time::TIMESTAMPTZ AS time, received_at::TIMESTAMPTZ AS received_at, shard::INTEGER AS shard,
  seq::BIGINT AS seq, version::BIGINT AS version, data::VARCHAR AS data`;

const sql = (s) => `'${s.replaceAll("'", "''")}'`;
const iso = (ms) => new Date(ms).toISOString();

/** An event as it was posted to POST /v1/events (bench/events.mjs's key order), as one NDJSON line. */
const postedLine = (r) =>
  `{"id":${JSON.stringify(r.id)},"stream":${JSON.stringify(r.stream)},"type":${JSON.stringify(r.type)},"time":"${iso(r.t)}",` +
  `"source":${JSON.stringify(r.source)},"data":${r.data}}\n`;
/** The table's row as one NDJSON line, `data` as the JSON value it is (as bench/parquet-size.mjs counts it). */
const rowLine = (r) =>
  `{"id":${JSON.stringify(r.id)},"stream":${JSON.stringify(r.stream)},"type":${JSON.stringify(r.type)},"source":${JSON.stringify(r.source)},` +
  `"subject":${JSON.stringify(r.subject)},"time":"${iso(r.t)}","received_at":"${iso(r.r)}","shard":${r.shard},"seq":${r.seq},` +
  `"version":${r.version},"data":${r.data}}\n`;

/**
 * What compaction converges to: each shard's rows (from the live files) re-encoded by the store's
 * encoder in files of at most `maxRows` rows per shard and UTC day, written to `dir`.
 */
function compactOffline(live, maxRows, dir) {
  initParquet(readFileSync(new URL('../node_modules/parquet-wasm/esm/parquet_wasm_bg.wasm', import.meta.url)));
  mkdirSync(dir, { recursive: true });
  const files = [];
  for (const shard of [...new Set(live.map((f) => f.shard))].sort((a, b) => a - b)) {
    const byDate = new Map();
    for (const f of live.filter((x) => x.shard === shard)) {
      for (const row of decodeParquet(new Uint8Array(readFileSync(f.file)))) {
        const date = new Date(row.time).toISOString().slice(0, 10);
        if (!byDate.has(date)) byDate.set(date, []);
        byDate.get(date).push(row);
      }
    }
    for (const [date, rows] of byDate) {
      rows.sort((a, b) => a.seq - b.seq);
      for (let i = 0; i < rows.length; i += maxRows) {
        const part = rows.slice(i, i + maxRows);
        const file = join(dir, `compacted-${shard}-${date}-${i}.parquet`);
        writeFileSync(file, encodeParquet(part).bytes);
        files.push({ shard, level: 'offline', rows: part.length, file });
      }
    }
  }
  return files;
}

/**
 * Measures one store's files: `asWritten` (level-0 segments) and `live` (after compaction), each a
 * list of downloaded segments, and what full compaction would make of them (`compactMaxRows` rows
 * per file at most). `work` is a scratch directory for DuckDB's files.
 */
export async function measureStorage({ asWritten, live, master, greenEvents, compactMaxRows, work }) {
  mkdirSync(work, { recursive: true });
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  let n = 0;

  /** DuckDB's zstd copy of the same rows as each of our files (the same boundaries): total bytes. */
  async function duckSameFiles(files) {
    let bytes = 0;
    for (const f of files) {
      const out = join(work, `duck-${n++}.parquet`);
      await db.run(
        `COPY (SELECT ${TABLE} FROM read_parquet(${sql(f.file)}) ORDER BY seq) TO ${sql(out)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      bytes += statSync(out).size;
    }
    return bytes;
  }

  /** DuckDB's zstd copy of each shard's events in one file (its own best case): total bytes. */
  async function duckPerShard(files) {
    let bytes = 0;
    const shards = [...new Set(files.map((f) => f.shard))];
    for (const shard of shards) {
      const list = files.filter((f) => f.shard === shard).map((f) => sql(f.file));
      const out = join(work, `duck-shard-${shard}-${n++}.parquet`);
      await db.run(
        `COPY (SELECT ${TABLE} FROM read_parquet([${list.join(', ')}]) ORDER BY seq) TO ${sql(out)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      bytes += statSync(out).size;
    }
    return bytes;
  }

  /** NDJSON bytes of the files' events, as posted and as table rows. */
  async function ndjson(files) {
    let posted = 0;
    let row = 0;
    let rows = 0;
    for (const f of files) {
      const reader = await db.runAndReadAll(
        `SELECT id, stream, type, source, subject, epoch_ms(time) AS t, epoch_ms(received_at) AS r, shard, seq, version, data
           FROM read_parquet(${sql(f.file)})`,
      );
      for (const r of reader.getRowObjectsJson()) {
        const e = { ...r, t: Number(r.t), r: Number(r.r), seq: Number(r.seq), version: Number(r.version) };
        posted += Buffer.byteLength(postedLine(e));
        row += Buffer.byteLength(rowLine(e));
        rows++;
      }
    }
    return { posted, row, rows };
  }

  const fileBytes = (files) => files.reduce((s, f) => s + statSync(f.file).size, 0);
  const rowsOf = (files) => files.reduce((s, f) => s + f.rows, 0);
  const levels = (files) =>
    Object.fromEntries([...new Set(files.map((f) => f.level))].sort().map((l) => [l, files.filter((f) => f.level === l).length]));

  // NDJSON is counted once, over the live files (every green event exactly once).
  const nd = await ndjson(live);
  const set = async (files) => {
    const rows = rowsOf(files);
    const ours = fileBytes(files);
    const duck = await duckSameFiles(files);
    return {
      segments: files.length,
      rows,
      levels: levels(files),
      avgRows: files.length ? rows / files.length : null,
      oursBytes: ours,
      duckBytes: duck,
      oursPerEvent: rows ? ours / rows : null,
      duckPerEvent: rows ? duck / rows : null,
      oursToDuck: duck ? ours / duck : null,
      ndjsonToOurs: ours && rows ? nd.posted / nd.rows / (ours / rows) : null,
    };
  };
  const written = await set(asWritten);
  const compacted = await set(live);
  const full = await set(compactOffline(live, compactMaxRows, join(work, 'compacted')));
  const perShard = await duckPerShard(live);
  db.closeSync?.();
  return {
    greenEvents,
    ndjson: { events: nd.rows, postedPerEvent: nd.posted / nd.rows, rowPerEvent: nd.row / nd.rows },
    // Level-0 rows seen over all green events: below 1 when the watcher missed a short-lived segment.
    asWritten: { ...written, coverage: greenEvents ? written.rows / greenEvents : null },
    compacted,
    fullyCompacted: { ...full, maxRows: compactMaxRows },
    duckOneFilePerShard: { bytes: perShard, perEvent: perShard / compacted.rows, shards: new Set(live.map((f) => f.shard)).size },
    master: {
      segments: master.length,
      rows: rowsOf(master),
      bytes: master.reduce((s, m) => s + m.bytes, 0),
      perEvent: master.reduce((s, m) => s + m.bytes, 0) / rowsOf(master),
      avgRows: rowsOf(master) / master.length,
    },
  };
}
