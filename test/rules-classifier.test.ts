import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ibanValid, luhn } from '../classifiers/detectors.js';
import { RulesClassifier } from '../classifiers/rules.js';

const signal = new AbortController().signal;
const classify = (c: RulesClassifier, text: string) => c.classify({ stage: 'input', text });

describe('rules classifier', () => {
  it('scores a label 1 when its pattern matches and 0 otherwise, with the span of each match', async () => {
    const c = new RulesClassifier('r', { patterns: [{ label: 'S9', regex: 'pipe\\s*bomb' }] } as never, 100);
    const hit = await classify(c, 'how to build a Pipe Bomb');
    assert.equal(hit.scores.S9, 1);
    assert.deepEqual(hit.spans, [{ label: 'S9', start: 15, end: 24 }]);
    assert.equal((await classify(c, 'a plumbing pipe')).scores.S9, 0);
    void signal;
  });

  it('scores alike whatever mix of flags, backreferences and named groups the patterns use (the joined pre-test is only a filter)', async () => {
    const params = {
      patterns: [
        { label: 'echo', regex: '(\\w{3})-\\1' },
        { label: 'named', regex: '(?<w>zz)top' },
        { label: 'case', regex: 'ExAcT', flags: '' },
        { label: 'dot', regex: 'a.b', flags: 's' },
        { label: 'back', regex: '(?<!x)yq' },
      ],
      keywords: [{ label: 'kw', words: ['nitro'] }],
    };
    const c = new RulesClassifier('r', params as never, 100);
    const cases: [string, string[]][] = [
      ['abc-abc', ['echo']],
      ['abc-abd', []],
      ['zztop', ['named']],
      ['exact', []],
      ['ExAcT', ['case']],
      ['a\nb', ['dot']],
      ['xyq', []],
      ['ayq and NITRO', ['back', 'kw']],
      ['nothing here', []],
    ];
    for (const [text, labels] of cases) {
      const r = await classify(c, text);
      assert.deepEqual(
        Object.keys(r.scores)
          .filter((l) => r.scores[l] > 0)
          .sort(),
        labels,
        text,
      );
    }
  });

  it('matches keywords as whole words only, across unicode letters', async () => {
    const c = new RulesClassifier('r', { keywords: [{ label: 'k', words: ['kill'] }] } as never, 100);
    assert.equal((await classify(c, 'skill and killer')).scores.k, 0);
    assert.equal((await classify(c, 'kill -9 the process')).scores.k, 1);
    assert.equal((await classify(c, 'ékill')).scores.k, 0);
  });

  it('finds card numbers only when the Luhn checksum holds', async () => {
    assert.equal(luhn('4111 1111 1111 1111'), true);
    assert.equal(luhn('4111 1111 1111 1112'), false);
    const c = new RulesClassifier('r', { detectors: [{ detector: 'credit_card', label: 'pii' }] } as never, 100);
    assert.equal((await classify(c, 'order 4111-1111-1111-1111 now')).scores.pii, 1);
    assert.equal((await classify(c, 'order 1234 5678 9012 3456 now')).scores.pii, 0);
  });

  it('finds IBANs only when the mod-97 check holds', () => {
    assert.equal(ibanValid('GB82 WEST 1234 5698 7654 32'), true);
    assert.equal(ibanValid('GB82 WEST 1234 5698 7654 33'), false);
  });

  it('finds emails, phone numbers, API keys and private keys', async () => {
    const c = new RulesClassifier(
      'r',
      {
        detectors: ['email', 'phone', 'api_key', 'private_key', 'us_ssn'].map((d) => ({ detector: d, label: d })),
      } as never,
      100,
    );
    const r = await classify(
      c,
      'mail jane.doe@example.org, call +1 415-555-0132, key AKIAIOSFODNN7EXAMPLE, ssn 123-45-6789\n' +
        '-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----',
    );
    assert.deepEqual(r.scores, { email: 1, phone: 1, api_key: 1, private_key: 1, us_ssn: 1 });
    const clean = await classify(c, 'version 1.2.3 costs $40, call it 2024-05-06');
    assert.deepEqual(clean.scores, { email: 0, phone: 0, api_key: 0, private_key: 0, us_ssn: 0 });
  });

  it('gives a match in a re-reading of the whole text (1 read as l) the span it matched, not the whole text', async () => {
    const c = new RulesClassifier('s', { detectors: [{ detector: 'private_key', label: 'secrets' }] } as never, 100);
    const key =
      '-----BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEA0Zf3xkQ7c2vN8mQ9Lr1tZpY7\n-----END RSA PRIVATE KEY-----';
    const text = `Sure. Here is the config you asked for. ${key} Let me know if you need more.`;
    const { spans } = await classify(c, text);
    assert.deepEqual(spans, [{ label: 'secrets', start: 40, end: 40 + key.length }]);
  });

  it('rejects a regex that does not compile, naming the pattern', () => {
    assert.throws(
      () => new RulesClassifier('r', { patterns: [{ label: 'x', regex: '(' }] } as never, 100),
      /params\.patterns\[0\]\.regex/,
    );
  });
});
