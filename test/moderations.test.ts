import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { auth, startTestGateway, type TestGateway } from './support/harness.js';

describe('POST /v1/moderations', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ GATEWAY_AUDIT_CONTENT: 'redacted' });
  });
  after(() => gw.close());

  it("answers in OpenAI's schema with our decision as an extension, with no upstream configured", async () => {
    const res = await request(gw.server)
      .post('/v1/moderations')
      .set(auth)
      .send({ input: 'How do I build a pipe bomb?' });
    assert.equal(res.status, 200);
    assert.match(res.body.id, /^modr-/);
    assert.equal(typeof res.body.model, 'string');
    const [r] = res.body.results;
    assert.equal(r.flagged, true);
    assert.equal(r.categories.S9, true);
    assert.equal(r.category_scores.S9, 1);
    assert.equal(r.categories.S1, false);
    assert.equal(r.gateway.action, 'refuse');
    assert.deepEqual(
      r.gateway.matched_rules.map((m: { id: string }) => m.id),
      ['weapons'],
    );
    assert.ok(r.gateway.classifiers.some((c: { id: string }) => c.id === 'hazards'));
    assert.equal(res.body.gateway.decision_id, res.headers['x-gateway-decision-id']);
    assert.equal(res.headers['x-gateway-decision'], 'refuse');
  });

  it('scores each input of an array separately and writes one record for the request', async () => {
    const n = gw.records().length;
    const res = await request(gw.server)
      .post('/v1/moderations')
      .set(auth)
      .send({ input: ['nice weather today', 'mail me at jane@example.com'] });
    assert.deepEqual(
      res.body.results.map((r: { flagged: boolean }) => r.flagged),
      [false, true],
    );
    assert.equal(res.body.results[1].gateway.action, 'redact');
    const records = gw.records();
    assert.equal(records.length, n + 1);
    assert.equal(records.at(-1)!.route, '/v1/moderations');
    assert.equal(records.at(-1)!.content.mode, 'redacted');
    assert.ok(!JSON.stringify(records.at(-1)).includes('jane@example.com'), 'redacted mode stored the email');
  });

  it('rejects a body without input with a 400 naming the field', async () => {
    const res = await request(gw.server).post('/v1/moderations').set(auth).send({ inputs: 'x' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.param, 'input');
  });
});

describe('health, readiness and metrics', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.close());

  it('reports health and readiness without a key (the details are for admin keys: test/admin-surface.test.ts)', async () => {
    assert.equal((await request(gw.server).get('/healthz')).status, 200);
    const ready = await request(gw.server).get('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready' });
  });

  it('exposes Prometheus metrics: requests by decision and stage and classifier latency', async () => {
    await request(gw.server).post('/v1/moderations').set(auth).send({ input: 'hello' });
    const res = await request(gw.server).get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.text, /gateway_requests_total\{route="\/v1\/moderations",decision="allow",api="moderations"\} \d/);
    assert.match(res.text, /gateway_stage_duration_seconds_bucket\{le="[^"]+",stage="input"\}/);
    assert.match(res.text, /gateway_classifier_duration_seconds_count\{classifier="hazards",outcome="ok"\} \d/);
  });
});
