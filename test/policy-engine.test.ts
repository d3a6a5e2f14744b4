import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import request from 'supertest';
import { applyRedactions, evaluateStage, refusalMessage } from '../policies/engine.js';
import type { LoadedPolicy } from '../policies/load.js';
import { compilePolicy, loadPolicy, PolicyError } from '../policies/load.js';
import { faultyPolicy } from './support/faulty-classifier.js';
import { auth, chat, startTestGateway } from './support/harness.js';
import { startStubUpstream } from './support/stub-upstream.js';

const base = (rules: object[]) => ({
  apiVersion: 'gateway/v1',
  id: 't',
  classifiers: [
    {
      id: 'c',
      type: 'rules',
      params: {
        patterns: [
          { label: 'a', regex: 'aaa' },
          { label: 'b', regex: 'bbb' },
        ],
      },
    },
  ],
  rules,
});
const rule = (id: string, label: string, action: string, extra: object = {}) => ({
  id,
  stage: 'input',
  when: { classifier: 'c', label, threshold: 0.5 },
  action,
  ...extra,
});
const doc = { messages: [{ role: 'user', content: 'hello' }] };
/** Decides with pinned scores for classifier c. */
const decide = (p: LoadedPolicy, scores: Record<string, number>) =>
  evaluateStage(p, { stage: 'input', doc, pinned: { c: scores } });

