import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/engine/coalesce.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('Coalescer', () => {
  it('sends the first request at once and combines those that arrive while it is under way', async () => {
    const calls: number[][] = [];
    const gates: ReturnType<typeof deferred<void>>[] = [];
    const c = new Coalescer<number, number>(
      async (reqs) => {
        calls.push(reqs);
        const gate = deferred<void>();
        gates.push(gate);
        await gate.promise;
        return reqs.map((r) => r * 10);
      },
      { maxInFlight: 1, maxWeight: 100, weigh: () => 1, lingerMs: 0, pollMs: 1, maxPollMs: 1 },
    );
    const first = c.submit(1);
    const rest = [2, 3, 4].map((n) => c.submit(n));
    await tick();
    expect(calls).toEqual([[1]]);
    expect(c.load).toEqual({ waiting: 3, inFlight: 1 });
    gates[0]!.resolve();
    expect(await first).toBe(10);
    await tick();
    expect(calls).toEqual([[1], [2, 3, 4]]);
    gates[1]!.resolve();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
    expect(c.load).toEqual({ waiting: 0, inFlight: 0 });
  });

  it('caps what one call carries by weight, but always sends an oversized request alone', async () => {
    const calls: number[][] = [];
    const c = new Coalescer<number, number>(
      async (reqs) => {
        calls.push(reqs);
        await new Promise((r) => setTimeout(r, 1));
        return reqs;
      },
      { maxInFlight: 1, maxWeight: 10, weigh: (n) => n, lingerMs: 0, pollMs: 1, maxPollMs: 1 },
    );
    await Promise.all([1, 4, 5, 3, 20, 2].map((n) => c.submit(n)));
    expect(calls).toEqual([[1], [4, 5], [3], [20], [2]]);
  });

  it('fails every request of a call that throws, and carries on with the next', async () => {
    let n = 0;
    const c = new Coalescer<string, string>(
      async (reqs) => {
        await new Promise((r) => setTimeout(r, 1));
        if (n++ === 1) throw new Error('shard down');
        return reqs;
      },
      { maxInFlight: 1, maxWeight: 100, weigh: () => 1, lingerMs: 0, pollMs: 1, maxPollMs: 1 },
    );
    const a = c.submit('a');
    const b = c.submit('b');
    const cc = c.submit('c');
    expect(await a).toBe('a');
    await expect(b).rejects.toThrow('shard down');
    await expect(cc).rejects.toThrow('shard down');
    expect(await c.submit('d')).toBe('d');
  });

  it('makes each call from the async context of a request still waiting for its own answer', async () => {
    const context = new AsyncLocalStorage<string>();
    const answered = new Set<string>();
    const callers: (string | undefined)[] = [];
    const c = new Coalescer<string, string>(
      async (reqs) => {
        const caller = context.getStore();
        callers.push(caller);
        expect(caller).toBeDefined();
        expect(answered.has(caller!)).toBe(false); // its own request is alive until this call ends
        await new Promise((r) => setTimeout(r, 2));
        return reqs;
      },
      { maxInFlight: 1, maxWeight: 3, weigh: () => 1, lingerMs: 0, pollMs: 1, maxPollMs: 1 },
    );
    const names = Array.from({ length: 10 }, (_, i) => `r${i}`);
    const results = await Promise.all(names.map((n) => context.run(n, () => c.submit(n).finally(() => answered.add(n)))));
    expect(results).toEqual(names);
    expect(callers.length).toBeGreaterThan(2);
    expect(callers.length).toBeLessThan(10); // requests were combined
  });

  it('refuses a send that answers the wrong number of results', async () => {
    const c = new Coalescer<number, number>(async () => [], {
      maxInFlight: 1,
      maxWeight: 1,
      weigh: () => 1,
      lingerMs: 0,
      pollMs: 1,
      maxPollMs: 1,
    });
    await expect(c.submit(1)).rejects.toThrow(/got 0 results/);
  });
});
