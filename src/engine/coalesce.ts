// Group commit at the caller: concurrent requests for one target share one call.

export interface CoalescerOptions<Req> {
  /** Calls at once per target; further requests wait and ride together in the next call. */
  maxInFlight: number;
  /** Cap on what one call carries (e.g. events), so a call stays within RPC and statement limits. */
  maxWeight: number;
  weigh: (request: Req) => number;
  /**
   * How long the leader of a call waits before taking its batch, so that requests arriving
   * meanwhile ride along (0: at once). Worth it where a call has a high fixed cost, as a Durable
   * Object RPC has; the wait is paid once per call, not per request.
   */
  lingerMs: number;
  /**
   * How often a waiting request looks whether its answer came or it may lead the next call: first
   * after `pollMs`, then twice as long each time up to `maxPollMs`, so that long waits cost few
   * wake-ups.
   */
  pollMs: number;
  maxPollMs: number;
}

type Outcome<Res> = { ok: true; value: Res } | { ok: false; error: unknown };

interface Entry<Req, Res> {
  request: Req;
  outcome?: Outcome<Res>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends requests through `send`, combining those that wait while `maxInFlight` calls are under
 * way into one call. `send` answers one result per request, in order; if it throws, every request
 * of that call fails.
 *
 * Why waiters poll instead of awaiting a promise the leader resolves: in Workers, I/O belongs to
 * the request that started it, and a continuation runs in the context of whoever resolved the
 * promise. So no request may resolve another's promise or make a call for it after it has ended:
 * each call is made by a waiting request from its own context (the leader), the leader only
 * stores plain outcomes, and each waiter picks its outcome up on its own timer.
 */
export class Coalescer<Req, Res> {
  private readonly waiting: Entry<Req, Res>[] = [];
  private inFlight = 0;

  constructor(
    private readonly send: (requests: Req[]) => Promise<Res[]>,
    private readonly options: CoalescerOptions<Req>,
  ) {}

  async submit(request: Req): Promise<Res> {
    const entry: Entry<Req, Res> = { request };
    this.waiting.push(entry);
    let poll = this.options.pollMs;
    for (;;) {
      if (entry.outcome) {
        if (entry.outcome.ok) return entry.outcome.value;
        throw entry.outcome.error;
      }
      if (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
        this.inFlight++;
        try {
          if (this.options.lingerMs > 0) await sleep(this.options.lingerMs);
          await this.run(this.takeBatch());
        } finally {
          this.inFlight--;
        }
        continue;
      }
      await sleep(poll);
      poll = Math.min(poll * 2, this.options.maxPollMs);
    }
  }

  /** Requests queued and calls under way: for tests and metrics. */
  get load(): { waiting: number; inFlight: number } {
    return { waiting: this.waiting.length, inFlight: this.inFlight };
  }

  /** Takes waiting requests in order while the weight cap allows (at least one). */
  private takeBatch(): Entry<Req, Res>[] {
    const batch: Entry<Req, Res>[] = [];
    let weight = 0;
    while (this.waiting.length > 0) {
      const w = this.options.weigh(this.waiting[0]!.request);
      if (batch.length > 0 && weight + w > this.options.maxWeight) break;
      batch.push(this.waiting.shift()!);
      weight += w;
    }
    return batch;
  }

  private async run(batch: Entry<Req, Res>[]): Promise<void> {
    if (batch.length === 0) return;
    try {
      const results = await this.send(batch.map((e) => e.request));
      if (results.length !== batch.length) throw new Error(`sent ${batch.length} requests, got ${results.length} results`);
      batch.forEach((e, i) => (e.outcome = { ok: true, value: results[i]! }));
    } catch (error) {
      for (const e of batch) e.outcome = { ok: false, error };
    }
  }
}
