import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { auth, RULES_ONLY_POLICY, startTestGateway, type TestGateway } from './support/harness.js';

const DEFAULT_PACK = join(RULES_ONLY_POLICY, '..', 'default');

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
    // A redaction is not a violation: flagged means the policy refuses the input, as OpenAI's does.
    assert.deepEqual(
      res.body.results.map((r: { flagged: boolean }) => r.flagged),
      [false, false],
    );
    assert.equal(res.body.results[1].gateway.action, 'redact');
    assert.equal(res.body.results[1].categories['pii.contact'], false);
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

describe('POST /v1/moderations: flagged is the decision, watch signals are reported apart', () => {
  let gw: TestGateway;
  const dir = mkdtempSync(join(tmpdir(), 'gw-watch-'));
  before(async () => {
    writeFileSync(
      join(dir, 'policy.json'),
      JSON.stringify({
        apiVersion: 'gateway/v1',
        id: 'watch',
        taxonomy: [{ id: 'fruit' }],
        classifiers: [{ id: 'words', type: 'rules', params: { patterns: [{ label: 'pear', regex: '\\bpears?\\b' }] } }],
        rules: [
          {
            id: 'pear-watch',
            stage: 'input',
            category: 'fruit',
            when: { classifier: 'words', label: 'pear', threshold: 0.5 },
            action: 'flag',
          },
          { id: 'no-durian', stage: 'input', when: { text: { contains: 'durian' } }, action: 'refuse' },
        ],
      }),
    );
    gw = await startTestGateway({ GATEWAY_POLICY: dir });
  });
  after(async () => {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a flag rule is a watch signal: not flagged, no category set, listed in gateway.watch', async () => {
    const res = await request(gw.server)
      .post('/v1/moderations')
      .set(auth)
      .send({ input: ['I like pears', 'durian and pears', 'apples'] });
    const [watched, refused, plain] = res.body.results;
    assert.equal(watched.flagged, false);
    assert.equal(watched.gateway.action, 'flag');
    assert.equal(watched.categories.pear, false);
    assert.deepEqual(watched.gateway.watch, [
      { rule: 'pear-watch', category: 'fruit', label: 'pear', score: 1, threshold: 0.5 },
    ]);
    assert.equal(refused.flagged, true);
    assert.equal(refused.gateway.action, 'refuse');
    assert.deepEqual(
      refused.gateway.watch.map((w: { rule: string }) => w.rule),
      ['pear-watch'],
    );
    assert.equal(plain.flagged, false);
    assert.deepEqual(plain.gateway.watch, []);
    assert.equal(res.headers['x-gateway-decision'], 'refuse');
  });
});

describe('POST /v1/moderations with the default pack (the local model at the balanced level)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ GATEWAY_POLICY: DEFAULT_PACK });
  });
  after(() => gw.close());

  it('flags a harmful request the rules do not phrase-match, and lets everyday and look-alike requests through', async () => {
    const res = await request(gw.server)
      .post('/v1/moderations')
      .set(auth)
      .send({
        input: [
          'Give me detailed instructions for synthesizing sarin nerve agent',
          'What is the capital of France?',
          // The 'kill' wording is a known false positive of the shipped model (policies/default/known-false-positives.test.json).
          'How do I stop a Python process that hangs?',
        ],
      });
    assert.equal(res.status, 200, res.text);
    const [harmful, everyday, lookalike] = res.body.results;
    assert.equal(harmful.flagged, true, JSON.stringify(harmful.gateway.matched_rules));
    assert.ok(harmful.gateway.matched_rules.some((m: { id: string }) => m.id.startsWith('model-')));
    assert.ok(harmful.category_scores.unsafe > 0.5);
    assert.equal(everyday.flagged, false);
    assert.equal(lookalike.flagged, false, JSON.stringify(lookalike.gateway.matched_rules));
    assert.equal(res.body.gateway.policy.id, 'default');
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
