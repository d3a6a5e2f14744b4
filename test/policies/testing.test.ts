import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicy, loadPolicy } from '../../policies/load.js';
import {
  loadPolicyTests,
  parsePolicyTestSuite,
  PolicyTestFileError,
  runPolicyTests,
  type PolicyTestCase,
} from '../../policies/testing.js';
import { faultyPolicy } from '../support/faulty-classifier.js';
import { DEFAULT_PACK, folder, RULES_ONLY_PACK, rule, small } from './helpers.js';

const policy = compilePolicy(
  small([
    rule('refuse-a', 'a', 'refuse', { category: 'cat', message: 'no a, but happy to help with b' }),
    rule('redact-b', 'b', 'redact', { stage: 'both' }),
    {
      id: 'acme-route',
      stage: 'input',
      when: { meta: 'tenant', equals: 'acme' },
      action: 'route',
      route: { model: 'small-model' },
    },
    { id: 'beta-header', stage: 'input', when: { meta: 'header', name: 'X-Beta', equals: 'on' }, action: 'flag' },
    { id: 'trial', stage: 'input', mode: 'shadow', when: { text: { contains: 'zzz' } }, action: 'refuse' },
    { id: 'off', stage: 'input', mode: 'disabled', when: { text: { contains: 'q' } }, action: 'refuse' },
  ]),
);
const run = (cases: Omit<PolicyTestCase, 'name'>[] & object[]) =>
  runPolicyTests(policy, [
    { file: 'inline', cases: cases.map((c, i) => ({ name: `case ${i}`, ...c }) as PolicyTestCase) },
  ]);

describe('policy test runner', () => {
  it('passes cases whose action, rules, stage, message, route and redactions match', async () => {
    const r = await run([
      { request: 'aaa', expect: { action: 'refuse', rules: ['refuse-a'], stage: 'input', message: 'happy to help' } },
      { request: 'x bbb y', output: 'fine', expect: { action: 'redact', rules: ['redact-b'], redacts: ['bbb'] } },
      {
        request: 'hello',
        output: 'the answer is bbb',
        expect: { action: 'redact', stage: 'output', redacts: ['bbb'] },
      },
      {
        request: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
        meta: { tenant: 'acme', headers: { 'x-beta': 'on' } },
        expect: { action: 'route', route: 'small-model', rules: ['acme-route', 'beta-header'] },
      },
      { request: 'zzz', expect: { action: 'allow', rules: [], shadow: ['trial'] } },
    ]);
    assert.deepEqual(
      r.cases.map((c) => [c.status, c.problems]),
      Array(5).fill(['PASS', []]),
    );
    assert.deepEqual(r.unexercised, []);
  });

  it('reports every difference of a failing case', async () => {
    const r = await run([
      {
        request: 'aaa bbb',
        expect: { action: 'redact', rules: ['redact-b'], stage: 'output', message: 'nope', redacts: ['aaa'] },
      },
    ]);
    assert.equal(r.cases[0].status, 'FAIL');
    assert.deepEqual(r.cases[0].problems, [
      'action: expected redact, got refuse (rules: refuse-a, redact-b)',
      'rules: expected redact-b, got refuse-a, redact-b',
      'stage: expected output, got input',
      'message: expected it to contain "nope", got "no a, but happy to help with b"',
      'redacts: "aaa" was not redacted',
    ]);
  });

  it('treats the output stage as skipped after an input refusal', async () => {
    const r = await run([{ request: 'aaa', output: 'bbb', expect: { action: 'refuse', rules: ['refuse-a'] } }]);
    assert.equal(r.cases[0].status, 'PASS');
  });

  it('uses pinned scores instead of the classifier, and declared failures to test onError', async () => {
    const r = await run([
      { request: 'nothing here', scores: { c: { a: 0.7 } }, expect: { action: 'refuse', rules: ['refuse-a'] } },
      { request: 'aaa', scores: { c: { a: 0.2, b: 0 } }, expect: { action: 'allow' } },
      {
        request: 'hello',
        errors: { c: 'timed out' },
        expect: { action: 'refuse', message: "safety check couldn't run" },
      },
    ]);
    assert.deepEqual(
      r.cases.map((c) => c.status),
      ['PASS', 'PASS', 'PASS'],
    );
  });

  it('is ERROR when a classifier fails unannounced or the case names an unknown classifier', async () => {
    const faulty = compilePolicy(faultyPolicy('throw'));
    const failed = await runPolicyTests(faulty, [
      { file: 'inline', cases: [{ name: 'unannounced', request: 'hi', expect: { action: 'refuse' } }] },
    ]);
    assert.equal(failed.cases[0].status, 'ERROR');
    assert.match(
      failed.cases[0].problems[0],
      /classifier "faulty" failed: model exploded \(pin its scores or declare the failure in errors\)/,
    );
    const r = await run([{ request: 'hi', scores: { ghost: { a: 1 } }, expect: { action: 'allow' } }]);
    assert.equal(r.cases[0].status, 'ERROR');
    assert.match(r.cases[0].problems[0], /scores names classifier "ghost"/);
  });

  it('counts a failing todo case apart, and does not count it as exercising a rule', async () => {
    const r = await run([{ request: 'aaa', todo: 'known gap', expect: { action: 'allow' } }]);
    assert.equal(r.cases[0].status, 'FAIL');
    assert.deepEqual(r.summary, { total: 1, pass: 0, fail: 0, error: 0, todo: 1 });
    assert.ok(r.unexercised.includes('refuse-a'));
    assert.ok(!r.unexercised.includes('off'), 'disabled rules are not listed');
  });
});

