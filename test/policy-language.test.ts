import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { evaluateStage, refusalMessage, type RequestMeta } from '../policies/engine.js';
import { compilePolicy, loadPolicy, PolicyError } from '../policies/load.js';

const classifiers = [
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
];
const policy = (rules: object[], extra: object = {}) =>
  compilePolicy({ apiVersion: 'gateway/v1', id: 't', classifiers, rules, ...extra });
const req = (...messages: [string, string][]) => ({
  model: 'm',
  messages: messages.map(([role, content]) => ({ role, content })),
});
const meta = (m: Partial<RequestMeta> = {}): RequestMeta => ({
  tenant: null,
  key: null,
  model: 'm',
  route: '/v1/chat/completions',
  headers: {},
  ...m,
});
const input = (p: ReturnType<typeof policy>, doc: unknown, m?: Partial<RequestMeta>) =>
  evaluateStage(p, { stage: 'input', doc, meta: meta(m) });
const score = (label: string, threshold = 0.5) => ({ classifier: 'c', label, threshold });

describe('rule selection with JSONPath', () => {
  it('reads every role by default, the system prompt too; a rule can leave roles out', async () => {
    const p = policy([{ id: 'r', stage: 'input', when: score('a'), action: 'refuse' }]);
    assert.equal((await input(p, req(['system', 'aaa'], ['user', 'hi']))).action, 'refuse');
    assert.equal((await input(p, req(['system', 'x'], ['tool', 'aaa']))).action, 'refuse');
    const users = policy([
      { id: 'r', stage: 'input', conversation: { ignoreRoles: ['system'] }, when: score('a'), action: 'refuse' },
    ]);
    assert.equal((await input(users, req(['system', 'aaa'], ['user', 'hi']))).action, 'allow');
  });

  it('reads what select names: the last message only, or a filter on role', async () => {
    const last = policy([
      { id: 'r', stage: 'input', select: '$.messages[-1:].content', when: score('a'), action: 'refuse' },
    ]);
    assert.equal((await input(last, req(['user', 'aaa'], ['user', 'fine']))).action, 'allow');
    assert.equal((await input(last, req(['user', 'fine'], ['user', 'aaa']))).action, 'refuse');
    const system = policy([
      { id: 'r', stage: 'input', select: "$.messages[?(@.role=='system')].content", when: score('a'), action: 'flag' },
    ]);
    assert.equal((await input(system, req(['system', 'aaa'], ['user', 'x']))).action, 'flag');
  });

  it('reads the text parts of multi-part content and redacts them in place', async () => {
    const p = policy([{ id: 'r', stage: 'input', when: score('a'), action: 'redact', replacement: '[X]' }]);
    const doc = {
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'x aaa y' },
            { type: 'image_url', image_url: { url: 'u' } },
          ],
        },
      ],
    };
    const d = await input(p, doc);
    assert.equal(d.action, 'redact');
    assert.deepEqual([...d.rewrites], [['/messages/0/content/0/text', 'x [X] y']]);
  });
});

