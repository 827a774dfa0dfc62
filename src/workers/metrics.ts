// GET /metrics: the tenant's colours, lag, dead letters and catalog in Prometheus text format, for
// a scraper holding a `read` key (the same figures as GET /v1/status, plus the segments).

import { Hono } from 'hono';
import { COLOURS } from '../engine/colour.js';
import { formatMetrics, type Family } from '../engine/prometheus.js';
import { requireScope, type App } from './auth.js';
import { tenantStatus } from './read.js';
import { tenantOf } from './tenant.js';

export const metricsApp = new Hono<App>();
metricsApp.use('/metrics', requireScope('read'));

metricsApp.get('/metrics', async (c) => {
  const tenant = tenantOf(c);
  const [status, segments] = await Promise.all([
    tenantStatus(c.env, tenant),
    c.env.CATALOG.prepare(
      `SELECT kind, count(*) AS n, sum(bytes) AS bytes, sum(rows) AS rows FROM segments WHERE tenant = ? AND state = 'live' GROUP BY kind`,
    )
      .bind(tenant.id)
      .all<{ kind: string; n: number; bytes: number; rows: number }>(),
  ]);
  const t = { tenant: tenant.id };
  const perShard = (pick: (s: (typeof status.shards)[number]) => number | null) =>
    status.shards.flatMap((s) => {
      const v = pick(s);
      return v === null ? [] : [{ labels: { ...t, shard: s.shard }, value: v }];
    });
  const families: Family[] = [
    {
      name: 'eventstore_events',
      help: 'Events by colour: grey accepted, blue in the master store, green queryable, red evicted from the shard object',
      type: 'gauge',
      samples: status.shards.flatMap((s) =>
        COLOURS.map((colour) => ({ labels: { ...t, shard: s.shard, colour }, value: s.counts[colour] ?? 0 })),
      ),
    },
    { name: 'eventstore_head_seq', help: 'Last sequence number a shard assigned', type: 'counter', samples: perShard((s) => s.headSeq) },
    { name: 'eventstore_hot_events', help: 'Events held in the shard object', type: 'gauge', samples: perShard((s) => s.hotEvents) },
    {
      name: 'eventstore_publish_lag_seconds',
      help: 'Age of the oldest event not yet in the master store (0 when none is grey)',
      type: 'gauge',
      samples: perShard((s) => (s.lag.greyMs ?? 0) / 1000),
    },
    {
      name: 'eventstore_replicate_lag_seconds',
      help: 'Age of the oldest event in the master store but not yet queryable (0 when none is blue)',
      type: 'gauge',
      samples: perShard((s) => (s.lag.blueMs ?? 0) / 1000),
    },
    {
      name: 'eventstore_dead_letters',
      help: 'Pipeline messages that kept failing (the shards re-drive the work regardless)',
      type: 'gauge',
      samples: [{ labels: t, value: status.deadLetters.count }],
    },
    {
      name: 'eventstore_segments',
      help: 'Live segments in the catalog, by kind (master row segments, replica Parquet)',
      type: 'gauge',
      samples: segments.results.map((r) => ({ labels: { ...t, kind: r.kind }, value: r.n })),
    },
    {
      name: 'eventstore_segment_bytes',
      help: 'Bytes of the live segments, by kind',
      type: 'gauge',
      samples: segments.results.map((r) => ({ labels: { ...t, kind: r.kind }, value: r.bytes })),
    },
  ];
  return c.body(formatMetrics(families), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
});
