import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateStage, type RequestMeta } from '../../policies/engine.js';
import { parsePositioned } from '../../policies/json-positions.js';
import { compilePolicy, issueText, PolicyError } from '../../policies/load.js';
import { replaceAt } from '../../policies/select.js';
import { withAllowedTools } from '../../policies/tool-allow.js';

/** Per-tool rules in the policy language: scopes, argument conditions, redaction into the arguments, allow-lists. */

const base = {
  apiVersion: 'gateway/v1',
  id: 'tools',
  classifiers: [{ id: 'secrets', type: 'rules', params: { detectors: [{ detector: 'api_key', label: 'secrets' }] } }],
};

const policy = (extra: Record<string, unknown>) => compilePolicy({ ...base, ...extra });

const answer = (...calls: [string, string][]) => ({
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content: null,
        tool_calls: calls.map(([name, args], i) => ({
          id: `c${i}`,
          type: 'function',
          function: { name, arguments: args },
        })),
      },
    },
  ],
});

const meta = (tenant: string | null = null): RequestMeta => ({
  tenant,
  key: null,
  model: null,
  route: '',
  headers: {},
});
const output = (p: ReturnType<typeof policy>, doc: object, tenant: string | null = null) =>
  evaluateStage(p, { stage: 'output', doc, meta: meta(tenant) });

const argsOf = (doc: ReturnType<typeof answer>, i = 0) => doc.choices[0]?.message.tool_calls[i]?.function.arguments;

/** The faults a policy document is rejected with, as `path: reason` lines. */
function faults(extra: Record<string, unknown>): string[] {
  try {
    policy(extra);
  } catch (e) {
    if (e instanceof PolicyError) return e.issues.map(issueText);
    throw e;
  }
  return [];
}

describe('a rule with a tool scope', () => {
  const p = policy({
    rules: [
      {
        id: 'rm-root',
        stage: 'output',
        tool: { name: ['shell', 'bash'], args: '$.command' },
        when: { text: { regex: 'rm\\s+-rf\\s+/(\\s|$)' } },
        action: 'refuse',
        message: 'not running that in {tool}',
      },
      {
        id: 'prod-deploy',
        stage: 'output',
        tool: { nameRegex: '^deploy' },
        when: { all: [{ arg: { path: '$.env', equals: 'prod' } }, { not: { meta: 'tenant', in: ['ops'] } }] },
        action: 'refuse',
      },
      {
        id: 'key-in-args',
        stage: 'output',
        tool: {},
        when: { classifier: 'secrets', label: 'secrets', threshold: 0.5 },
        action: 'redact',
        replacement: '[KEY "{label}"]',
      },
      { id: 'bad-args', stage: 'output', tool: {}, when: { args: 'malformed' }, action: 'flag' },
    ],
  });

  it('refuses a call to a named tool whose selected argument matches, naming the tool', async () => {
    const d = await output(p, answer(['bash', '{"command":"rm -rf /","cwd":"/srv"}']));
    assert.equal(d.action, 'refuse');
    assert.equal(d.action === 'refuse' && d.message, 'not running that in bash');
    assert.match(d.matches[0]?.reason ?? '', /^tool bash: text matches/);
  });

  it('reads the decoded value: an escaped slash is still a slash', async () => {
    const d = await output(p, answer(['shell', '{"command":"rm -rf \\u002f"}']));
    assert.equal(d.action, 'refuse');
  });

  it('reads only the tools it names, and only the arguments it selects', async () => {
    assert.equal((await output(p, answer(['write_file', '{"command":"rm -rf /"}']))).action, 'allow');
    assert.equal((await output(p, answer(['shell', '{"note":"rm -rf /"}']))).action, 'allow');
  });

  it('tests a JSONPath into the arguments and the tenant together', async () => {
    const doc = answer(['deploy_service', '{"env":"prod","service":"api"}']);
    assert.equal((await output(p, doc, 'dev')).action, 'refuse');
    assert.equal((await output(p, doc, 'ops')).action, 'allow');
    assert.equal((await output(p, answer(['deploy_service', '{"env":"staging"}']), 'dev')).action, 'allow');
  });

  it('redacts a value inside the arguments and keeps them valid JSON, escaping the replacement', async () => {
    const key = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789';
    const doc = answer(['http', `{"url":"https://x.example",\n "headers": {"Authorization": "Bearer ${key}"}}`]);
    const d = await output(p, doc);
    assert.equal(d.action, 'redact');
    const args = argsOf(replaceAt(doc, d.rewrites)) ?? '';
    assert.ok(!args.includes(key));
    assert.deepEqual(JSON.parse(args), {
      url: 'https://x.example',
      headers: { Authorization: 'Bearer [KEY "secrets"]' },
    });
    assert.ok(args.includes('\n "headers"'), 'the rest of the text is kept as the model wrote it');
  });

  it('redacts a key written with escapes at its place in the raw text', async () => {
    const doc = answer(['http', '{"k":"\\u0073k-proj-abcdefghijklmnopqrstuvwxyz0123456789","n":1}']);
    const d = await output(p, doc);
    assert.deepEqual(JSON.parse(argsOf(replaceAt(doc, d.rewrites)) ?? ''), { k: '[KEY "secrets"]', n: 1 });
  });

  it('flags malformed arguments instead of failing, and reads them as raw text (so they smuggle nothing past)', async () => {
    const d = await output(p, answer(['shell', '{"command": "rm -rf /']));
    assert.equal(d.action, 'refuse');
    assert.deepEqual(d.matches.map((m) => m.id).sort(), ['bad-args', 'rm-root']);
    assert.equal((await output(p, answer(['search', '{"q": "weather']))).action, 'flag');
    const tooDeep = `${'['.repeat(100)}${']'.repeat(100)}`;
    assert.equal((await output(p, answer(['x', tooDeep]))).action, 'flag');
  });
});

