// The segment catalog in D1 (migrations/0002_catalog.sql): what the pipeline registers, what readers and the planner list.

import type { CatalogSegment, SegmentKind } from '../engine/replica.js';

export type { CatalogSegment, SegmentKind } from '../engine/replica.js';

interface Row {
  key: string;
  kind: SegmentKind;
  tenant: string;
  shard: number;
  date: string | null;
  level: number;
  first_seq: number;
  last_seq: number;
  min_time: number;
  max_time: number;
  rows: number;
  bytes: number;
  checksum: string | null;
  stats: string;
}

const fromRow = (r: Row): CatalogSegment => ({
  key: r.key,
  kind: r.kind,
  tenant: r.tenant,
  shard: r.shard,
  date: r.date,
  level: r.level,
  firstSeq: r.first_seq,
  lastSeq: r.last_seq,
  minTime: r.min_time,
  maxTime: r.max_time,
  rows: r.rows,
  bytes: r.bytes,
  checksum: r.checksum,
  stats: JSON.parse(r.stats) as CatalogSegment['stats'],
});

const COLUMNS = 'key, kind, tenant, shard, date, level, first_seq, last_seq, min_time, max_time, rows, bytes, checksum, stats';

/** The values of a segment in the order of COLUMNS, then created_at. */
const values = (s: CatalogSegment, now: number) => [
  s.key,
  s.kind,
  s.tenant,
  s.shard,
  s.date,
  s.level,
  s.firstSeq,
  s.lastSeq,
  s.minTime,
  s.maxTime,
  s.rows,
  s.bytes,
  s.checksum,
  JSON.stringify(s.stats),
  now,
];

/**
 * Registers segments as live. A key already in the catalog is left as it is: a retried step
 * re-registers the same key, and a key that compaction retired must not come back.
 */
export function insertSegments(db: D1Database, segments: readonly CatalogSegment[], now = Date.now()): D1PreparedStatement[] {
  return segments.map((s) =>
    db
      .prepare(
        `INSERT INTO segments (${COLUMNS}, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'live', ?)
         ON CONFLICT (key) DO NOTHING`,
      )
      .bind(...values(s, now)),
  );
}

export async function registerSegments(env: Env, segments: readonly CatalogSegment[]): Promise<void> {
  if (segments.length > 0) await env.CATALOG.batch(insertSegments(env.CATALOG, segments));
}

/** Live segments of a tenant, optionally of one kind, day or shard, in (date, shard, seq) order. */
export async function liveSegments(
  env: Env,
  tenant: string,
  filter: { kind?: SegmentKind; date?: string; shard?: number } = {},
): Promise<CatalogSegment[]> {
  const where = [`tenant = ?`, `state = 'live'`];
  const binds: (string | number)[] = [tenant];
  if (filter.kind) {
    where.push('kind = ?');
    binds.push(filter.kind);
  }
  if (filter.date) {
    where.push('date = ?');
    binds.push(filter.date);
  }
  if (filter.shard !== undefined) {
    where.push('shard = ?');
    binds.push(filter.shard);
  }
  const { results } = await env.CATALOG.prepare(
    `SELECT ${COLUMNS} FROM segments WHERE ${where.join(' AND ')} ORDER BY kind, date, shard, first_seq, key`,
  )
    .bind(...binds)
    .all<Row>();
  return results.map(fromRow);
}

/**
 * Replaces `retire` (all live) by `insert` in one transaction, or does nothing when any of
 * `retire` is no longer live (another compaction or a rebuild got there first). Answers whether
 * the swap happened. Readers see the old set or the new one, never both or neither.
 */
export async function swapSegments(env: Env, retire: readonly string[], insert: readonly CatalogSegment[]): Promise<boolean> {
  const now = Date.now();
  const olds = JSON.stringify(retire);
  const news = JSON.stringify(insert.map((s) => s.key));
  const liveCount = (param: string) =>
    `(SELECT count(*) FROM segments WHERE state = 'live' AND key IN (SELECT value FROM json_each(${param})))`;
  const statements = [
    // Inserted only while every segment to retire is live.
    ...insert.map((s) =>
      env.CATALOG.prepare(
        `INSERT INTO segments (${COLUMNS}, state, created_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 'live', ?15 WHERE ${liveCount('?16')} = ?17
         ON CONFLICT (key) DO UPDATE SET state = 'live', retired_at = NULL, replaced_by = NULL`,
      ).bind(...values(s, now), olds, retire.length),
    ),
    // Retired only when every replacement is live and every segment to retire still is.
    env.CATALOG.prepare(
      `UPDATE segments SET state = 'retired', retired_at = ?1, replaced_by = ?2
        WHERE state = 'live' AND key IN (SELECT value FROM json_each(?3)) AND ${liveCount('?3')} = ?4 AND ${liveCount('?5')} = ?6`,
    ).bind(now, insert.length === 1 ? insert[0]!.key : null, olds, retire.length, news, insert.length),
    env.CATALOG.prepare(`SELECT ${liveCount('?1')} AS olds, ${liveCount('?2')} AS news`).bind(olds, news),
  ];
  const results = await env.CATALOG.batch<{ olds: number; news: number }>(statements);
  const after = results[results.length - 1]?.results[0];
  return after?.olds === 0 && after.news === insert.length;
}

/** Retired segments whose grace period is over: their objects can go. */
export async function expiredSegments(env: Env, graceMs: number, limit = 100): Promise<string[]> {
  const { results } = await env.CATALOG.prepare(
    `SELECT key FROM segments WHERE state = 'retired' AND retired_at < ? AND key NOT IN
       (SELECT key FROM segments WHERE state = 'live') LIMIT ?`,
  )
    .bind(Date.now() - graceMs, limit)
    .all<{ key: string }>();
  return results.map((r) => r.key);
}

export async function markDeleted(env: Env, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  await env.CATALOG.prepare(`UPDATE segments SET state = 'deleted' WHERE state = 'retired' AND key IN (SELECT value FROM json_each(?))`)
    .bind(JSON.stringify(keys))
    .run();
}
