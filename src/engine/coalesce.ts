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

/** A queued request's claim on its answer. */
export interface Ticket<Res> {
  outcome?: Outcome<Res>;
}

interface Entry<Req, Res> extends Ticket<Res> {
  request: Req;
}

/** What `settle` needs of a coalescer. */
export interface Leader {
  tryLead(): Promise<void> | null;
  readonly pollMs: number;
  readonly maxPollMs: number;
}

/** The answer of a settled ticket, or the error of its call. */
export function unwrap<Res>(ticket: Ticket<Res>): Res {
  if (!ticket.outcome) throw new Error('ticket not settled');
  if (!ticket.outcome.ok) throw ticket.outcome.error;
  return ticket.outcome.value;
}

/**
 * Waits until every ticket has its outcome, from the caller's own context: whenever a ticket's
 * coalescer has room, the caller leads its next call (all such calls at once); otherwise it looks
 * again after a pause (`pollMs`, doubling up to `maxPollMs`). One loop serves all the tickets of a
 * request, so a request writing to many shards wakes once per pause, not once per shard.
 */
export async function settle(tickets: { coalescer: Leader; ticket: Ticket<unknown> }[]): Promise<void> {
  let poll = Math.min(...tickets.map((t) => t.coalescer.pollMs));
  const maxPoll = Math.min(...tickets.map((t) => t.coalescer.maxPollMs));
  for (;;) {
    const open = tickets.filter((t) => !t.ticket.outcome);
    if (open.length === 0) return;
    const calls = [...new Set(open.map((t) => t.coalescer))].map((c) => c.tryLead()).filter((p) => p !== null);
    if (calls.length > 0) {
      await Promise.all(calls);
      continue;
    }
    await sleep(poll);
    poll = Math.min(poll * 2, maxPoll);
  }
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
export class Coalescer<Req, Res> implements Leader {
  private readonly waiting: Entry<Req, Res>[] = [];
  private inFlight = 0;

  constructor(
    private readonly send: (requests: Req[]) => Promise<Res[]>,
    private readonly options: CoalescerOptions<Req>,
  ) {}

  /** Queues a request; its answer comes through `settle`. */
  enqueue(request: Req): Ticket<Res> {
    const entry: Entry<Req, Res> = { request };
    this.waiting.push(entry);
    return entry;
  }

  /** Queues one request and waits for its answer. */
  async submit(request: Req): Promise<Res> {
    const ticket = this.enqueue(request);
    await settle([{ coalescer: this, ticket }]);
    return unwrap(ticket);
  }

  /** Makes the next call if there is room and work: from the caller's context, as its leader. */
  tryLead(): Promise<void> | null {
    if (this.inFlight >= this.options.maxInFlight || this.waiting.length === 0) return null;
    this.inFlight++;
    return (async () => {
      try {
        if (this.options.lingerMs > 0) await sleep(this.options.lingerMs);
        await this.run(this.takeBatch());
      } finally {
        this.inFlight--;
      }
    })();
  }

  get pollMs(): number {
    return this.options.pollMs;
  }

  get maxPollMs(): number {
    return this.options.maxPollMs;
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