describe('conditions', () => {
  it('combines conditions with all, any and not', async () => {
    const p = policy([{ id: 'r', stage: 'input', when: { all: [score('a'), { not: score('b') }] }, action: 'refuse' }]);
    assert.equal((await input(p, req(['user', 'aaa']))).action, 'refuse');
    assert.equal((await input(p, req(['user', 'aaa bbb']))).action, 'allow');
    const any = policy([{ id: 'r', stage: 'input', when: { any: [score('a'), score('b')] }, action: 'flag' }]);
    assert.equal((await input(any, req(['user', 'bbb']))).action, 'flag');
  });

  it('compares scores with other operators', async () => {
    const p = policy([
      { id: 'r', stage: 'input', when: { classifier: 'c', label: 'a', op: '<', threshold: 0.5 }, action: 'flag' },
    ]);
    assert.equal((await input(p, req(['user', 'x']))).action, 'flag');
    assert.equal((await input(p, req(['user', 'aaa']))).action, 'allow');
  });

  it('tests the text itself: regex, contains, length', async () => {
    const p = policy([
      { id: 'long', stage: 'input', when: { text: { length: { min: 20 } } }, action: 'flag' },
      {
        id: 'word',
        stage: 'input',
        when: { text: { contains: 'Secret Plan' } },
        action: 'redact',
        replacement: '[plan]',
      },
      { id: 'rx', stage: 'input', when: { text: { regex: 'drop\\s+table' } }, action: 'refuse' },
    ]);
    assert.equal((await input(p, req(['user', 'short']))).action, 'allow');
    assert.equal((await input(p, req(['user', 'this text is long enough']))).action, 'flag');
    const red = await input(p, req(['user', 'the secret plan']));
    assert.equal(red.rewrites.get('/messages/0/content'), 'the [plan]');
    assert.equal((await input(p, req(['user', 'DROP   TABLE users']))).action, 'refuse');
  });

  it('tests request metadata: tenant, key, model, route and headers', async () => {
    const p = policy([
      { id: 't', stage: 'input', when: { meta: 'tenant', in: ['acme', 'globex'] }, action: 'flag' },
      {
        id: 'h',
        stage: 'input',
        when: { meta: 'header', name: 'X-Env', equals: 'prod' },
        action: 'refuse',
        message: 'no',
      },
      { id: 'm', stage: 'input', when: { all: [{ meta: 'model', regex: '^gpt-' }, score('a')] }, action: 'refuse' },
    ]);
    assert.equal((await input(p, req(['user', 'x']), { tenant: 'acme' })).action, 'flag');
    assert.equal((await input(p, req(['user', 'x']), { tenant: 'initech' })).action, 'allow');
    assert.equal((await input(p, req(['user', 'x']), { headers: { 'x-env': 'prod' } })).action, 'refuse');
    assert.equal((await input(p, req(['user', 'aaa']), { model: 'gpt-4o' })).action, 'refuse');
    assert.equal((await input(p, req(['user', 'aaa']), { model: 'llama' })).action, 'allow');
  });

  it('records every condition with its value in the trace, matched or not', async () => {
    const p = policy([{ id: 'r', stage: 'input', when: { all: [score('a'), score('b')] }, action: 'refuse' }]);
    const d = await input(p, req(['user', 'aaa']));
    assert.deepEqual(d.trace[0], {
      id: 'r',
      matched: false,
      mode: 'enforce',
      select: '(conversation)',
      conditions: [
        { condition: 'c.a >= 0.5', value: 1, result: true },
        { condition: 'c.b >= 0.5', value: 0, result: false },
      ],
    });
  });
});

describe('actions and modes', () => {
  it('routes a request to another model, and refuse still beats route', async () => {
    const p = policy([
      { id: 'cheap', stage: 'input', when: score('a'), action: 'route', route: { model: 'small-model' } },
      { id: 'no', stage: 'input', when: score('b'), action: 'refuse' },
    ]);
    const d = await input(p, req(['user', 'aaa']));
    assert.equal(d.action, 'route');
    assert.deepEqual(d.route, { model: 'small-model' });
    assert.equal((await input(p, req(['user', 'aaa bbb']))).action, 'refuse');
  });

  it('records shadow rules without enforcing them, and skips disabled ones', async () => {
    const p = policy([
      { id: 'try', stage: 'input', when: score('a'), action: 'refuse', mode: 'shadow' },
      { id: 'off', stage: 'input', when: score('a'), action: 'refuse', mode: 'disabled' },
    ]);
    const d = await input(p, req(['user', 'aaa']));
    assert.equal(d.action, 'allow');
    assert.deepEqual(
      d.shadow.map((m) => m.id),
      ['try'],
    );
    assert.deepEqual(
      d.trace.map((t) => t.id),
      ['try'],
    );
  });

  it('uses the category refusal when a rule has no message, and a disabled policy decides nothing', async () => {
    const p = policy([{ id: 'r', stage: 'input', category: 'x', when: score('a'), action: 'refuse' }], {
      taxonomy: [{ id: 'x', description: 'x things' }],
      defaults: { messages: { x: 'Not that ({rule}).' } },
    });
    assert.equal(refusalMessage(await input(p, req(['user', 'aaa']))), 'Not that (r).');
    const off = policy([{ id: 'r', stage: 'input', when: score('a'), action: 'refuse' }], { mode: 'disabled' });
    assert.equal((await input(off, req(['user', 'aaa']))).action, 'allow');
  });
});

