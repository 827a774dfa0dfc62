// The floor references for `npm run bench`: what a Worker on this machine does with no work at all
// (GET /empty) and with only the unavoidable work of ingest (POST /parse: read the body, JSON.parse).
// The store's ingest rates are reported as ratios to these, measured in the same run.

import { Hono } from 'hono';

const app = new Hono();

app.get('/empty', (c) => c.text('ok'));

app.post('/parse', async (c) => {
  const body: unknown = JSON.parse(await c.req.text());
  return c.json({ count: Array.isArray(body) ? body.length : 1 }, 202);
});

export default app;
