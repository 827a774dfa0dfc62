// The Queue consumers' common handling: which step a queue drives, acknowledgement, retry, dead letters.

import type { StepMessage } from '../durable/shard.js';
import { compactPartition, rebuildShard, type MaintainMessage } from './maintain.js';
import { problemDocument } from '../engine/problem.js';
import { config } from '../config.js';
import { publishShard } from './publisher.js';
import { runStoredQuery } from './query.js';
import { loadTenant } from './tenant.js';
import { replicateShard } from './replicator.js';

export const QUEUES = {
  publish: 'event-store-publish',
  replicate: 'event-store-replicate',
  maintain: 'event-store-maintain',
  dead: 'event-store-dead',
} as const;

function isStepMessage(body: unknown): body is StepMessage {
  const m = body as Partial<StepMessage> | null;
  return typeof m?.tenant === 'string' && Number.isInteger(m.shard);
}

function isMaintainMessage(body: unknown): body is MaintainMessage {
  const m = body as { op?: unknown; tenant?: unknown; shard?: unknown; date?: unknown; id?: unknown } | null;
  if (typeof m?.tenant !== 'string') return false;
  if (m.op === 'query') return typeof m.id === 'string';
  if (!Number.isInteger(m.shard)) return false;
  return (m.op === 'compact' && typeof m.date === 'string') || m.op === 'rebuild';
}

function maintain(env: Env, m: MaintainMessage): Promise<unknown> {
  if (m.op === 'query') return loadTenant(env, m.tenant).then((tenant) => runStoredQuery(env, tenant, m.id));
  return m.op === 'compact' ? compactPartition(env, m) : rebuildShard(env, m);
}

/**
 * Runs each message's step: acknowledged when done, retried with backoff when it failed (the
 * runtime dead-letters it after max_retries; the shard's alarm re-drives the work anyway),
 * dropped with a log line when malformed, since no retry can make it well-formed.
 */
async function run<M>(batch: MessageBatch<unknown>, valid: (body: unknown) => body is M, step: (message: M) => Promise<unknown>) {
  for (const message of batch.messages) {
    if (!valid(message.body)) {
      console.error(JSON.stringify({ msg: 'malformed message dropped', queue: batch.queue, body: message.body }));
      message.ack();
      continue;
    }
    try {
      await step(message.body);
      message.ack();
    } catch (error) {
      console.error(
        JSON.stringify({
          msg: 'step failed, will retry',
          queue: batch.queue,
          body: message.body,
          attempt: message.attempts,
          error: String(error),
        }),
      );
      message.retry({ delaySeconds: Math.min(30, 2 ** message.attempts) });
    }
  }
}

/** Keeps what reached the dead-letter queue, for GET /v1/status. Never loses work: the alarms re-drive it. */
async function recordDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const now = Date.now();
  const statements = batch.messages.map((m) => {
    const body = m.body as (Partial<StepMessage> & { op?: unknown }) | null;
    const step = typeof body?.step === 'string' ? body.step : typeof body?.op === 'string' ? body.op : 'unknown';
    return env.CATALOG.prepare(
      `INSERT INTO dead_letters (id, step, tenant, shard, body, attempts, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO NOTHING`,
    ).bind(
      m.id,
      step,
      typeof body?.tenant === 'string' ? body.tenant : null,
      Number.isInteger(body?.shard) ? body!.shard! : null,
      JSON.stringify(m.body ?? null).slice(0, 10_000),
      m.attempts,
      now,
    );
  });
  // A background query that kept failing is answered `failed`, not left yellow for ever: pipeline
  // steps are re-driven by their shard, but nothing else would run the query again.
  for (const m of batch.messages) {
    const body = m.body as { op?: unknown; tenant?: unknown; id?: unknown } | null;
    if (body?.op !== 'query' || typeof body.tenant !== 'string' || typeof body.id !== 'string') continue;
    const problem = problemDocument(
      503,
      'internal',
      `the query failed ${m.attempts} times without an answer (an internal error, logged); run it again, or narrow it`,
    );
    statements.push(
      env.CATALOG.prepare(
        `UPDATE queries SET status = 'failed', finished_at = ?, expires_at = ?, error = ? WHERE id = ? AND tenant = ? AND status = 'yellow'`,
      ).bind(now, now + config(env).query.resultTtlMs, JSON.stringify(problem), body.id, body.tenant),
    );
  }
  await env.CATALOG.batch(statements);
  for (const m of batch.messages) {
    console.error(JSON.stringify({ msg: 'message dead-lettered', id: m.id, body: m.body }));
    m.ack();
  }
}

export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  switch (batch.queue) {
    case QUEUES.publish:
      return run(batch, isStepMessage, (m) => publishShard(env, m));
    case QUEUES.replicate:
      return run(batch, isStepMessage, (m) => replicateShard(env, m));
    case QUEUES.maintain:
      return run(batch, isMaintainMessage, (m) => maintain(env, m));
    case QUEUES.dead:
      return recordDeadLetters(batch, env);
    default:
      console.error(JSON.stringify({ msg: 'batch from an unknown queue retried', queue: batch.queue }));
      batch.retryAll();
  }
}
