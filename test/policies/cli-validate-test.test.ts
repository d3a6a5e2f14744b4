import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli, RULES_ONLY_PACK, folder, json, rule, small } from './helpers.js';

const good = small([
  rule('refuse-a', 'a', 'refuse', { category: 'cat', message: 'no a' }),
  rule('redact-b', 'b', 'redact'),
]);
const suite = (cases: object[]) => ({ cases });
const ok = (name: string, request: string, action: string, rules: string[]) => ({
  name,
  request,
  expect: { action, rules },
});

describe('policy CLI: usage and exit codes', () => {
  it('prints usage and exits 2 without a command, 0 for help, 2 for an unknown command', async () => {
    const none = await cli([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /usage: npm run policy -- <command>/);
    assert.match(
      none.stderr,
      /exit codes: 0 ok, 1 the policy or its tests failed, 2 usage or I\/O error, 3 internal error/,
    );
    const help = await cli(['help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /shadow-report/);
    const unknown = await cli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });

  it('exits 2 on a missing argument or an unknown option', async () => {
    const missing = await cli(['validate']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing <path>/);
    const option = await cli(['validate', RULES_ONLY_PACK, '--frob']);
    assert.equal(option.code, 2);
    assert.match(option.stderr, /--frob/);
  });
});

describe('policy CLI: validate', () => {
  it('accepts the default pack (human output) and exits 0', async () => {
    const r = await cli(['validate', RULES_ONLY_PACK]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^OK .*policy\.json: policy "rules-only" \(enforce\), revision [0-9a-f]{12}, 22 rules, 7 classifiers/,
    );
  });

  it('describes a valid policy as JSON with its revision', async () => {
    const r = await cli(['validate', folder({ 'policy.json': good }), '--json']);
    assert.equal(r.code, 0);
    const out = json(r);
    assert.equal(out.ok, true);
    assert.equal(out.id, 'small');
    assert.match(out.revision, /^[0-9a-f]{64}$/);
    assert.equal(out.rules, 2);
  });

  it('prints every fault as path: reason and exits 1', async () => {
    const bad = small([
      rule('r1', 'a', 'refuse', {
        when: {
          any: [
            { classifier: 'c', label: 'a', threshold: 0.5 },
            { classifier: 'c', label: 'a', threshold: 2 },
          ],
        },
      }),
      rule('r1', 'b', 'flag'),
    ]);
    const r = await cli(['validate', folder({ 'policy.json': bad })]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^INVALID .*policy\.json: 1 issue/);
    assert.match(r.stdout, / {2}rules\[0\]\.when\.any\[1\]\.threshold: expected a number between 0 and 1/);
    const dup = await cli([
      'validate',
      folder({ 'policy.json': small([rule('r1', 'a', 'refuse'), rule('r1', 'b', 'flag')]) }),
      '--json',
    ]);
    assert.equal(dup.code, 1);
    assert.deepEqual(json(dup).issues, [{ path: 'rules[1].id', message: 'duplicate rule id "r1"' }]);
  });

  it('reports a file that is not JSON as an invalid policy (exit 1) by line and column, and one not there as an I/O error (exit 2)', async () => {
    const r = await cli(['validate', folder({ 'policy.json': '{ nope' }), '--json']);
    assert.equal(r.code, 1);
    assert.match(json(r).issues[0].message, /not valid JSON/);
    const lines = await cli(['validate', folder({ 'policy.json': '{\n  "id": "x",\n}\n' })]);
    assert.equal(lines.code, 1);
    assert.match(lines.stdout, /\(root\): not valid JSON at line 3, column 1: /);
    const gone = await cli(['validate', '/nonexistent/policy.json']);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /^policy validate: cannot read: ENOENT.*\/nonexistent\/policy\.json'?\n$/);
  });

  it('reports a fault in an extended policy in that file, at its own position, not at its merged one', async () => {
    const base = folder({
      'policy.json': small([rule('r1', 'a', 'refuse'), rule('r2', 'a', 'flag', { category: 'nowhere' })]),
    });
    const child = folder({
      'policy.json': {
        apiVersion: 'gateway/v1',
        id: 'child',
        extends: `${base}/policy.json`,
        rules: [rule('r0', 'a', 'flag', { category: 'missing' })],
      },
    });
    const r = await cli(['validate', child, '--json']);
    assert.equal(r.code, 1);
    assert.deepEqual(
      json(r).issues.map((i: { file?: string; path: string }) => [i.file ?? 'child', i.path]),
      [
        [`${base}/policy.json`, 'rules[1].category'],
        ['child', 'rules[0].category'],
      ],
      'r2 is rules[1] of the base file (and rules[1] of the merged policy too), r0 is rules[0] of the child (rules[2] merged)',
    );
    const human = await cli(['validate', child]);
    assert.match(human.stdout, new RegExp(`  ${base}/policy\\.json: rules\\[1\\]\\.category: no category "nowhere"`));
  });
});

describe('policy CLI: test', () => {
  it('runs the default pack suites: everything passes and every rule is exercised', async () => {
    const r = await cli(['test', RULES_ONLY_PACK]);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /\d+ passed, 0 failed, 0 errors/);
    assert.match(r.stdout, /every rule was exercised/);
    const j = json(await cli(['test', RULES_ONLY_PACK, '--json']));
    assert.equal(j.ok, true);
    assert.ok(j.summary.total >= 60, `only ${j.summary.total} cases`);
    assert.deepEqual(j.unexercised, []);
    assert.ok(j.cases.every((c: { status: string; todo?: string }) => c.status === 'PASS' || c.todo));
  });

  it('reports FAIL and ERROR per case, lists unexercised rules, and exits 1', async () => {
    const dir = folder({
      'policy.json': good,
      'a.test.json': suite([
        ok('refuses aaa', 'aaa', 'refuse', ['refuse-a']),
        ok('wrongly expects allow', 'aaa', 'allow', []),
        { name: 'pins an unknown classifier', request: 'x', scores: { nope: { a: 1 } }, expect: { action: 'allow' } },
      ]),
    });
    const r = await cli(['test', dir]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /FAIL {2}.*a\.test\.json › wrongly expects allow\n +action: expected allow, got refuse \(rules: refuse-a\)/,
    );
    assert.match(r.stdout, /ERROR .*› pins an unknown classifier\n +scores names classifier "nope"/);
    assert.doesNotMatch(r.stdout, /PASS/);
    assert.match(r.stdout, /1 passed, 1 failed, 1 errors \(3 cases in 1 suite\)/);
    assert.match(r.stdout, /rules no case exercised: redact-b/);
    const verbose = await cli(['test', dir, '--verbose']);
    assert.match(verbose.stdout, /PASS {2}.*› refuses aaa \(refuse: refuse-a\)/);
    const j = json(await cli(['test', dir, '--json']));
    assert.equal(j.ok, false);
    assert.deepEqual(
      j.cases.map((c: { status: string }) => c.status),
      ['PASS', 'FAIL', 'ERROR'],
    );
    assert.deepEqual(j.unexercised, ['redact-b']);
    assert.deepEqual(j.summary, { total: 3, pass: 1, fail: 1, error: 1, todo: 0 });
  });

  it('rejects a malformed test file with the path of the fault (exit 1)', async () => {
    const dir = folder({
      'policy.json': good,
      'bad.test.json': suite([{ name: 'x', request: 'hi', expect: { action: 'explode' } }]),
    });
    const r = await cli(['test', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /INVALID test file .*bad\.test\.json:\n {2}cases\[0\]\.expect\.action: /);
    assert.equal(json(await cli(['test', dir, '--json'])).issues[0].path, 'cases[0].expect.action');
  });

  it('fails when there are no cases, and when the policy itself is invalid', async () => {
    const empty = await cli(['test', folder({ 'policy.json': good })]);
    assert.equal(empty.code, 1);
    assert.match(empty.stdout, /no test cases/);
    const invalid = await cli(['test', folder({ 'policy.json': { ...good, apiVersion: 'v0' } }), '--json']);
    assert.equal(invalid.code, 1);
    assert.equal(json(invalid).issues[0].path, 'apiVersion');
  });
});
