import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { auth, chat, eventually } from '../support/harness.js';
import { ADMIN_KEY, consolePolicy, startConsoleGateway, type ConsoleGateway } from './fixture.js';

const admin = { authorization: `Bearer ${ADMIN_KEY}` };

describe('console admin endpoints', () => {
  let c: ConsoleGateway;
  let agent: ReturnType<typeof request.agent>;
  let csrf = '';
  before(async () => {
    c = await startConsoleGateway();
    for (const p of ['hello there', 'tell me about the apple', 'a pear please', '<script>alert(1)</script>'])
      await request(c.gw.server).post('/v1/chat/completions').set(auth).send(chat(p)).expect(200);
    await eventually(() => c.gw.records().length >= 4, 5000);
    agent = request.agent(c.gw.server);
  });
  after(() => c.close());

  it('refuses anonymous callers and tenant keys, on the page and the endpoints', async () => {
    await request(c.gw.server).get('/console/api/decisions').expect(401);
    await request(c.gw.server).get('/console/api/decisions').set(auth).expect(403);
    await request(c.gw.server).get('/console').set(auth).expect(403);
    const login = await request(c.gw.server).post('/console/api/login').send({ key: 'sk-client-test-key-0123456789' });
    assert.equal(login.status, 403);
    assert.equal(login.headers['set-cookie'], undefined);
    await request(c.gw.server).post('/console/api/login').send({ key: 'wrong' }).expect(403);
    await request(c.gw.server).post('/console/api/login').send({}).expect(400);
  });

  it('serves the page with a strict CSP and no inline script', async () => {
    const page = await request(c.gw.server).get('/console').expect(200);
    const csp = page.headers['content-security-policy'] as string;
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.doesNotMatch(page.text, /<script>(?!<\/script>)|<script(?![^>]*src=)[^>]*>/);
    await request(c.gw.server)
      .get('/console/app.js')
      .expect(200)
      .expect('content-type', /javascript/);
  });

  it('logs in with the admin key into an HttpOnly, SameSite=Strict cookie, and needs the CSRF token to change state', async () => {
    const login = await agent.post('/console/api/login').send({ key: ADMIN_KEY }).expect(200);
    const cookie = String(login.headers['set-cookie']);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.doesNotMatch(cookie, new RegExp(ADMIN_KEY));
    csrf = login.body.csrf;
    assert.deepEqual((await request(c.gw.server).get('/console/api/session').expect(200)).body, {
      authenticated: false,
    });
    assert.equal((await agent.get('/console/api/session').expect(200)).body.csrf, csrf);
    await agent.post('/console/api/verify').send({}).expect(403);
    await agent.post('/console/api/verify').set('x-csrf-token', 'nope').send({}).expect(403);
    await agent
      .post('/console/api/verify')
      .set('x-csrf-token', csrf)
      .set('origin', 'https://evil.example')
      .send({})
      .expect(403);
    const v = await agent.post('/console/api/verify').set('x-csrf-token', csrf).send({}).expect(200);
    assert.equal(v.body.ok, true);
    assert.ok(v.body.records >= 4);
  });

  it('lists, filters, pages and opens decisions', async () => {
    const all = await agent.get('/console/api/decisions?limit=2').expect(200);
    assert.equal(all.body.total, 4);
    assert.equal(all.body.data.length, 2);
    assert.equal(all.body.pages, 2);
    const refused = await agent.get('/console/api/decisions?action=refuse').expect(200);
    assert.equal(refused.body.total, 1);
    assert.deepEqual(refused.body.data[0].rules, ['no-bad-words']);
    assert.deepEqual(refused.body.data[0].categories, ['S2']);
    const byText = await agent.get('/console/api/decisions?q=SCRIPT').expect(200);
    assert.equal(byText.body.total, 1);
    await agent.get('/console/api/decisions?action=explode').expect(400);
    await agent.get('/console/api/decisions?limit=0').expect(400);
    const one = await agent.get(`/console/api/decision?id=${refused.body.data[0].decision_id}`).expect(200);
    assert.equal(one.body.content.prompt, 'tell me about the apple');
    assert.equal(one.body.stages.input.rules[0].id, 'no-bad-words');
    await agent.get('/console/api/decision?id=nope').expect(404);
  });

  it('exports the current filter with its manifest, as the audit export does', async () => {
    const manifest = await agent.get('/console/api/export/manifest?action=refuse').expect(200);
    assert.equal(manifest.body.count, 1);
    const file = await agent.get('/console/api/export?action=refuse&format=jsonl').buffer(true).expect(200);
    const { createHash } = await import('node:crypto');
    assert.equal(createHash('sha256').update(file.text).digest('hex'), manifest.body.sha256);
    const csv = await agent.get('/console/api/export?format=csv').buffer(true).expect(200);
    assert.match(csv.text.split('\n')[0] ?? '', /decision_id/);
  });

  it('draws the overview from the log', async () => {
    const o = await agent.get('/console/api/overview?minutes=5').expect(200);
    assert.equal(o.body.total, 4);
    assert.equal(
      o.body.actions.refuse.reduce((a: number, b: number) => a + b, 0),
      1,
    );
    assert.equal(o.body.refusal_rate_by_category.find((x: { category: string }) => x.category === 'S2').refused, 1);
    assert.ok(o.body.classifier_latency_ms.some((x: { id: string }) => x.id === 'words'));
    assert.equal(o.body.policy.id, 'console-test');
    assert.equal(o.body.chain.last_seq >= 4, true);
    await agent.get('/console/api/overview?minutes=99999').expect(400);
  });

  it('validates policy text with faults pinned to their JSON path and line', async () => {
    const post = (path: string, body: object) =>
      agent.post(`/console/api/policy/${path}`).set('x-csrf-token', csrf).send(body);
    const bad = consolePolicy();
    (bad.rules[0] as { when: { threshold: number } }).when.threshold = 3;
    const text = JSON.stringify(bad, null, 2);
    const v = await post('validate', { text }).expect(200);
    assert.equal(v.body.ok, false);
    const issue = v.body.issues.find((i: { path: string }) => i.path === 'rules[0].when.threshold');
    assert.ok(issue, JSON.stringify(v.body.issues));
    assert.match(text.split('\n')[issue.line - 1] ?? '', /"threshold": 3/);
    const syntax = await post('validate', { text: '{\n  "id": \n}' }).expect(200);
    assert.equal(syntax.body.issues[0].line, 3);
    await post('validate', {}).expect(400);
    const good = JSON.stringify(consolePolicy(), null, 2);
    assert.equal((await post('validate', { text: good }).expect(200)).body.ok, true);
    const tests = await post('test', { text: good }).expect(200);
    assert.equal(tests.body.ok, true);
    assert.equal(tests.body.summary.pass, 2);
    const refused = await agent.get('/console/api/decisions?action=refuse');
    const trace = await post('explain', { text: good, decision_id: refused.body.data[0].decision_id }).expect(200);
    assert.equal(trace.body.final.action, 'refuse');
    assert.ok(
      trace.body.stages.input.rules.some(
        (r: { id: string; outcome: string }) => r.id === 'no-bad-words' && r.outcome === 'matched',
      ),
    );
    const inForce = await post('explain', { decision_id: refused.body.data[0].decision_id }).expect(200);
    assert.equal(inForce.body.policy.id, 'console-test');
    await post('explain', { text: good }).expect(400);
    const diff = await post('diff', { text: JSON.stringify(consolePolicy({ refuse: 'hello', flag: 'pear' })) }).expect(
      200,
    );
    assert.equal(diff.body.corpus.total, 4);
    assert.equal(diff.body.corpus.changed, 2);
  });

  it('refuses to publish when the tests fail unless overridden, and publishes as shadow', async () => {
    const post = (body: object) => agent.post('/console/api/policy/publish').set('x-csrf-token', csrf).send(body);
    const failing = JSON.stringify({ ...consolePolicy({ refuse: 'plum', flag: 'pear' }), id: 'console-shadow-2' });
    const refused = await post({ text: failing, target: 'shadow' }).expect(422);
    assert.equal(refused.body.tests.ok, false);
    assert.match(readFileSync(c.shadowFile, 'utf8'), /"console-shadow"/);
    await post({ text: failing, target: 'nowhere' }).expect(400);
    const ok = await post({ text: failing, target: 'shadow', override: true }).expect(200);
    assert.equal(ok.body.via, 'file');
    assert.equal(c.gw.policies.store.shadow()?.policy.id, 'console-shadow-2');
    await request(c.gw.server).post('/v1/chat/completions').set(auth).send(chat('an apple and a plum')).expect(200);
    await request(c.gw.server).post('/v1/chat/completions').set(auth).send(chat('just the apple')).expect(200);
    await eventually(() => c.gw.records().length >= 6, 5000);
    const queue = await agent.get('/console/api/review?kind=shadow').expect(200);
    assert.equal(queue.body.total, 1);
    assert.match(queue.body.data[0].why, /enforced refuse, shadow console-shadow-2 would allow/);
  });

  it('queues near-threshold requests, keeps labels durably and exports them as training data', async () => {
    const near = await agent.get('/console/api/review?kind=near_threshold').expect(200);
    assert.equal(near.body.total, 1);
    assert.equal(near.body.data[0].near[0].rule, 'watch-words');
    await agent.get('/console/api/review?kind=other').expect(400);
    const id = near.body.data[0].decision_id;
    const post = (body: object) => agent.post('/console/api/review/label').set('x-csrf-token', csrf).send(body);
    await post({ decision_id: id, verdict: 'maybe', label: 'safe' }).expect(400);
    await post({ decision_id: 'nope', verdict: 'wrong', label: 'safe' }).expect(404);
    await post({ decision_id: id, verdict: 'wrong', label: 'safe' }).expect(200);
    const labels = await agent.get('/console/api/review/labels').expect(200);
    assert.equal(labels.body.data[0].label, 'safe');
    const out = await agent.get('/console/api/review/export').buffer(true).expect(200);
    const line = JSON.parse(out.text.trim());
    assert.deepEqual(
      { text: line.text, label: line.label, stage: line.stage, kind: line.kind, source: line.source },
      { text: 'a pear please', label: 'safe', stage: 'input', kind: 'request', source: 'console-review' },
    );
  });

  it('takes the admin key as a Bearer token without a session or CSRF token (scripts)', async () => {
    const r = await request(c.gw.server).get('/console/api/policy').set(admin).expect(200);
    assert.equal(r.body.publish.shadow, 'file');
    await request(c.gw.server).post('/console/api/policy/validate').set(admin).send({ text: '{}' }).expect(200);
  });

  it('refuses logins from an address after repeated wrong keys', async () => {
    // The good login earlier cleared the count: ten wrong keys now, then even the right one is refused.
    for (let i = 0; i < 10; i++)
      await request(c.gw.server)
        .post('/console/api/login')
        .send({ key: `wrong-${i}` })
        .expect(403);
    const limited = await request(c.gw.server).post('/console/api/login').send({ key: ADMIN_KEY });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'rate_limited');
  });

  it('logs out', async () => {
    await agent.post('/console/api/logout').send({}).expect(200);
    await agent.get('/console/api/decisions').expect(401);
  });
});
