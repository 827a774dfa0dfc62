// The master row segment: the compact, checksummed, append-only format of the master store in R2.
//
// Layout (UTF-8 text, then gzip):
//   line 1: a JSON header  {"format":"esr1","tenant":…,"shard":…,"firstSeq":…,"lastSeq":…,"count":…}
//   then one line per event, in seq order, a JSON array:
//     [seq, id, stream, version, type, source, subject, time, receivedAt, data]
//   `time` and `receivedAt` are epoch milliseconds; `data` is the event's JSON value.
// The SHA-256 of the uncompressed text is the segment's checksum: stored beside the object (R2
// metadata, catalog) and checked on every read. Keys are deterministic from tenant, shard and first
// seq, so a retried publish writes the same object again.

export const ROW_SEGMENT_FORMAT = 'esr1';

export interface SegmentHeader {
  format: typeof ROW_SEGMENT_FORMAT;
  tenant: string;
  shard: number;
  firstSeq: number;
  lastSeq: number;
  count: number;
}

/** One event as the master store keeps it. */
export interface MasterRow {
  seq: number;
  id: string;
  stream: string;
  version: number;
  type: string;
  source: string | null;
  subject: string | null;
  time: number;
  receivedAt: number;
  /** The data value as JSON text. */
  data: string;
}

/** The R2 key of a shard's row segment starting at `firstSeq`; sorts in seq order. */
export function rowSegmentKey(tenant: string, shard: number, firstSeq: number): string {
  return `master/tenant=${encodeURIComponent(tenant)}/shard=${shard}/${String(firstSeq).padStart(16, '0')}.esr1.gz`;
}

/** Encodes rows (consecutive seqs from firstSeq) as the uncompressed segment text. */
export function encodeRowSegment(tenant: string, shard: number, rows: readonly MasterRow[]): string {
  if (rows.length === 0) throw new RangeError('a segment holds at least one event');
  const firstSeq = rows[0]!.seq;
  rows.forEach((r, i) => {
    if (r.seq !== firstSeq + i) throw new RangeError(`row ${i} has seq ${r.seq}, expected ${firstSeq + i}: a segment is a gap-free range`);
  });
  const header: SegmentHeader = {
    format: ROW_SEGMENT_FORMAT,
    tenant,
    shard,
    firstSeq,
    lastSeq: firstSeq + rows.length - 1,
    count: rows.length,
  };
  const lines = [JSON.stringify(header)];
  for (const r of rows) {
    lines.push(
      `${JSON.stringify([r.seq, r.id, r.stream, r.version, r.type, r.source, r.subject, r.time, r.receivedAt]).slice(0, -1)},${r.data}]`,
    );
  }
  return lines.join('\n') + '\n';
}

/** A segment that does not decode: corrupt, truncated or of another format. */
export class SegmentError extends Error {
  override name = 'SegmentError';
}

/**
 * The row's `data` as it was written: cut out of the line (whose first nine fields are written by
 * JSON.stringify, so their text is known) rather than serialized again from the parsed value, which
 * would round integers beyond 2^53.
 */
function dataText(line: string, a: readonly unknown[]): string {
  const prefix = `${JSON.stringify(a.slice(0, 9)).slice(0, -1)},`;
  return line.startsWith(prefix) && line.endsWith(']') ? line.slice(prefix.length, -1) : JSON.stringify(a[9]);
}

/** Decodes segment text, checking the header against the rows; errors name what disagrees. */
export function decodeRowSegment(text: string): { header: SegmentHeader; rows: MasterRow[] } {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let header: SegmentHeader;
  try {
    header = JSON.parse(lines[0] ?? '') as SegmentHeader;
  } catch {
    throw new SegmentError('segment header is not JSON');
  }
  if (header.format !== ROW_SEGMENT_FORMAT)
    throw new SegmentError(`segment format "${String(header.format)}" is not ${ROW_SEGMENT_FORMAT}`);
  if (lines.length - 1 !== header.count) throw new SegmentError(`segment header says ${header.count} rows, body has ${lines.length - 1}`);
  const rows = lines.slice(1).map((line, i): MasterRow => {
    let a: [number, string, string, number, string, string | null, string | null, number, number, unknown];
    try {
      a = JSON.parse(line) as typeof a;
    } catch {
      throw new SegmentError(`segment row ${i} is not JSON`);
    }
    if (a[0] !== header.firstSeq + i) throw new SegmentError(`segment row ${i} has seq ${a[0]}, expected ${header.firstSeq + i}`);
    return {
      seq: a[0],
      id: a[1],
      stream: a[2],
      version: a[3],
      type: a[4],
      source: a[5],
      subject: a[6],
      time: a[7],
      receivedAt: a[8],
      data: dataText(line, a),
    };
  });
  if (rows.length > 0 && rows[rows.length - 1]!.seq !== header.lastSeq) {
    throw new SegmentError(`segment header says last seq ${header.lastSeq}, last row has ${rows[rows.length - 1]!.seq}`);
  }
  return { header, rows };
}

const encoder = new TextEncoder();

/** SHA-256 of the segment text, lower-case hex: the checksum the master store keeps. */
export async function segmentChecksum(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function pipe(bytes: Uint8Array, transform: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(transform);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function gzip(text: string): Promise<Uint8Array> {
  return pipe(encoder.encode(text), new CompressionStream('gzip'));
}

export async function gunzip(bytes: Uint8Array): Promise<string> {
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(await pipe(bytes, new DecompressionStream('gzip')));
}
