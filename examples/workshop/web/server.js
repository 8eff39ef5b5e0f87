// The workshop's web front: the pages a shopper's journey touches (browse,
// cart, checkout), each calling the orders API. Under `traffic-spike` every
// page also fetches the product list again, as a page with a chatty widget
// would. `web.journeys` counts pages by journey and outcome; each request
// logs one record, correlated with its trace by the SDK.
'use strict';

const express = require('express');
const { metrics, trace, SpanStatusCode } = require('@opentelemetry/api');
const { logs, SeverityNumber } = require('@opentelemetry/api-logs');
const scenario = require('./scenario');

const ORDERS = process.env.ORDERS_URL || 'http://orders:8080';
const PORT = Number(process.env.PORT || 8080);
const meter = metrics.getMeter('workshop.web');
const journeys = meter.createCounter('web.journeys', { unit: '{journey}', description: 'Pages served, by journey and outcome' });
const logger = logs.getLogger('workshop.web');
// every series exists at 0 from the start, so the first page shows in increase()
for (const journey of ['browse', 'cart', 'checkout']) {
  for (const outcome of ['ok', 'error']) journeys.add(0, { journey, outcome });
}

function log(severityNumber, severityText, body, attributes = {}) {
  logger.emit({ severityNumber, severityText, body, attributes });
}

async function call(method, path, body) {
  const res = await fetch(`${ORDERS}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  if (!res.ok) {
    const err = new Error(`orders API answered ${res.status} to ${method} ${path}: ${text.slice(0, 200)}`);
    err.status = res.status;
    throw err;
  }
  return JSON.parse(text);
}

function page(journey, handler) {
  return async (req, res) => {
    try {
      if (scenario.active() === 'traffic-spike') await call('GET', '/products');
      const out = await handler(req);
      journeys.add(1, { journey, outcome: 'ok' });
      log(SeverityNumber.INFO, 'INFO', `${journey} ok`, { 'workshop.journey': journey });
      res.json(out);
    } catch (err) {
      const span = trace.getActiveSpan();
      span?.recordException(err);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      journeys.add(1, { journey, outcome: 'error' });
      log(SeverityNumber.ERROR, 'ERROR', `${journey} failed: ${err.message}`, { 'workshop.journey': journey });
      res.status(502).json({ error: err.message });
    }
  };
}

const app = express();
app.use(express.json());
app.get('/healthz', (_req, res) => res.json({ status: 'ok', scenario: scenario.active() }));
app.get('/', page('browse', () => call('GET', '/products')));
app.post('/cart', page('cart', (req) => call('POST', '/cart', item(req))));
app.post('/checkout', page('checkout', (req) => call('POST', '/orders', item(req))));

function item(req) {
  const b = req.body || {};
  return { product_id: Number(b.product_id || 1), quantity: Number(b.quantity || 1) };
}

app.listen(PORT, () => console.log(`workshop web on :${PORT}, orders at ${ORDERS}`));
