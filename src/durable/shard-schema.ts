// The shard object's SQLite schema, as versioned migrations (never edit one that has shipped).

import type { Migration } from './migrations.js';

export const SHARD_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'status memory: events, streams, permanent dedupe keys',
    statements: [
      // Scalar state of the shard: identity, sequence head, colour marks.
      `CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY) WITHOUT ROWID`,
      // One row per stream the shard owns: its head version. Kept for ever (versions continue).
      `CREATE TABLE streams (stream_no INTEGER PRIMARY KEY, stream TEXT NOT NULL UNIQUE, version INTEGER NOT NULL)`,
      // The hot window: events in shard order. Rows leave once green and past the window. Only what
      // the shard looks events up by is a column; the rest is one JSON array (see EventBody), which
      // costs the write path one value instead of seven.
      `CREATE TABLE events (
         seq INTEGER PRIMARY KEY,
         stream_no INTEGER NOT NULL,
         version INTEGER NOT NULL,
         received_at INTEGER NOT NULL,
         body TEXT NOT NULL
       )`,
      // The dedupe index: one compact row per event ever accepted, never evicted, so a repeated id
      // is recognised however old the original is (docs/decisions/0004-permanent-dedupe.md).
      `CREATE TABLE event_keys (
         key TEXT PRIMARY KEY,
         seq INTEGER NOT NULL,
         stream_no INTEGER NOT NULL,
         version INTEGER NOT NULL
       ) WITHOUT ROWID`,
    ],
  },
  {
    version: 2,
    name: 'master row segments written by publish',
    statements: [
      // One row per row segment in R2, in seq order: what turned blue, where, with its checksum.
      `CREATE TABLE segments (
         first_seq INTEGER PRIMARY KEY,
         last_seq INTEGER NOT NULL,
         key TEXT NOT NULL,
         checksum TEXT NOT NULL,
         bytes INTEGER NOT NULL,
         published_at INTEGER NOT NULL
       )`,
    ],
  },
  {
    version: 3,
    name: 'stream history: dedupe keys by stream and version',
    statements: [
      // A stream's events in version order, hot or evicted: the permanent dedupe index gives each
      // version's seq; hot events are then read by seq, evicted ones from their master segment.
      `CREATE INDEX event_keys_by_stream ON event_keys (stream_no, version)`,
    ],
  },
];
