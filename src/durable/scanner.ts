// A scan sub-request: reads replica segments from R2 and answers their partial results, one per
// segment (so the coordinator can cache each). Holds no state; one object per (tenant, slot), so a
// query's scans run in as many objects as it has sub-requests (docs/decisions/0014-query-fan-out.md).

import { DurableObject } from 'cloudflare:workers';
import type { QuerySpec } from '../engine/query/ast.js';
import { scanSegments, type ScanLimits, type ScanReply, type SegmentScan } from '../workers/scan.js';

export class Scanner extends DurableObject<Env> {
  /** Scans `segments` of `tenant` for `spec`; see scanSegments. */
  scan(tenant: string, spec: QuerySpec, segments: SegmentScan[], limits: ScanLimits): Promise<ScanReply> {
    return scanSegments(this.env, tenant, spec, segments, limits);
  }
}
