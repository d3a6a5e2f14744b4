import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import request from 'supertest';
import { evaluateStage } from '../policies/engine.js';
import { compilePolicy } from '../policies/load.js';
import { auth, chat, startTestGateway } from './support/harness.js';

/** A policy whose one classifier reads at most `maxTextChars` characters; its rule refuses "aaa". */
const capped = (maxTextChars: number, onError?: string) =>
  compilePolicy({
    apiVersion: 'gateway/v1',
    id: 'capped',
    classifiers: [{ id: 'c', type: 'rules', maxTextChars, params: { patterns: [{ label: 'a', regex: 'aaa' }] } }],
    rules: [
      {
        id: 'no-a',
        stage: 'input',
        when: { classifier: 'c', label: 'a', threshold: 0.5 },
        action: 'refuse',
        ...(onError && { onError }),
      },
    ],
  });
const input = (content: string) => ({ stage: 'input', doc: { messages: [{ role: 'user', content }] } }) as const;

describe('the text a classifier reads per call is capped (issue #16, item 6)', () => {
  it('does not run a classifier on a text past its maxTextChars, and fails closed (the rule takes its onError)', async () => {
    const p = capped(100);
    const under = await evaluateStage(p, input('b'.repeat(100)));
    assert.equal(under.action, 'allow');
    assert.equal(under.classifiers[0]?.error, undefined);
    const over = await evaluateStage(p, input('b'.repeat(101)));
    assert.equal(over.action, 'refuse', 'a text past the cap was not refused');
    assert.equal(over.classifiers[0]?.error?.code, 'too_long');
    assert.match(
      over.classifiers[0]?.error?.message ?? '',
      /101 characters, past this classifier's maxTextChars of 100/,
    );
    assert.equal(over.matches[0]?.onError, true);
  });

  it("lets the policy decide what happens past the cap: the rule's onError", async () => {
    const d = await evaluateStage(capped(100, 'flag'), input(`${'b'.repeat(200)} aaa`));
    assert.equal(d.action, 'flag');
    assert.equal(d.classifiers[0]?.error?.code, 'too_long');
  });

  it('refuses a prompt past the default cap (32,000 characters) with the default pack, and records why', async () => {
    const gw = await startTestGateway();
    try {
      const long = 'please summarise these meeting notes about the budget '.repeat(700); // about 38,000 characters
      const r = await request(gw.server).post('/v1/chat/completions').set(auth).send(chat(long));
      assert.equal(r.status, 200);
      assert.equal(r.body.choices[0].finish_reason, 'content_filter');
      const rec = gw.records().at(-1);
      assert.equal(rec?.action, 'refuse');
      assert.ok(rec?.stages.input?.classifiers.some((c) => c.error?.code === 'too_long'));
      const short = await request(gw.server)
        .post('/v1/moderations')
        .set(auth)
        .send({ input: long.slice(0, 30_000) });
      assert.equal(short.body.results[0].flagged, false, 'a prompt under the cap was refused');
    } finally {
      await gw.close();
    }
  });
});