describe('policy test files', () => {
  it('finds *.test.json beside a policy file or folder, in name order', () => {
    const dir = folder({
      'policy.json': small(),
      'b.test.json': { cases: [{ name: 'b', request: 'x', expect: { action: 'allow' } }] },
      'a.test.json': { cases: [{ name: 'a', request: 'x', expect: { action: 'allow' } }] },
      'notes.json': {},
    });
    assert.deepEqual(
      loadPolicyTests(dir).map((s) => s.cases[0].name),
      ['a', 'b'],
    );
    assert.deepEqual(loadPolicyTests(`${dir}/policy.json`).length, 2);
  });

  it('rejects a malformed suite with the path of each fault', () => {
    assert.throws(
      () =>
        parsePolicyTestSuite(
          { cases: [{ name: '', request: 5, expect: { action: 'maybe', extra: 1 } }] },
          'x.test.json',
        ),
      (e: unknown) =>
        e instanceof PolicyTestFileError &&
        e.issues.map((i) => i.path).join(' ') ===
          'cases[0].name cases[0].request cases[0].expect.action cases[0].expect',
    );
    assert.throws(() => loadPolicyTests(folder({ 'policy.json': small(), 'bad.test.json': '{' })), /not valid JSON/);
  });

  it('the rules-only pack passes its own suite, exercises every rule, and has enough everyday cases', async () => {
    const suites = loadPolicyTests(RULES_ONLY_PACK);
    const report = await runPolicyTests(loadPolicy(RULES_ONLY_PACK), suites);
    const bad = report.cases.filter((c) => c.status !== 'PASS' && !c.todo);
    assert.deepEqual(bad, []);
    assert.deepEqual(report.unexercised, []);
    const everyday = suites.find((s) => s.file.endsWith('everyday.test.json'))!;
    assert.ok(everyday.cases.filter((c) => c.expect.action === 'allow' && !c.todo).length >= 30);
    const refusals = report.cases.filter((c) => c.action === 'refuse').map((c) => c.rules[0]);
    for (const id of [
      'violent-crime',
      'non-violent-crime',
      'child-safety',
      'weapons',
      'self-harm',
      'hate-request',
      'copyright-reproduction',
      'destructive-commands',
      'malware',
      'prompt-injection',
      'jailbreak',
    ])
      assert.ok(refusals.includes(id), id);
  });

  it('the default pack passes its own suites (the model at the balanced level) and exercises every model rule', async () => {
    const suites = loadPolicyTests(DEFAULT_PACK);
    const loaded = loadPolicy(DEFAULT_PACK);
    try {
      const report = await runPolicyTests(loaded, suites);
      const bad = report.cases.filter((c) => c.status !== 'PASS' && !c.todo);
      assert.deepEqual(bad, []);
      const model = loaded.rules
        .map((c) => c.rule.id)
        .filter((id) => id.startsWith('model-') || id.startsWith('graded-'));
      assert.ok(model.length >= 19, model.join(', '));
      assert.deepEqual(
        report.unexercised.filter((id) => model.includes(id)),
        [],
      );
    } finally {
      for (const c of loaded.classifiers.values()) await c.close?.();
    }
  });
});
