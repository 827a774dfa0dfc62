// The Worker script: the write-side and read-side apps behind one router, and the Durable Objects.

import { OpenAPIHono } from '@hono/zod-openapi';
import { swaggerUI } from '@hono/swagger-ui';
import { adminApp } from './workers/admin.js';
import type { App } from './workers/auth.js';
import { notFound, onError, refuseInvalid } from './workers/http.js';
import { ingestApp } from './workers/ingest.js';
import { globalApp } from './workers/global.js';
import { handleQueue } from './workers/queues.js';
import { metricsApp } from './workers/metrics.js';
import { queryApp } from './workers/query.js';
import { readApp } from './workers/read.js';
import { reducerApp } from './workers/reducers.js';
import { subscriptionApp } from './workers/subscriptions.js';
import { webhookApp } from './workers/webhooks.js';

export { Scanner } from './durable/scanner.js';
export { Shard } from './durable/shard.js';

const app = new OpenAPIHono<App>({ defaultHook: refuseInvalid });
app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', {
  type: 'http',
  scheme: 'bearer',
  description: 'An API key (esk_…) bound to one tenant, with scopes write, read, query, admin',
});
app.onError(onError);
app.notFound(notFound);

app.route('/', ingestApp);
app.route('/', readApp);
app.route('/', globalApp);
app.route('/', subscriptionApp);
app.route('/', queryApp);
app.route('/', metricsApp);
app.route('/', adminApp);
app.route('/', reducerApp);
app.route('/', webhookApp);

app.doc31('/openapi.json', {
  openapi: '3.1.0',
  info: {
    title: 'Edge event store',
    version: '1',
    description:
      'Immutable events in, an append-only log out. Errors are application/problem+json (RFC 9457). Every route but the webhooks takes `Authorization: Bearer <API key>`; a key is bound to one tenant and sees only its events.',
  },
  security: [{ apiKey: [] }],
});
app.get('/docs', swaggerUI({ url: '/openapi.json' }));
app.get('/', (c) => c.redirect('/docs'));

export default {
  fetch: app.fetch,
  queue: (batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext): Promise<void> => handleQueue(batch, env),
} satisfies ExportedHandler<Env>;
