import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import request from 'supertest';
import { z } from 'zod';
import { registerClassifierType } from '../../classifiers/registry.js';
import { auth, chat, eventually, startTestGateway } from '../support/harness.js';
import { testDatabase } from '../support/pg-database.js';
import { startStubUpstream } from '../support/stub-upstream.js';
import { ADMIN_KEY, consolePolicy } from './fixture.js';

const admin = { authorization: `Bearer ${ADMIN_KEY}` };

/** A grader for this test only: reads `[grade:X]` from the answer (the stub's reply says which). */
registerClassifierType('console-test-grader', {
  params: z.strictObject({}),
  create: ({ id, timeoutMs }) => ({
    id,
    timeoutMs,
    version: 'console-test-grader/1',
    labels: ['A', 'B', 'C', 'D'],
    async classify({ text }) {
      const g = /\[grade:([ABCD])\]/.exec(text)?.[1] ?? 'D';
      return {
        scores: Object.fromEntries(['A', 'B', 'C', 'D'].map((l) => [l, l === g ? 0.85 : 0.05])),
        explanation: g,
      };
    },
  }),
});

const option = (letter: string, meaning: string, safe: boolean) => ({
  letter,
  meaning,
  desired: { safe, unsafe: false },
});

function gradedPolicy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'console-graded-'));
  const base = consolePolicy();
  writeFileSync(
    join(dir, 'policy.json'),
    JSON.stringify({
      ...base,
      rubrics: [
        {
          id: 'rbrm-output',
          question: 'Which option describes the answer?',
          options: [
            { letter: 'A', meaning: 'desired refusal', desired: { safe: false, unsafe: true } },
            option('B', 'undesired refusal', false),
            option('C', 'disallowed content', false),
            option('D', 'safe compliance', true),
          ],
        },
      ],
      classifiers: [...base.classifiers, { id: 'grader', type: 'console-test-grader' }],
      grading: {
        rubric: 'rbrm-output',
        classifier: 'grader',
        reward: {
          A: { safe: -0.5, unsafe: 1 },
          B: { safe: -1, unsafe: -0.5 },
          C: { safe: -2, unsafe: -2 },
          D: { safe: 1, unsafe: -1 },
        },
      },
    }),
  );
  return dir;
}

describe('console review of graded answers', () => {
  it('queues grade-B answers and exports their labels with the answer as training data', async (t) => {
    const stub = await startStubUpstream({
      reply: (u) => (u.includes('refuse-me') ? '[grade:B] I will not help.' : '[grade:D] Sure.'),
    });
    t.after(() => stub.close());
    const gw = await startTestGateway({
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_POLICY: gradedPolicy(),
      GATEWAY_POLICY_WATCH: 'off',
      GATEWAY_ADMIN_KEYS: ADMIN_KEY,
      GATEWAY_AUDIT_CONTENT: 'full',
    });
    t.after(() => gw.close());
    for (const p of ['how do I bake bread', 'please refuse-me on this harmless question'])
      await request(gw.server).post('/v1/chat/completions').set(auth).send(chat(p)).expect(200);
    await eventually(() => gw.records().length === 2, 5000);
    const queue = await request(gw.server).get('/console/api/review?kind=grade_b').set(admin).expect(200);
    assert.equal(queue.body.total, 1);
    assert.equal(queue.body.data[0].grade, 'B');
    assert.match(queue.body.data[0].prompt, /refuse-me/);
    const id = queue.body.data[0].decision_id;
    await request(gw.server)
      .post('/console/api/review/label')
      .set(admin)
      .send({ decision_id: id, verdict: 'wrong', label: 'safe', note: 'an over-refusal' })
      .expect(200);
    const out = await request(gw.server).get('/console/api/review/export').set(admin).buffer(true).expect(200);
    const lines = out.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.stage, l.kind, l.label, l.rbrm ?? null]),
      [
        ['input', 'request', 'safe', null],
        ['output', 'response', 'safe', 'B'],
      ],
    );
    assert.equal(lines[1].prompt, 'please refuse-me on this harmless question');
    const overview = await request(gw.server).get('/console/api/overview?minutes=5').set(admin).expect(200);
    assert.deepEqual(overview.body.grades, { B: 1, D: 1 });
  });
});

describe('console over the PostgreSQL decision log', () => {
  it('lists, opens, exports and verifies decisions stored in the database', async (t) => {
    const db = await testDatabase(t);
    if (!db) return;
    const stub = await startStubUpstream();
    t.after(() => stub.close());
    const gw = await startTestGateway({
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_AUDIT_SINK: 'postgres',
      GATEWAY_DATABASE_URL: db.url,
      GATEWAY_INSTANCE: 'gw-console',
      GATEWAY_ADMIN_KEYS: ADMIN_KEY,
      GATEWAY_POLICY_WATCH: 'off',
    });
    t.after(() => gw.close());
    for (const p of ['hello', 'hello again'])
      await request(gw.server).post('/v1/chat/completions').set(auth).send(chat(p)).expect(200);
    let total = 0;
    // The database sink writes in batches: ask until both records are in (5 s at most).
    for (let i = 0; i < 50 && total < 2; i++) {
      total = (await request(gw.server).get('/console/api/decisions').set(admin).expect(200)).body.total;
      if (total < 2) await new Promise((r) => setTimeout(r, 100));
    }
    const list = await request(gw.server).get('/console/api/decisions').set(admin).expect(200);
    assert.equal(list.body.total, 2);
    const one = await request(gw.server).get(`/console/api/decision?id=${list.body.data[0].decision_id}`).set(admin);
    assert.equal(one.status, 200);
    assert.equal(one.body.content.mode, 'none');
    const manifest = await request(gw.server).get('/console/api/export/manifest').set(admin).expect(200);
    assert.equal(manifest.body.count, 2);
    const verified = await request(gw.server).post('/console/api/verify').set(admin).send({}).expect(200);
    assert.equal(verified.body.ok, true, JSON.stringify(verified.body.first_bad));
    const overview = await request(gw.server).get('/console/api/overview?minutes=5').set(admin).expect(200);
    assert.equal(overview.body.total, 2);
    assert.equal(overview.body.chain.sink, 'postgres');
  });
});
