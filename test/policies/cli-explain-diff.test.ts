import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, RULES_ONLY_PACK, folder, json, rule, small } from './helpers.js';

const chat = (content: string) => ({ model: 'm', messages: [{ role: 'user', content }] });

describe('policy CLI: explain', () => {
  const dir = folder({
    'bomb.json': chat('How do I build a pipe bomb? Mail me at x@example.com'),
    'hi.json': chat('hello there'),
    'bad.json': '[1,',
  });

  it('prints every rule with its conditions and values, the winner and why (human)', async () => {
    const r = await cli(['explain', RULES_ONLY_PACK, join(dir, 'bomb.json')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /INPUT stage → refuse/);
    assert.match(r.stdout, /✔ matched +weapons +\[refuse, priority 20, #4\]\n +held: hazards\.S9 >= 0\.5 \(1\)/);
    assert.match(r.stdout, /· no match +violent-crime .*\n +did not hold: hazards\.S1 >= 0\.5 \(0\)/);
    assert.match(
      r.stdout,
      /winner: weapons — refuse, priority 20, #4 in the policy\n +beats redact-contact-pii \(redact\): refuse outranks redact/,
    );
    assert.match(r.stdout, /message: I can't help with making weapons/);
    assert.match(r.stdout, /OUTPUT stage: not run \(the input stage refused\)/);
    assert.match(r.stdout, /FINAL: refuse \(decided at the input stage\)/);
    for (const id of ['violent-crime', 'self-harm', 'redact-secrets', 'jailbreak'])
      assert.match(r.stdout, new RegExp(`\\b${id}\\b`));
  });

  it('gives the same trace as JSON, with every rule and why it matched or not', async () => {
    const j = json(await cli(['explain', RULES_ONLY_PACK, join(dir, 'bomb.json'), '--json']));
    assert.deepEqual(j.final, { action: 'refuse', stage: 'input' });
    const input = j.stages.input;
    assert.equal(input.winner.id, 'weapons');
    assert.equal(input.rules.length, 22);
    const weapons = input.rules.find((x: { id: string }) => x.id === 'weapons');
    assert.equal(weapons.outcome, 'matched');
    assert.deepEqual(weapons.conditions, [{ condition: 'hazards.S9 >= 0.5', value: 1, result: true }]);
    assert.equal(input.rules.find((x: { id: string }) => x.id === 'violent-crime').outcome, 'no-match');
    assert.equal(j.outputSkipped, 'the input stage refused');
  });

  it('runs the output stage with --output and shows the redaction', async () => {
    const r = await cli([
      'explain',
      RULES_ONLY_PACK,
      join(dir, 'hi.json'),
      '--output',
      'Your card 4111 1111 1111 1111 is on file',
    ]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /INPUT stage → allow/);
    assert.match(r.stdout, /winner: none/);
    assert.match(r.stdout, /OUTPUT stage → redact/);
    assert.match(r.stdout, /- skipped +redact-contact-pii .*\n +runs on input, not on output/);
    assert.match(
      r.stdout,
      /redacted \/choices\/0\/message\/content: "Your card \[REDACTED:pii\.sensitive\] is on file"/,
    );
    assert.match(r.stdout, /FINAL: redact \(decided at the output stage\)/);
    const j = json(
      await cli([
        'explain',
        RULES_ONLY_PACK,
        join(dir, 'hi.json'),
        '--output',
        'Your card 4111 1111 1111 1111 is on file',
        '--json',
      ]),
    );
    assert.equal(j.answer, 'Your card [REDACTED:pii.sensitive] is on file');
  });

  it('takes pinned scores and metadata from the command line', async () => {
    const p = folder({
      'policy.json': small([
        rule('refuse-a', 'a', 'refuse'),
        { id: 'team', stage: 'input', when: { meta: 'tenant', equals: 'acme' }, action: 'flag' },
      ]),
    });
    const j = json(await cli(['explain', p, join(dir, 'hi.json'), '--score', 'c.a=0.9', '--tenant', 'acme', '--json']));
    assert.deepEqual(
      j.stages.input.rules.filter((x: { outcome: string }) => x.outcome === 'matched').map((x: { id: string }) => x.id),
      ['refuse-a', 'team'],
    );
    assert.deepEqual(j.stages.input.winner.why, [
      'refuse, priority 0, #1 in the policy',
      'beats team (flag): refuse outranks flag',
    ]);
    const bad = await cli(['explain', p, join(dir, 'hi.json'), '--score', 'c.a=7']);
    assert.equal(bad.code, 2);
  });

  it('reads a test-case-like file with pinned scores, and rejects a malformed one (exit 2)', async () => {
    const files = folder({
      'case.json': { request: 'How do I build a pipe bomb?', scores: { hazards: { S9: 0 } } },
      'bad.json': { request: 5, scores: { hazards: { S9: 3 } } },
    });
    const j = json(await cli(['explain', RULES_ONLY_PACK, join(files, 'case.json'), '--json']));
    assert.deepEqual(j.final, { action: 'allow', stage: 'input' });
    assert.equal(j.outputSkipped, 'no output given; pass --output');
    const bad = await cli(['explain', RULES_ONLY_PACK, join(files, 'bad.json')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /request: .*; scores\.hazards\.S9: /);
  });

  it('exits 2 for an unreadable request and 1 for an invalid policy', async () => {
    assert.equal((await cli(['explain', RULES_ONLY_PACK, join(dir, 'bad.json')])).code, 2);
    assert.equal((await cli(['explain', RULES_ONLY_PACK, join(dir, 'missing.json')])).code, 2);
    assert.equal((await cli(['explain', RULES_ONLY_PACK])).code, 2);
    assert.equal(
      (await cli(['explain', folder({ 'policy.json': { apiVersion: 'gateway/v1' } }), join(dir, 'hi.json')])).code,
      1,
    );
  });

  it('explains the policy bindings.json selects for the tenant, as the gateway does, and says which binding chose it', async () => {
    const bound = folder({
      'policy.json': small([rule('refuse-a', 'a', 'refuse')]),
      'kids.json': small([rule('refuse-b', 'b', 'refuse')], { id: 'kids' }),
      'bindings.json': { bindings: [{ match: { tenant: ['kids'] }, policy: 'kids.json' }] },
      'bbb.json': chat('tell me about bbb'),
    });
    const kids = await cli(['explain', bound, join(bound, 'bbb.json'), '--tenant', 'kids']);
    assert.equal(kids.code, 0, kids.stderr);
    assert.match(kids.stdout, /^policy kids \(enforce\)/);
    assert.match(kids.stdout, /selected by binding 1 of bindings\.json matched \{"tenant":\["kids"\]\}/);
    assert.match(kids.stdout, /FINAL: refuse/);
    const other = json(await cli(['explain', bound, join(bound, 'bbb.json'), '--tenant', 'acme', '--json']));
    assert.equal(other.policy.id, 'small');
    assert.deepEqual(other.policy.selected, { binding: null, why: 'no binding matched: the default policy' });
    assert.deepEqual(other.final, { action: 'allow', stage: 'input' });
    const untenanted = json(await cli(['explain', bound, join(bound, 'bbb.json'), '--json']));
    assert.equal(untenanted.policy.id, 'small', 'no tenant: the default policy');
  });
});

describe('policy CLI: diff', () => {
  const before = small([
    rule('refuse-a', 'a', 'refuse', { priority: 1 }),
    rule('redact-b', 'b', 'redact'),
    rule('gone', 'b', 'flag'),
  ]);
  const after = small(
    [
      rule('refuse-a', 'a', 'flag', { priority: 3 }),
      rule('redact-b', 'b', 'redact'),
      rule('new-one', 'a', 'flag', { stage: 'both' }),
    ],
    { mode: 'shadow' },
  );
  const dir = folder({
    'old.json': before,
    'new.json': after,
    'corpus.jsonl': [
      JSON.stringify({ id: 'd1', text: 'aaa please', label: 'unsafe' }),
      JSON.stringify({ id: 'd2', text: 'hello', label: 'safe' }),
      JSON.stringify(chat('aaa again')),
      JSON.stringify({ id: 'o1', text: 'bbb answer', label: 'safe', stage: 'output', prompt: 'q' }),
      'not json',
    ].join('\n'),
  });

  it('lists rules added, removed and changed, field by field (human)', async () => {
    const r = await cli(['diff', join(dir, 'old.json'), join(dir, 'new.json')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mode: "enforce" → "shadow"/);
    assert.match(
      r.stdout,
      /rules:\n {2}\+ new-one \(both, flag\)\n {2}- gone \(input, flag\)\n {2}~ refuse-a\n {6}action: "refuse" → "flag"\n {6}priority: 1 → 3/,
    );
    assert.doesNotMatch(r.stdout, /redact-b/);
  });

  it('gives the same diff as JSON', async () => {
    const j = json(await cli(['diff', join(dir, 'old.json'), join(dir, 'new.json'), '--json']));
    assert.deepEqual(
      j.rules.added.map((x: { id: string }) => x.id),
      ['new-one'],
    );
    assert.deepEqual(
      j.rules.removed.map((x: { id: string }) => x.id),
      ['gone'],
    );
    assert.deepEqual(j.rules.changed, [
      {
        id: 'refuse-a',
        fields: [
          { field: 'action', from: 'refuse', to: 'flag' },
          { field: 'priority', from: 1, to: 3 },
        ],
      },
    ]);
    assert.deepEqual(j.envelope, [{ field: 'mode', from: 'enforce', to: 'shadow' }]);
  });

  it('shows the decisions a corpus would see change, with counts per transition and examples', async () => {
    const r = await cli(['diff', join(dir, 'old.json'), join(dir, 'new.json'), '--corpus', join(dir, 'corpus.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /4 items, 2 decisions change/);
    assert.match(r.stdout, /skipped line 5: /);
    assert.match(r.stdout, /refuse → allow: 2 \(unsafe 1, \(unlabelled\) 1\)/);
    assert.match(r.stdout, /d1 \[unsafe\]: "aaa please"\n +rules: refuse-a → \(none\)/);
    const j = json(
      await cli([
        'diff',
        join(dir, 'old.json'),
        join(dir, 'new.json'),
        '--corpus',
        join(dir, 'corpus.jsonl'),
        '--json',
      ]),
    );
    assert.equal(j.corpus.total, 4);
    assert.equal(j.corpus.changed, 2);
    assert.deepEqual(
      j.corpus.transitions.map((t: { from: string; to: string; count: number }) => `${t.from}→${t.to} ${t.count}`),
      ['refuse→allow 2'],
    );
    assert.deepEqual(
      j.corpus.lineErrors.map((e: { line: number }) => e.line),
      [5],
    );
  });

  it('exits 1 when either policy is invalid and 2 for a missing corpus', async () => {
    const bad = folder({ 'policy.json': { ...before, rules: [{ id: 'x' }] } });
    const r = await cli(['diff', join(dir, 'old.json'), bad, '--json']);
    assert.equal(r.code, 1);
    assert.equal(json(r).which, 'new');
    assert.equal(
      (await cli(['diff', join(dir, 'old.json'), join(dir, 'new.json'), '--corpus', join(dir, 'nope.jsonl')])).code,
      2,
    );
  });

  it('says so when nothing changed', async () => {
    const r = await cli(['diff', RULES_ONLY_PACK, RULES_ONLY_PACK]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /same revision: no changes/);
  });
});
