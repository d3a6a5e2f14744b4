import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { registerClassifierType } from '../classifiers/registry.js';
import { after, before, describe, it } from 'node:test';
import { Agent, request as undiciRequest } from 'undici';
import type { StreamOptions } from '../gateway/pipeline/stream-options.js';
import { heldTailStart } from '../gateway/pipeline/stream-tail.js';
import { auth, chat, startTestGateway, type TestGateway } from './support/harness.js';
import { serveLocal, type LocalServer } from './support/local-server.js';
import { finishOf, sseChat, textOf } from './support/sse-client.js';
import { startStubUpstream, type StubUpstream } from './support/stub-upstream.js';

/** Secrets and PII the default pack redacts in answers, each as a model might write it. */
const SECRETS = {
  'an API key': 'sk-proj-abcdefghijklmnopqrstuvwxyz012345',
  'a card number': '4111 1111 1111 1111',
  'an IBAN': 'GB82 WEST 1234 5698 7654 32',
  'a US SSN': '123-45-6789',
  'a UK NI number': 'AB 12 34 56 C',
  'a JWT': 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  'a private key':
    '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----',
} as const;

const words = (from: number, n: number) => Array.from({ length: n }, (_, i) => `word${from + i} `);

/**
 * One scripted answer per case: `<name>|<split>` puts the secret after a few words, cut in two at offset `split`
 * (the first part sent with the text before it), or with `split` -1 in one-character deltas.
 */
function piecesFor(prompt: string): string[] {
  const [name, at] = prompt.split('|');
  const secret = SECRETS[name as keyof typeof SECRETS];
  const split = Number(at);
  const parts = split < 0 ? [...secret] : [secret.slice(0, split), secret.slice(split)];
  const [head = '', ...rest] = parts;
  return [...words(0, 3), `it is ${head}`, ...rest.filter(Boolean), ' and then ', ...words(3, 3)].filter(Boolean);
}

/**
 * The modes that hold text until it is checked. Buffer mode's guarantee reaches as far as its overlap, so there the
 * JWT (longer than 45 characters, whose parts match nothing alone) is left out.
 */
const HOLDING: [string, Partial<StreamOptions> | undefined, string[]][] = [
  ['progressive mode (the default)', undefined, []],
  [
    'buffer mode, with a window edge inside the secret',
    { mode: 'buffer', windowChars: 60, overlapChars: 45 },
    ['a JWT'],
  ],
];

for (const [modeName, settings, beyond] of HOLDING)
  describe(`${modeName} with the default pack`, () => {
    let stub: StubUpstream;
    let gw: TestGateway;
    const dispatcher = new Agent({ connections: 64 });
    before(async () => {
      // A pause before every delta, so the gateway checks (and may release) after each one.
      stub = await startStubUpstream({ pieces: piecesFor, reply: (u) => piecesFor(u).join(''), delayMs: () => 1 });
      gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: stub.url, GATEWAY_AUDIT_CONTENT: 'full' });
      if (settings) gw.pipeline.streamSettings = settings;
    });
    after(async () => {
      await dispatcher.close();
      await gw.close();
      await stub.close();
    });

    for (const [name, secret] of Object.entries(SECRETS)) {
      if (beyond.includes(name)) continue;
      it(`never sends any part of ${name} split across deltas at any offset: the stream ends as the whole answer redacted`, async () => {
        const whole = await undiciRequest(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          dispatcher,
          headers: { 'content-type': 'application/json', ...auth },
          body: JSON.stringify(chat(`${name}|-1`)),
        });
        const expected = ((await whole.body.json()) as { choices: { message: { content: string } }[] }).choices[0]
          .message.content;
        assert.ok(!expected.includes(secret.slice(0, 8)) && expected.includes('[REDACTED:'), expected);
        const splits = [-1, ...Array.from({ length: secret.length + 1 }, (_, i) => i)];
        for (let i = 0; i < splits.length; i += 16) {
          const batch = splits.slice(i, i + 16);
          const results = await Promise.all(
            batch.map((s) => sseChat(`${gw.url}/v1/chat/completions`, chat(`${name}|${s}`), auth, { dispatcher })),
          );
          results.forEach((r, j) => {
            const text = textOf(r.events);
            assert.equal(text, expected, `split at ${batch[j]}`);
            assert.equal(finishOf(r.events), 'stop');
          });
        }
        const rec = gw.records().at(-1);
        assert.equal(rec?.action, 'redact');
        assert.equal(rec?.content.output, expected, 'the record keeps what the client received');
      });
    }
  });

