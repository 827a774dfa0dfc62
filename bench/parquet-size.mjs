// Storage bar of DESIGN.md §6: bytes per event of our replica Parquet files against DuckDB's own zstd
// Parquet of the same events and against the raw NDJSON, on the benchmark's webhook-like events.
//
//   node bench/parquet-size.mjs            (Node 24: imports src/engine/parquet.ts by type stripping)
//
// One shard's file: BENCH_PARQUET_EVENTS events (default 50,000, a compacted segment) drawn from
// bench/events.mjs over BENCH_PARQUET_STREAMS streams (default 1,250 = 10,000 streams / 8 shards),
// in seq order with a rising received_at, as the replicator writes them. Also 5,000- and 20,000-event
// files (the replicate step's segment sizes). Files go to bench/.out/parquet-size/.

import { DuckDBInstance } from '@duckdb/node-api';
import { Buffer } from 'node:buffer';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { bodies, rng } from './events.mjs';
import { DEFAULT_ROW_GROUP_SIZE, encodeParquet, initParquet } from '../src/engine/parquet.ts';

const EVENTS = Number(process.env.BENCH_PARQUET_EVENTS ?? 50_000);
const STREAMS = Number(process.env.BENCH_PARQUET_STREAMS ?? 1_250);
const OUT = new URL('./.out/parquet-size/', import.meta.url).pathname;
mkdirSync(OUT, { recursive: true });
initParquet(readFileSync(new URL('../node_modules/parquet-wasm/esm/parquet_wasm_bg.wasm', import.meta.url)));

/** Rows of one shard, in seq order: the generator's events with the store's fields added. */
function makeRows(n) {
  const next = bodies({ tag: 'bench', streams: STREAMS, seed: 7 }).batchMaker(100, Math.ceil(n / 100));
  const r = rng(8);
  const versions = new Map();
  const rows = [];
  const posted = [];
  let receivedAt = Date.UTC(2026, 10, 1, 12);
  while (rows.length < n) {
    for (const e of JSON.parse(next().toString('utf8'))) {
      if (rows.length === n) break;
      const version = (versions.get(e.stream) ?? 0) + 1;
      versions.set(e.stream, version);
      receivedAt += Math.floor(r() * 40);
      posted.push(JSON.stringify(e));
      rows.push({
        seq: rows.length + 1,
        id: e.id,
        stream: e.stream,
        version,
        type: e.type,
        source: e.source ?? null,
        subject: e.subject ?? null,
        time: Date.parse(e.time),
        receivedAt,
        data: JSON.stringify(e.data),
        shard: 5,
      });
    }
  }
  return { rows, posted };
}

const iso = (ms) => new Date(ms).toISOString();
/** The table's row as one NDJSON line, `data` as the JSON value it is. */
const ndjsonLine = (r) =>
  `{"id":${JSON.stringify(r.id)},"stream":${JSON.stringify(r.stream)},"type":${JSON.stringify(r.type)},"source":${JSON.stringify(r.source)},` +
  `"subject":${JSON.stringify(r.subject)},"time":"${iso(r.time)}","received_at":"${iso(r.receivedAt)}","shard":${r.shard},"seq":${r.seq},` +
  `"version":${r.version},"data":${r.data}}\n`;

const db = await (await DuckDBInstance.create(':memory:')).connect();
const q = async (sql) => (await db.runAndReadAll(sql)).getRowObjectsJson();

/** Loads rows into DuckDB table `ev` with the table's types (data as VARCHAR). */
async function loadDuck(rows) {
  const staged = `${OUT}staged.ndjson`;
  writeFileSync(
    staged,
    rows
      .map((r) => JSON.stringify({ ...r, received_at: r.receivedAt, receivedAt: undefined }))
      .join('\n')
      .concat('\n'),
  );
  await db.run(`CREATE OR REPLACE TABLE ev AS
    SELECT id, stream, type, source, subject, make_timestamp(time * 1000)::TIMESTAMPTZ AS time,
           make_timestamp(received_at * 1000)::TIMESTAMPTZ AS received_at, shard, seq, version, data
    FROM read_json('${staged}', columns = {id: 'VARCHAR', stream: 'VARCHAR', type: 'VARCHAR', source: 'VARCHAR', subject: 'VARCHAR',
      time: 'BIGINT', received_at: 'BIGINT', shard: 'INTEGER', seq: 'BIGINT', version: 'BIGINT', data: 'VARCHAR'})
    ORDER BY seq`);
}

/** DuckDB's own zstd Parquet of table `ev` (its defaults: level 3, 122,880-row groups), plus `extra` columns. */
async function duckFile(name, extra = []) {
  const cols = extra.map((c) => {
    const path = `'$.${c.path.join('.')}'`;
    const expr =
      c.type === 'string'
        ? `json_extract_string(data, ${path})`
        : `json_extract(data, ${path})::${c.type === 'double' ? 'DOUBLE' : 'BOOLEAN'}`;
    return `, ${expr} AS "${c.name}"`;
  });
  const file = `${OUT}${name}.parquet`;
  await db.run(`COPY (SELECT *${cols.join('')} FROM ev ORDER BY seq) TO '${file}' (FORMAT parquet, COMPRESSION zstd)`);
  return { file, bytes: statSync(file).size };
}

function ours(name, rows, options = {}) {
  const t0 = performance.now();
  const encoded = encodeParquet(rows, options);
  const ms = performance.now() - t0;
  const file = `${OUT}${name}.parquet`;
  writeFileSync(file, encoded.bytes);
  return { file, bytes: encoded.bytes.length, encoded, ms };
}

