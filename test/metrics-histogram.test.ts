import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import client from 'prom-client';
import { LatencyHistogram } from '../gateway/http/histogram.js';

const buckets = [0.001, 0.01, 0.1, 1];
// On, just above and between bounds, past the last one, and values Prometheus cannot take.
const values = [0, 0.001, 0.0010001, 0.05, 0.1, 0.7, 1, 3, 42, Number.NaN, Number.POSITIVE_INFINITY];

/** prom-client's own histogram, as the reference; it throws on a non-finite value, ours skips it. */
async function reference(observations: Array<[Record<string, string>, number]>) {
  const registry = new client.Registry();
  const h = new client.Histogram({
    name: 'x_seconds',
    help: 'X',
    labelNames: ['stage'],
    buckets,
    registers: [registry],
  });
  for (const [labels, v] of observations) if (Number.isFinite(v)) h.observe(labels, v);
  return registry.metrics();
}

describe('LatencyHistogram', () => {
  it('exports exactly what a prom-client histogram exports for the same observations', async () => {
    const registry = new client.Registry();
    const h = new LatencyHistogram(registry, { name: 'x_seconds', help: 'X', buckets });
    const input = h.series({ stage: 'input' });
    const output = h.series({ stage: 'output' });
    const observations: Array<[Record<string, string>, number]> = [];
    for (const v of values) {
      input(v);
      observations.push([{ stage: 'input' }, v]);
    }
    output(0.02);
    observations.push([{ stage: 'output' }, 0.02]);
    assert.equal(await registry.metrics(), await reference(observations));
  });

  it('gives the same series for the same labels, and reset zeroes it without breaking observers', async () => {
    const registry = new client.Registry();
    const h = new LatencyHistogram(registry, { name: 'x_seconds', help: 'X', buckets });
    const a = h.series({ stage: 'input' });
    h.series({ stage: 'input' })(0.5);
    a(0.5);
    assert.match(await registry.metrics(), /x_seconds_count\{stage="input"\} 2/);
    registry.resetMetrics();
    a(2);
    const text = await registry.metrics();
    assert.match(text, /x_seconds_count\{stage="input"\} 1/);
    assert.match(text, /x_seconds_bucket\{le="1",stage="input"\} 0/);
    assert.match(text, /x_seconds_sum\{stage="input"\} 2/);
  });

  it('refuses a second metric of the same name in a registry, as prom-client does', () => {
    const registry = new client.Registry();
    new LatencyHistogram(registry, { name: 'x_seconds', help: 'X', buckets });
    assert.throws(
      () => new client.Counter({ name: 'x_seconds', help: 'Y', registers: [registry] }),
      /already been registered/,
    );
  });
});