describe('progressive mode starts promptly', () => {
  let upstream: LocalServer;
  let gw: TestGateway;
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  before(async () => {
    // An upstream that sends the first words, then waits until the test has seen text arrive at the client.
    upstream = await serveLocal(async (req, res) => {
      for await (const _ of req);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const send = (delta: object, finish: string | null = null) =>
        res.write(
          `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
        );
      send({ role: 'assistant', content: '' });
      for (const w of ['Paris ', 'is ', 'the ', 'capital ', 'of ']) {
        send({ content: w });
        await new Promise((r) => setTimeout(r, 1));
      }
      await gate;
      send({ content: 'France.' });
      send({}, 'stop');
      res.end('data: [DONE]\n\n');
    });
    gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: upstream.url });
  });
  after(async () => {
    open();
    await gw.close();
    await upstream.close();
  });

  it('sends checked text before the upstream has finished its answer', async () => {
    const res = await undiciRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify(chat('capital of France?', { stream: true })),
    });
    let seen = '';
    let early = '';
    const decoder = new TextDecoder();
    const failAfter = setTimeout(
      () => void res.body.destroy(new Error('no text before the upstream finished')),
      10_000,
    );
    try {
      for await (const bytes of res.body) {
        seen += decoder.decode(bytes as Uint8Array, { stream: true });
        const text = [...seen.matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]).join('');
        if (!early && text.includes('Paris is the')) {
          early = text;
          open();
        }
      }
    } finally {
      clearTimeout(failAfter);
    }
    assert.ok(early.startsWith('Paris is the'), `text reached the client early: ${early}`);
    assert.ok(!early.includes('France'));
    assert.ok(seen.includes('France.') && seen.includes('"finish_reason":"stop"'));
  });
});

/** Every text a `test-model` classifier was asked about: it stands for a costly model and flags nothing. */
const modelReads: string[] = [];
registerClassifierType('test-model', {
  params: z.strictObject({}),
  create: ({ id, timeoutMs }) => ({
    id,
    timeoutMs,
    version: 'test-model/1',
    labels: ['bad'],
    classify(input) {
      if (input.stage === 'output') modelReads.push(input.text);
      return Promise.resolve({ scores: { bad: 0 }, explanation: 'counted' });
    },
  }),
});

describe('progressive mode with a model in the output stage', () => {
  it('lets its windows grow (32 characters, then twice as many each check) instead of checking every token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-model-'));
    writeFileSync(
      join(dir, 'policy.json'),
      JSON.stringify({
        apiVersion: 'gateway/v1',
        id: 'model',
        classifiers: [{ id: 'model', type: 'test-model' }],
        rules: [
          { id: 'm', stage: 'output', when: { classifier: 'model', label: 'bad', threshold: 0.5 }, action: 'refuse' },
        ],
      }),
    );
    const pieces = words(0, 100); // 100 deltas, about 700 characters, each after a pause
    const stub = await startStubUpstream({ pieces: () => pieces, delayMs: () => 1 });
    const gw = await startTestGateway({
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_POLICY: dir,
      GATEWAY_POLICY_WATCH: 'off',
    });
    try {
      modelReads.length = 0;
      const r = await sseChat(`${gw.url}/v1/chat/completions`, chat('go'), auth);
      assert.equal(textOf(r.events), pieces.join(''));
      // Windows of at least 32, 64, 128, 256, 400, ... new characters, then the final whole-text check.
      assert.ok(modelReads.length <= 6, `the model ran ${modelReads.length} times`);
      assert.equal(modelReads.at(-1), pieces.join(''));
    } finally {
      await gw.close();
      await stub.close();
    }
  });
});

describe('the held tail', () => {
  const tail = (text: string) => text.slice(heldTailStart(text, 0));
  it('holds the last word, which may still grow into a secret', () => {
    assert.equal(tail('the key is sk-proj-abc'), 'sk-proj-abc');
    assert.equal(tail('write to jane.doe@exa'), 'jane.doe@exa');
    assert.equal(tail('hello world'), 'world');
  });
  it('releases a finished lower-case word and a double space', () => {
    assert.equal(tail('hello world '), '');
    assert.equal(tail('card 4111  '), '');
  });
  it('holds spaced groups of digits and capitals that a card, IBAN, phone or key header may continue', () => {
    assert.equal(tail('card 4111 1111 '), '4111 1111 ');
    assert.equal(tail('iban GB82 WEST 12'), 'GB82 WEST 12');
    assert.equal(tail('call +1 (415) 555'), '+1 (415) 555');
    assert.equal(tail('here -----BEGIN RSA PRIV'), '-----BEGIN RSA PRIV');
  });
  it('holds letters spelled one at a time', () => {
    assert.equal(tail('the key: s k - p r o'), 'key: s k - p r o');
  });
  it('holds text in scripts without spaces no further back than their last ideograph, kana or hangul', () => {
    assert.equal(tail('这是一个很长的中文回答。然后'), '');
    assert.equal(tail('密钥是 sk-proj-abc'), 'sk-proj-abc');
    assert.equal(tail('密钥是sk-proj-abc'), 'sk-proj-abc');
    assert.equal(tail('電話 +1 (415) 555'), '+1 (415) 555');
  });
  it('never reaches back into text already sent', () => {
    assert.equal(heldTailStart('4111 1111 1111', 5), 5);
  });
});

describe('stream options', () => {
  it('keeps buffer and stream-first as explicit modes beside the progressive default', async () => {
    const { streamOptions } = await import('../gateway/pipeline/stream-options.js');
    assert.equal(streamOptions().mode, 'progressive');
    assert.equal(streamOptions({ mode: 'buffer' }).mode, 'buffer');
    assert.equal(streamOptions({ mode: 'stream-first' }).mode, 'stream-first');
  });
});