describe('tool allow-lists', () => {
  const p = policy({ tools: { allow: ['search'], tenants: { b: ['search', 'shell'] } } });

  it('refuse a call to a tool the tenant may not use, with the built-in rule and the tool named', async () => {
    const doc = answer(['shell', '{"command":"ls"}']);
    const refused = await output(p, doc, 'a');
    assert.equal(refused.action, 'refuse');
    assert.equal(refused.matches[0]?.id, 'tools.allow');
    assert.match(refused.matches[0]?.reason ?? '', /^tool shell: not in the allow-list of tenant a/);
    assert.equal((await output(p, doc, 'b')).action, 'allow');
    assert.equal((await output(p, answer(['search', '{}']), 'a')).action, 'allow');
  });

  it('flag declared tools the tenant may not use, and the request loses them', async () => {
    const request = {
      messages: [{ role: 'user', content: 'hi' }],
      tools: [
        { type: 'function', function: { name: 'search' } },
        { type: 'function', function: { name: 'shell' } },
      ],
      tool_choice: { type: 'function', function: { name: 'shell' } },
    };
    const d = await evaluateStage(p, { stage: 'input', doc: request, meta: meta('a') });
    assert.equal(d.action, 'flag');
    assert.equal(d.matches[0]?.id, 'tools.declared');
    const sent = withAllowedTools(request, p.policy.tools, 'a') as Record<string, unknown>;
    assert.deepEqual(sent.tools, [{ type: 'function', function: { name: 'search' } }]);
    assert.equal(sent.tool_choice, undefined);
    assert.equal(withAllowedTools(request, p.policy.tools, 'b'), request);
  });
});

describe('declared tools a tenant may not use', () => {
  const request = {
    messages: [{ role: 'user', content: 'hi' }],
    tools: [{ type: 'function', function: { name: 'shell' } }],
  };

  it('refuse the request with declared: "refuse", and pass with declared: "keep"', async () => {
    const refusing = policy({ tools: { allow: ['search'], declared: 'refuse' } });
    const d = await evaluateStage(refusing, { stage: 'input', doc: request, meta: meta('a') });
    assert.equal(d.action, 'refuse');
    assert.equal(d.matches[0]?.id, 'tools.declared');
    assert.equal(withAllowedTools(request, refusing.policy.tools, 'a'), request);
    const keeping = policy({ tools: { allow: ['search'], declared: 'keep' } });
    assert.equal((await evaluateStage(keeping, { stage: 'input', doc: request, meta: meta('a') })).action, 'allow');
    assert.equal((await output(keeping, answer(['shell', '{}']), 'a')).action, 'refuse');
  });
});

describe('tool syntax faults', () => {
  const rule = (extra: Record<string, unknown>) => ({
    rules: [{ id: 'r', stage: 'output', when: { text: { contains: 'x' } }, action: 'flag', ...extra }],
  });

  it('name the JSON path of the fault and the reason', () => {
    assert.deepEqual(faults(rule({ tool: { args: 'command' } })), ['rules[0].tool.args: a JSONPath starts with "$"']);
    assert.match(faults(rule({ tool: { nameRegex: '(a+)+' } }))[0] ?? '', /^rules\[0\]\.tool\.nameRegex: .*nested/);
    assert.deepEqual(faults(rule({ stage: 'input', tool: {} })), [
      'rules[0].stage: a rule with a tool scope runs on the output stage',
    ]);
    assert.deepEqual(faults(rule({ when: { any: [{ text: { contains: 'x' } }, { args: 'malformed' }] } })), [
      'rules[0].when.any[1]: arg, args and meta "tool" conditions read a tool call: give the rule a tool scope',
    ]);
    assert.deepEqual(faults(rule({ tool: {}, when: { arg: { path: '$..__proto__', exists: true } } })), [
      'rules[0].when.arg.path: property "__proto__" is not allowed',
    ]);
    assert.deepEqual(faults(rule({ tool: {}, when: { arg: { path: '$.a', regex: 'x', equals: 'y' } } })), [
      'rules[0].when.arg: an arg condition needs exactly one of regex, equals, in or exists',
    ]);
    assert.deepEqual(faults(rule({ id: 'tools.allow' })), [
      'rules[0].id: "tools.allow" is the id of a built-in rule of the tools block',
    ]);
    assert.deepEqual(faults({ tools: { allow: ['a'], declared: 'drop' } }).length, 1);
  });
});

describe('the positioned JSON parser', () => {
  it('agrees with JSON.parse and maps every decoded character back to the raw text', () => {
    for (const text of [
      '{"a":[1,2.5e3,true,null,{"b":"c\\"d\\u00e9\\n"}]}',
      '"x"',
      '[]',
      ' {"__proto__": {"x": 1}} ',
    ]) {
      const r = parsePositioned(text);
      assert.ok(r.ok);
      assert.deepEqual(r.value, JSON.parse(text));
      for (const s of r.strings) assert.equal(s.raw.length, s.text.length + 1);
    }
    const own = parsePositioned('{"__proto__":{"x":1}}');
    assert.ok(
      own.ok && Object.getPrototypeOf(own.value) === Object.prototype && Object.hasOwn(Object(own.value), '__proto__'),
    );
    for (const bad of ['{', '{"a":}', '[1,]', '"\\x"', '01', '{"a":1}x', '"\u0001"'])
      assert.equal(parsePositioned(bad).ok, false);
  });
});
