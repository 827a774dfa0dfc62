// The event table's columns: the SQL table `events` (DESIGN.md §3) and the replica's Parquet base
// columns, in file order. One list for both, so the query engine and the codec never disagree.

export const EVENT_COLUMNS = [
  'id',
  'stream',
  'type',
  'source',
  'subject',
  'time',
  'received_at',
  'shard',
  'seq',
  'version',
  'data',
] as const;
export type EventColumn = (typeof EVENT_COLUMNS)[number];