async function columnBytes(file) {
  const rows = await q(
    `SELECT path_in_schema AS col, sum(total_compressed_size)::BIGINT AS bytes FROM parquet_metadata('${file}') GROUP BY col`,
  );
  return new Map(rows.map((r) => [r.col, Number(r.bytes)]));
}

const perEvent = (bytes, n) => (bytes / n).toFixed(1);
const lines = [];
const out = (s = '') => (console.log(s), lines.push(s));

const { rows: all, posted: allPosted } = makeRows(EVENTS);
out(`# Replica Parquet size — ${new Date().toISOString()}`);
out();
out(`${EVENTS} events of bench/events.mjs over ${STREAMS} streams, one shard, seq order; our default row group ${DEFAULT_ROW_GROUP_SIZE}.`);
out();
out('| file | events | NDJSON (row) | NDJSON (as posted) | DuckDB zstd | ours | ours / DuckDB | NDJSON (as posted) / ours | shredded |');
out('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');

let main;
for (const n of [5_000, 20_000, EVENTS].filter((n, i, a) => n <= EVENTS && a.indexOf(n) === i)) {
  const rows = all.slice(0, n);
  const rowNd = rows.reduce((s, r) => s + Buffer.byteLength(ndjsonLine(r)), 0);
  const postedNd = allPosted.slice(0, n).reduce((s, line) => s + Buffer.byteLength(line) + 1, 0);
  await loadDuck(rows);
  const duck = await duckFile(`duckdb-${n}`);
  const mine = ours(`ours-${n}`, rows);
  const pass = mine.bytes <= duck.bytes && postedNd / mine.bytes >= 6;
  out(
    `| ${n === EVENTS ? 'compacted' : 'segment'} | ${n} | ${perEvent(rowNd, n)} B | ${perEvent(postedNd, n)} B | ${perEvent(duck.bytes, n)} B | ` +
      `${perEvent(mine.bytes, n)} B | ${(mine.bytes / duck.bytes).toFixed(3)} | ${(postedNd / mine.bytes).toFixed(1)}× | ` +
      `${mine.encoded.shredded.length} ${pass ? '' : '(bar missed)'} |`,
  );
  if (n === EVENTS) main = { rows, duck, mine, rowNd, postedNd };
}

const { rows, duck, mine, postedNd } = main;
out();
out(`Shredded by default: ${mine.encoded.shredded.map((c) => `${c.name} (${c.type})`).join(', ') || 'none'}.`);
out();
out(
  `## Variants on the ${EVENTS}-event file (bytes/event; DuckDB ${perEvent(duck.bytes, EVENTS)}, NDJSON as posted ${perEvent(postedNd, EVENTS)})`,
);
out();
out('| variant | ours | ours / DuckDB | shredded | encode ms |');
out('| --- | ---: | ---: | --- | ---: |');
const variants = [
  ['default', {}],
  ['no shredding', { shredded: [] }],
  ['shred unique strings too (maxDistinctShare 1)', { shredOptions: { maxDistinctShare: 1 } }],
  ['row groups of 5,000', { rowGroupSize: 5_000 }],
  ['row groups of 20,000', { rowGroupSize: 20_000 }],
  [`one row group (${EVENTS})`, { rowGroupSize: EVENTS }],
  [`one row group, no shredding`, { rowGroupSize: EVENTS, shredded: [] }],
];
const results = {};
for (const [label, options] of variants) {
  const v = ours(`variant-${Object.keys(results).length}`, rows, options);
  results[label] = v;
  out(
    `| ${label} | ${perEvent(v.bytes, EVENTS)} | ${(v.bytes / duck.bytes).toFixed(3)} | ${v.encoded.shredded.map((c) => c.name.slice(5)).join(', ')} | ${v.ms.toFixed(0)} |`,
  );
}

// Like for like: DuckDB writing the same shredded columns beside data.
const wide = results['shred unique strings too (maxDistinctShare 1)'];
await loadDuck(rows);
const duckDefault = await duckFile('duckdb-shredded-default', mine.encoded.shredded);
const duckWide = await duckFile('duckdb-shredded-wide', wide.encoded.shredded);
out();
out('## Like for like: DuckDB writing the same shredded columns');
out();
out('| columns | DuckDB | ours | ours / DuckDB |');
out('| --- | ---: | ---: | ---: |');
out(
  `| table + default shredded | ${perEvent(duckDefault.bytes, EVENTS)} | ${perEvent(mine.bytes, EVENTS)} | ${(mine.bytes / duckDefault.bytes).toFixed(3)} |`,
);
out(
  `| table + all shreddable | ${perEvent(duckWide.bytes, EVENTS)} | ${perEvent(wide.bytes, EVENTS)} | ${(wide.bytes / duckWide.bytes).toFixed(3)} |`,
);

const ourCols = await columnBytes(mine.file);
const duckCols = await columnBytes(duck.file);
out();
out('## Bytes per column (compressed, per event)');
out();
out('| column | DuckDB | ours |');
out('| --- | ---: | ---: |');
for (const [col, bytes] of [...ourCols].sort((a, b) => b[1] - a[1])) {
  out(`| ${col} | ${duckCols.has(col) ? perEvent(duckCols.get(col), EVENTS) : ''} | ${perEvent(bytes, EVENTS)} |`);
}

writeFileSync(`${OUT}results.md`, lines.join('\n') + '\n');
console.log(`\nwritten to ${OUT}results.md`);
