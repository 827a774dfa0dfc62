// The tables of `npm run bench`: medians across runs, printed as markdown beside the references
// measured in the same run (run.mjs gathers the figures, this only summarises and formats them).

export function median(xs) {
  const s = xs.filter((x) => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const fmt = (x, digits = 0) =>
  x === null || x === undefined || !Number.isFinite(x)
    ? '—'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const sum = (xs) => xs.reduce((s, x) => s + (x ?? 0), 0);

// ---- ingest (DESIGN.md §6: half of the floors) --------------------------------------------------

export function summariseIngest(scenarios, runs, batch, bar) {
  const rows = {};
  for (const s of scenarios) {
    const rs = runs.map((r) => r[s.id]);
    const perEvent = s.unit === 'events/s' ? batch : 1;
    rows[s.id] = {
      ...s,
      rate: median(rs.map((r) => r.reqPerSec * perEvent)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      loadCpu: median(rs.map((r) => r.loadCpu)),
      serverCpu: median(rs.map((r) => r.serverCpu)),
      otherServerCpu: median(rs.map((r) => r.otherServerCpu)),
      foreignCpu: median(rs.map((r) => r.foreignCpu)),
      bad: sum(rs.map((r) => r.bad + r.errors)),
      duplicates: sum(rs.map((r) => r.duplicates)),
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
    row.pass = row.ratio !== null && row.ratio >= bar && row.bad === 0 && row.silentRuns === 0;
  }
  return rows;
}

function cpuRow(name, r) {
  return `| ${name} | ${fmt(r.loadCpu, 2)} | ${fmt(r.serverCpu, 2)} | ${fmt(r.otherServerCpu, 2)} | ${fmt(r.foreignCpu, 2)} |`;
}
const CPU_HEAD = [
  '| scenario | CPU: load generator | CPU: server | CPU: idle servers | CPU: rest of machine |',
  '|---|---:|---:|---:|---:|',
];
const CPU_NOTE =
  '(CPU in cores over the measured seconds, medians; the idle servers are the ones not under load; the rest of the machine is what ran besides the bench)';

export function ingestTable(rows, bar) {
  const lines = ['| scenario | median rate | unit | p50 ms | p99 ms | floor | ratio to floor |', '|---|---:|---|---:|---:|---:|---:|'];
  for (const r of Object.values(rows)) {
    const floor = r.floor ? `${fmt(r.floorRate)} ${rows[r.floor].unit}` : '—';
    const ratio = r.floor ? `${fmt(r.ratio, 2)} (bar ≥ ${bar}: ${r.pass ? 'PASS' : 'FAIL'})` : '—';
    lines.push(`| ${r.name} | ${fmt(r.rate)} | ${r.unit} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${floor} | ${ratio} |`);
  }
  lines.push(
    '',
    '| scenario | CPU: load generator | CPU: server | CPU: idle servers | CPU: rest of machine | unexpected statuses + errors | duplicate answers |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of Object.values(rows)) {
    const silent = r.silentRuns ? ` + ${r.silentRuns} runs without any answer` : '';
    lines.push(`${cpuRow(r.name, r)} ${r.bad}${silent} | ${r.duplicates} |`);
  }
  lines.push(CPU_NOTE);
  return lines.join('\n');
}

// ---- freshness: 202 → green at a fixed rate --------------------------------------------------

/** Whether a run kept up with its rate: every request sent on time and answered within the window. */
export const keptUp = (r) => r.shed === 0 && r.achievedEventsPerSec >= 0.97 * r.target.eventsPerSec;

export function summariseFreshness(cells) {
  return cells.map(({ trigger, rate, runs }) => {
    const m = (pick) => median(runs.map(pick));
    return {
      trigger,
      rate,
      achieved: m((r) => r.achievedEventsPerSec),
      keptUpRuns: runs.filter(keptUp).length,
      shed: sum(runs.map((r) => r.shed)),
      ackP50: m((r) => r.latency.p50),
      ackP99: m((r) => r.latency.p99),
      greenP50: m((r) => r.freshness.perEvent.p50),
      greenP99: m((r) => r.freshness.perEvent.p99),
      greenP50Low: m((r) => r.freshness.perEventLowerBound.p50),
      greenP99Low: m((r) => r.freshness.perEventLowerBound.p99),
      greenMax: m((r) => r.freshness.perEvent.max),
      worstRunP99: Math.max(...runs.map((r) => r.freshness.perEvent.p99 ?? Infinity)),
      requestP99: m((r) => r.freshness.perRequest.p99),
      drain: m((r) => r.drainSeconds),
      undrainedRuns: runs.filter((r) => r.drainSeconds === null).length,
      greenRate: m((r) => r.greenEventsPerSec),
      pollGap: m((r) => r.polls.interval.p50),
      pollAnswerP50: m((r) => r.polls.answer.p50),
      pollAnswerP99: m((r) => r.polls.answer.p99),
      pollErrors: sum(runs.map((r) => r.polls.errors)),
      loadCpu: m((r) => r.loadCpu),
      serverCpu: m((r) => r.serverCpu),
      otherServerCpu: m((r) => r.otherServerCpu),
      foreignCpu: m((r) => r.foreignCpu),
      bad: sum(runs.map((r) => r.bad + r.errors + r.unanswered)),
      duplicates: sum(runs.map((r) => r.duplicates)),
      neverGreen: sum(runs.map((r) => r.freshness.neverGreen)),
      samples: runs.flatMap((r) => r.samples).slice(0, 3),
      runs,
    };
  });
}

export function freshnessTable(rows, goal) {
  const lines = [
    '| trigger | target events/s | achieved events/s | kept up (runs) | 202 p50 / p99 ms | green p50 ms | green p99 ms | green max ms | whole request green p99 ms | drain s | green events/s | goal: p99 ≤ ' +
      `${fmt(goal.p99Ms)} ms at ${fmt(goal.rate)}/s |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const kept = `${r.keptUpRuns === r.runs.length ? 'yes' : 'NO'} (${r.keptUpRuns}/${r.runs.length})${r.shed ? `, ${r.shed} requests shed` : ''}`;
    const goalCell = r.rate === goal.rate ? (r.pass ? 'PASS' : 'FAIL') : '—';
    const drain = r.undrainedRuns ? `${fmt(r.drain, 1)} (${r.undrainedRuns} runs never drained)` : fmt(r.drain, 1);
    lines.push(
      `| ${r.trigger} | ${fmt(r.rate)} | ${fmt(r.achieved)} | ${kept} | ${fmt(r.ackP50)} / ${fmt(r.ackP99)} | ${fmt(r.greenP50)} (≥ ${fmt(r.greenP50Low)}) | ` +
        `${fmt(r.greenP99)} (≥ ${fmt(r.greenP99Low)}) | ${fmt(r.greenMax)} | ${fmt(r.requestP99)} | ${drain} | ${fmt(r.greenRate)} | ${goalCell} |`,
    );
  }
  lines.push(
    '',
    '| trigger | target events/s | status polls: median gap ms | status answer p50 / p99 ms | poll errors | CPU: load generator + poller | CPU: server | CPU: idle servers | CPU: rest of machine |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of rows) {
    lines.push(
      `| ${r.trigger} | ${fmt(r.rate)} | ${fmt(r.pollGap)} | ${fmt(r.pollAnswerP50)} / ${fmt(r.pollAnswerP99)} | ${r.pollErrors} | ` +
        `${fmt(r.loadCpu, 2)} | ${fmt(r.serverCpu, 2)} | ${fmt(r.otherServerCpu, 2)} | ${fmt(r.foreignCpu, 2)} |`,
    );
  }
  lines.push(
    '(green: from the 202 to the answer of the first status poll that shows the event green, an upper bound; in brackets the lower bound, from the 202 to the sending of the poll before, which did not show it green yet; the whole request: until all of its events are green, upper bound)',
    CPU_NOTE,
  );
  return lines.join('\n');
}

// ---- throughput with the pipeline running ----------------------------------------------------

export function summariseSaturation(cells, ingestAlone) {
  return cells.map(({ trigger, runs }) => {
    const m = (pick) => median(runs.map(pick));
    const rate = m((r) => r.reqPerSec * r.batch);
    return {
      trigger,
      rate,
      ratioToAlone: ingestAlone ? rate / ingestAlone : null,
      p50: m((r) => r.p50),
      p99: m((r) => r.p99),
      greenRate: m((r) => r.greenEventsPerSec),
      backlog: m((r) => r.backlogAtEnd),
      drain: m((r) => r.drainSeconds),
      undrainedRuns: runs.filter((r) => r.drainSeconds === null).length,
      loadCpu: m((r) => r.loadCpu),
      serverCpu: m((r) => r.serverCpu),
      otherServerCpu: m((r) => r.otherServerCpu),
      foreignCpu: m((r) => r.foreignCpu),
      bad: sum(runs.map((r) => r.bad + r.errors)),
      duplicates: sum(runs.map((r) => r.duplicates)),
      silentRuns: runs.filter((r) => r.requests === 0).length,
      samples: runs.flatMap((r) => r.samples).slice(0, 3),
      runs,
    };
  });
}

export function saturationTable(rows, ingestAlone) {
  const lines = [
    '| trigger | ingest events/s | ratio to ingest alone | p50 / p99 ms | green events/s while loaded | grey + blue at the end | drain s |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const drain = r.undrainedRuns ? `${fmt(r.drain, 1)} (${r.undrainedRuns} runs never drained)` : fmt(r.drain, 1);
    lines.push(
      `| ${r.trigger} | ${fmt(r.rate)} | ${ingestAlone ? fmt(r.ratioToAlone, 2) : '—'} | ${fmt(r.p50)} / ${fmt(r.p99)} | ${fmt(r.greenRate)} | ` +
        `${fmt(r.backlog)} | ${drain} |`,
    );
  }
  lines.push(
    ingestAlone
      ? `(ingest alone: the store with its pipeline deferred, ${fmt(ingestAlone)} events/s in this run's ingest table)`
      : '(ingest alone not measured in this run: BENCH_SCENARIOS left out `ingest`)',
    '',
    ...CPU_HEAD,
  );
  for (const r of rows) lines.push(cpuRow(r.trigger, r));
  lines.push(CPU_NOTE);
  return lines.join('\n');
}

// ---- storage -----------------------------------------------------------------------------------

export function storageTable(stores, goal) {
  const lines = [
    '| trigger | set | segments | avg rows / segment | ours B/event | DuckDB zstd, same rows per file, B/event | ours / DuckDB | NDJSON as posted B/event | NDJSON / ours | goal: ≤ DuckDB, ≥ ' +
      `${goal.ndjsonRatio}× smaller than NDJSON |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const [trigger, s] of Object.entries(stores)) {
    if (s.error) {
      lines.push(`| ${trigger} | not measured: ${s.error} | | | | | | | | |`);
      continue;
    }
    const nd = s.ndjson.postedPerEvent;
    const row = (label, set, check) =>
      `| ${trigger} | ${label} | ${set.segments} | ${fmt(set.avgRows)} | ${fmt(set.oursPerEvent, 1)} | ${fmt(set.duckPerEvent, 1)} | ` +
      `${fmt(set.oursToDuck, 3)} | ${fmt(nd, 1)} | ${fmt(set.ndjsonToOurs, 1)}× | ${check ? (set.pass ? 'PASS' : 'FAIL') : '—'} |`;
    const levels = Object.entries(s.compacted.levels)
      .map(([l, n]) => `${n}×L${l}`)
      .join(' ');
    lines.push(row(`as written (level 0, ${fmt(s.asWritten.coverage * 100, 1)} % of the events)`, s.asWritten, true));
    lines.push(row(`live after compaction settled (${levels})`, s.compacted, true));
    lines.push(row(`fully compacted (offline, ≤ ${fmt(s.fullyCompacted.maxRows)} rows per file)`, s.fullyCompacted, true));
    const one = s.duckOneFilePerShard;
    lines.push(
      `| ${trigger} | DuckDB, all of a shard's events in one file (its best case) | ${one.shards} | ${fmt(s.compacted.rows / one.shards)} | | ` +
        `${fmt(one.perEvent, 1)} | ${fmt(s.fullyCompacted.oursPerEvent / one.perEvent, 3)} (fully compacted over it) | | | — |`,
    );
    lines.push(
      `| ${trigger} | master row segments (gzip) | ${s.master.segments} | ${fmt(s.master.avgRows)} | ${fmt(s.master.perEvent, 1)} | | | ` +
        `${fmt(nd, 1)} | ${fmt(nd / s.master.perEvent, 1)}× | — |`,
    );
  }
  lines.push(
    '(ours: the Parquet files the store wrote in the freshness runs: its table columns plus the shredded `data.*` ones. As written: the level-0 segments the replicate step wrote, as many as the segment watcher saw before compaction retired them. ' +
      "Live: the catalog once compaction had nothing left to do (it waits for 8 small segments per shard and day). Fully compacted: the live rows re-encoded offline by the store's encoder, COMPACT_MAX_ROWS per file, what compaction converges to. " +
      'DuckDB: `COPY (SELECT <the table columns> … ORDER BY seq) TO … (FORMAT parquet, COMPRESSION zstd)` of the same rows, one file per file of ours. NDJSON as posted: each event as it was sent, one line each.)',
  );
  return lines.join('\n');
}

export function storagePass(set, ndjsonPerEvent, goal) {
  return set.oursBytes <= set.duckBytes && ndjsonPerEvent / set.oursPerEvent >= goal.ndjsonRatio;
}

/** The reads scenario (bench/reads.mjs): latencies beside the empty Worker's of the same run. */
export function readsTable(r) {
  const floor = r.floor.p50;
  const row = (name, m) =>
    `| ${name} | ${m.samples} | ${fmt(m.p50, 1)} | ${fmt(m.p99, 1)} | ${fmt(m.max, 1)} | ${(m.p50 / floor).toFixed(1)}× |`;
  return (
    [
      '| read | samples | p50 ms | p99 ms | max ms | p50 / empty Worker p50 |',
      '|---|---:|---:|---:|---:|---:|',
      row('floor: GET /empty (before the hot reads)', r.floor),
      row('floor: GET /empty (after eviction)', r.floorAfter),
      row('GET /v1/events/{id}, hot (shard status memory)', r.hotById),
      row(`GET /v1/events/{id}, cold, first read of its master segment (${r.coldSegments} segments)`, r.coldById),
      row('GET /v1/events/{id}, cold, segment already decoded by the isolate', r.coldByIdCached),
      row('GET /v1/streams/{stream}/events?limit=1000, 1,000 events, hot', r.hotHistory),
      row('same history, cold, first read of its segments', r.coldHistory),
      row('same history, cold, segments already decoded', r.coldHistoryCached),
    ].join('\n') +
    (r.warning ? `\n(warning: ${r.warning})` : '') +
    "\n(sequential requests from the same machine; every read asks the tenant's 8 shards (by id) or one shard (history); cold reads add the catalog lookup in D1 and the master segment from R2)"
  );
}