describe('policy engine', () => {
  it('takes the strongest action: refuse beats redact beats flag beats allow', async () => {
    const p = compilePolicy(base([rule('f', 'a', 'flag'), rule('r', 'b', 'refuse'), rule('x', 'a', 'redact')]));
    const d = await decide(p, { a: 1, b: 1 });
    assert.equal(d.action, 'refuse');
    assert.deepEqual(
      d.matches.map((m) => m.id),
      ['r', 'x', 'f'],
    );
    assert.equal((await decide(p, { a: 1, b: 0 })).action, 'redact');
  });

  it('breaks ties by priority, then by order in the policy', async () => {
    const p = compilePolicy(
      base([
        rule('low', 'a', 'refuse', { message: 'low' }),
        rule('high', 'a', 'refuse', { priority: 5, message: 'high' }),
        rule('later', 'a', 'refuse', { priority: 5, message: 'later' }),
      ]),
    );
    const d = await decide(p, { a: 1 });
    assert.deepEqual(
      d.matches.map((m) => m.id),
      ['high', 'later', 'low'],
    );
    assert.equal(refusalMessage(d), 'high');
  });

  it('matches at the threshold, not below it', async () => {
    const p = compilePolicy(base([rule('r', 'a', 'refuse')]));
    assert.equal((await decide(p, { a: 0.5 })).action, 'refuse');
    assert.equal((await decide(p, { a: 0.49 })).action, 'allow');
  });

  it('fails closed when a classifier errors, unless the rule says otherwise', async () => {
    const closed = compilePolicy(faultyPolicy('throw'));
    const d = await evaluateStage(closed, { stage: 'input', doc });
    assert.equal(d.action, 'refuse');
    assert.match(d.message!, /safety check couldn't run/);
    assert.match(d.matches[0].reason, /failed: model exploded/);
    const open = compilePolicy(faultyPolicy('throw', 'allow'));
    assert.equal((await evaluateStage(open, { stage: 'input', doc })).action, 'allow');
    const flag = compilePolicy({ ...faultyPolicy('throw'), defaults: { onError: 'flag' } });
    assert.equal((await evaluateStage(flag, { stage: 'input', doc })).action, 'flag');
  });

  it('refuses on a classifier that throws, hangs past its timeout, or returns NaN', async () => {
    const codes = { throw: 'threw', hang: 'timeout', nan: 'bad_score' } as const;
    for (const [mode, code] of Object.entries(codes)) {
      const d = await evaluateStage(compilePolicy(faultyPolicy(mode)), { stage: 'input', doc });
      assert.equal(d.action, 'refuse', mode);
      assert.ok(d.classifiers[0].error, mode);
      assert.equal(d.classifiers[0].error.code, code, mode);
    }
    assert.equal((await evaluateStage(compilePolicy(faultyPolicy('ok')), { stage: 'input', doc })).action, 'allow');
  });

  it('replaces redacted spans, merging overlapping spans so that no part of either leaks', () => {
    const out = applyRedactions('abc def ghi', [
      { label: 'x', start: 4, end: 7, replacement: '[X]' },
      { label: 'y', start: 5, end: 9, replacement: '[Y]' },
      { label: 'z', start: 0, end: 3, replacement: '[Z]' },
    ]);
    assert.equal(out, '[Z] [X]hi');
  });
});

describe('policy loading', () => {
  const issues = (doc: unknown) => {
    try {
      compilePolicy(doc);
    } catch (e) {
      assert.ok(e instanceof PolicyError);
      return e.issues.map((i) => `${i.path}: ${i.message}`);
    }
    assert.fail('the policy was accepted');
  };

  it('names the JSON path of each fault and the reason', () => {
    assert.deepEqual(
      issues(base([rule('r', 'a', 'refuse', { when: { classifier: 'c', label: 'a', threshold: 2 } })])),
      ['rules[0].when.threshold: expected a number between 0 and 1'],
    );
    assert.match(issues(base([rule('r', 'a', 'explode')]))[0], /^rules\[0\]\.action: /);
    assert.deepEqual(issues(base([rule('r', 'a', 'refuse'), rule('r', 'b', 'flag')])), [
      'rules[1].id: duplicate rule id "r"',
    ]);
    assert.deepEqual(issues(base([rule('r', 'zzz', 'refuse')])), [
      'rules[0].when: classifier "c" has no such label; it has: a, b',
    ]);
    assert.deepEqual(
      issues(base([{ ...rule('r', 'a', 'refuse'), when: { classifier: 'nope', label: 'a', threshold: 1 } }])),
      ['rules[0].when: no classifier "nope" is declared'],
    );
    assert.match(
      issues({ ...base([]), classifiers: [{ id: 'c', type: 'magic' }] })[0],
      /^classifiers\[0\]\.type: unknown classifier type "magic"/,
    );
    assert.match(
      issues({
        ...base([]),
        classifiers: [{ id: 'c', type: 'rules', params: { patterns: [{ label: 'a', regex: '(' }] } }],
      })[0],
      /^classifiers\[0\]: params\.patterns\[0\]\.regex/,
    );
    assert.match(
      issues({ ...base([]), classifiers: [{ id: 'c', type: 'rules', params: { patterns: [{ label: 'a' }] } }] })[0],
      /^classifiers\[0\]\.params\.patterns\[0\]\.regex: /,
    );
    assert.match(issues({ ...base([]), apiVersion: 'v9' })[0], /^apiVersion: expected "gateway\/v1"/);
  });

  it('loads the default pack, and gives the same revision for the same JSON with keys in another order', () => {
    const p = loadPolicy();
    assert.equal(p.policy.id, 'default');
    const doc = base([rule('r', 'a', 'refuse')]);
    const reordered = JSON.parse(
      JSON.stringify({ rules: doc.rules, classifiers: doc.classifiers, id: doc.id, apiVersion: doc.apiVersion }),
    );
    assert.equal(compilePolicy(doc).revision, compilePolicy(reordered).revision);
    assert.notEqual(compilePolicy(doc).revision, compilePolicy(base([rule('r', 'b', 'refuse')])).revision);
  });

  it('replaces a span that runs past the end of one choice in every choice it covers, not in none', async () => {
    const p = compilePolicy({
      apiVersion: 'gateway/v1',
      id: 'keys',
      classifiers: [{ id: 's', type: 'rules', params: { detectors: [{ detector: 'private_key', label: 'key' }] } }],
      rules: [
        { id: 'hide', stage: 'output', when: { classifier: 's', label: 'key', threshold: 0.5 }, action: 'redact' },
      ],
    });
    const answer = (content: string) => ({ role: 'assistant', content });
    // No END line: the detector reads to the end of the text, across the blank line into the second choice.
    const d = await evaluateStage(p, {
      stage: 'output',
      doc: { choices: [{ message: answer('key: -----BEGIN PRIVATE KEY----- MIIEv') }, { message: answer('more') }] },
    });
    assert.equal(d.rewrites.get('/choices/0/message/content'), 'key: [REDACTED:key]');
    assert.equal(d.rewrites.get('/choices/1/message/content'), '[REDACTED:key]');
  });

  it('reports an unreadable or malformed policy file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-pol-'));
    writeFileSync(join(dir, 'policy.json'), '{ not json');
    assert.throws(() => loadPolicy(dir), /not valid JSON/);
    assert.throws(() => loadPolicy(join(dir, 'missing.json')), /cannot read/);
  });
});

describe('fail-closed through the gateway', () => {
  it('refuses the request and records the classifier error when a classifier throws', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-pol-'));
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(faultyPolicy('throw')));
    const stub = await startStubUpstream();
    const gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: stub.url, GATEWAY_POLICY: dir });
    try {
      const res = await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('hello'));
      assert.equal(res.body.choices[0].finish_reason, 'content_filter');
      assert.equal(res.headers['x-gateway-decision'], 'refuse');
      assert.equal(stub.requests.length, 0);
      const r = gw.records()[0];
      assert.deepEqual(r.stages.input!.classifiers[0].error, { code: 'threw', message: 'model exploded' });
    } finally {
      await gw.close();
      await stub.close();
    }
  });
});