describe('extends', () => {
  it('builds on another policy file, replacing items with the same id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-ext-'));
    writeFileSync(
      join(dir, 'base.json'),
      JSON.stringify({
        apiVersion: 'gateway/v1',
        id: 'base',
        classifiers,
        rules: [
          { id: 'r1', stage: 'input', when: score('a'), action: 'refuse' },
          { id: 'r2', stage: 'input', when: score('b'), action: 'refuse' },
        ],
      }),
    );
    writeFileSync(
      join(dir, 'policy.json'),
      JSON.stringify({
        apiVersion: 'gateway/v1',
        id: 'child',
        extends: 'base.json',
        rules: [{ id: 'r2', stage: 'input', when: score('b'), action: 'flag' }],
      }),
    );
    const p = loadPolicy(dir);
    assert.equal(p.policy.id, 'child');
    assert.equal((await input(p, req(['user', 'aaa']))).action, 'refuse');
    assert.equal((await input(p, req(['user', 'bbb']))).action, 'flag');
    writeFileSync(
      join(dir, 'base.json'),
      JSON.stringify({ apiVersion: 'gateway/v1', id: 'base', extends: 'policy.json', classifiers }),
    );
    assert.throws(
      () => loadPolicy(dir),
      (e: Error) => e instanceof PolicyError && /extends/.test(e.message),
    );
  });
});

describe('semantic validation', () => {
  const issues = (doc: object) => {
    try {
      compilePolicy({ apiVersion: 'gateway/v1', id: 't', classifiers, ...doc });
    } catch (e) {
      return (e as PolicyError).issues.map((i) => `${i.path}: ${i.message}`);
    }
    return [];
  };

  it('rejects unsafe or invalid JSONPath, unknown categories, bad regexes and bad route rules with the path', () => {
    assert.match(
      issues({
        rules: [
          {
            id: 'r',
            stage: 'input',
            select: "$..[?(@.constructor.constructor('return process')())]",
            when: score('a'),
            action: 'flag',
          },
        ],
      })[0],
      /^rules\[0\]\.select: property "constructor" is not allowed/,
    );
    assert.match(
      issues({ rules: [{ id: 'r', stage: 'input', category: 'nope', when: score('a'), action: 'flag' }] })[0],
      /^rules\[0\]\.category: no category "nope"/,
    );
    assert.match(
      issues({
        rules: [{ id: 'r', stage: 'input', when: { any: [score('a'), { text: { regex: '(' } }] }, action: 'flag' }],
      })[0],
      /^rules\[0\]\.when\.any\[1\]\.text\.regex: /,
    );
    assert.match(
      issues({ rules: [{ id: 'r', stage: 'input', when: score('a'), action: 'route' }] })[0],
      /^rules\[0\]\.route: a route rule names route\.model/,
    );
    assert.match(
      issues({ rules: [{ id: 'r', stage: 'both', select: '$.x', when: score('a'), action: 'flag' }] })[0],
      /^rules\[0\]\.select: a rule with a select names one stage/,
    );
    assert.match(
      issues({ taxonomy: [{ id: 'child', parent: 'ghost' }] })[0],
      /^taxonomy\[0\]\.parent: no category "ghost"/,
    );
    assert.match(
      issues({
        rubrics: [
          {
            id: 'x',
            question: 'q',
            options: [
              { letter: 'A', meaning: 'm', desired: { safe: true, unsafe: false } },
              { letter: 'A', meaning: 'n', desired: { safe: true, unsafe: false } },
            ],
          },
        ],
      })[0],
      /^rubrics\[0\]\.options: option letters must be unique/,
    );
  });
});
