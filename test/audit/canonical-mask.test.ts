import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, hashAndSerialise, recordHash } from '../../audit/canonical.js';
import { auditConfigFromEnv, parseAuditConfig } from '../../audit/config.js';
import { applyMask, createMasker, MASK, parseMaskPath } from '../../audit/mask.js';
import { decision } from './helpers.js';

describe('canonical JSON', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    assert.equal(
      canonicalJson({ b: 1, a: [{ d: 2, c: undefined, 'x-y': 'q"' }], c: null }),
      '{"a":[{"d":2,"x-y":"q\\""}],"b":1,"c":null}',
    );
  });

  it('round-trips: parsing a canonical line and serialising it again gives the same bytes', () => {
    const text = canonicalJson({
      ...decision(3),
      weird: { 'é\n': -0, big: 1e21, small: 5e-7, list: [true, false, null] },
    });
    assert.equal(canonicalJson(JSON.parse(text)), text);
  });

  it('serialises a record with its hash in sorted position in one pass', () => {
    const rec = { seq: 4, prev_hash: 'p', zeta: 1, alpha: { b: 2, a: 1 } };
    const { hash, line } = hashAndSerialise(rec);
    assert.equal(hash, recordHash(rec));
    assert.equal(line, canonicalJson({ ...rec, hash }));
  });
});

describe('the append fast path (masked copy + native JSON.stringify)', () => {
  const tricky: Array<[string, Record<string, unknown>]> = [
    ['plain decision', { ...decision(1) }],
    ['integer-like keys', { scores: { '10': 1, '9': 2, a: 3 }, seq: 1 }],
    ['unicode and escapes in keys and values', { é: 1, 'a"b': 'x\u2028y', '\n': [1, 'z'], Z: 'ü', _: null }],
    [
      'odd numbers and holes',
      { neg: -0, nan: Number.NaN, inf: -Infinity, big: 1e21, tiny: 5e-324, arr: [undefined, () => 1, 2] },
    ],
    ['a Date and undefined members', { when: new Date(0), gone: undefined, keep: false }],
    ['a "__proto__" member', JSON.parse('{"__proto__":{"x":1},"b":2}') as Record<string, unknown>],
    ['a BigInt', { n: 10n as unknown, m: 1 }],
  ];
  for (const [name, rec] of tricky) {
    it(`writes bytes the verifier reproduces: ${name}`, () => {
      const { value, sorted } = createMasker([])(rec);
      const { hash, line } = hashAndSerialise({ ...value, seq: 1, prev_hash: 'p' }, sorted);
      const parsed = JSON.parse(line) as Record<string, unknown>;
      assert.equal(canonicalJson(parsed), line);
      assert.equal(recordHash(parsed), hash);
    });
  }
});

describe('the masker without mask paths (copy-on-write)', () => {
  const sortedRecord = () => ({ a: 1, b: { c: [1, { d: 'x', e: null }], f: 'ok' }, g: 'plain' });
  it('shares a record already in canonical order and leaves it unchanged', () => {
    const rec = sortedRecord();
    const { value, sorted, maskedPaths } = createMasker([])(rec);
    assert.equal(value, rec);
    assert.ok(sorted);
    assert.deepEqual(maskedPaths, []);
    assert.deepEqual(rec, sortedRecord());
  });
  it('copies only the objects that change, and never the caller’s', () => {
    const rec = { a: { z: 1, y: 2 }, b: { keep: [1, 2] }, c: { note: 'Bearer abcdefghijkl' } };
    const { value, maskedPaths } = createMasker([])(rec) as { value: typeof rec; maskedPaths: string[] };
    assert.notEqual(value, rec);
    assert.deepEqual(Object.keys(value.a), ['y', 'z']);
    assert.equal(value.b, rec.b);
    assert.equal(value.c.note, MASK);
    assert.deepEqual(maskedPaths, ['$.c.note']);
    assert.deepEqual(Object.keys(rec.a), ['z', 'y']);
    assert.equal(rec.c.note, 'Bearer abcdefghijkl');
  });
  it('serialises with the chain fields added, without changing the record', () => {
    const rec = sortedRecord();
    const { value, sorted } = createMasker([])(rec);
    const { hash, line } = hashAndSerialise(value as Record<string, unknown>, sorted, {
      kind: 'decision',
      seq: 7,
      prev_hash: 'p',
    });
    assert.equal(line, canonicalJson({ ...rec, kind: 'decision', seq: 7, prev_hash: 'p', hash }));
    assert.equal(recordHash(JSON.parse(line)), hash);
    assert.deepEqual(rec, sortedRecord());
  });
});

describe('mask paths', () => {
  it('parses dotted, bracket, index and wildcard steps', () => {
    assert.deepEqual(parseMaskPath(`$.stages.input.classifiers[*].details`), [
      { kind: 'key', name: 'stages' },
      { kind: 'key', name: 'input' },
      { kind: 'key', name: 'classifiers' },
      { kind: 'wildcard' },
      { kind: 'key', name: 'details' },
    ]);
    assert.deepEqual(parseMaskPath(`$['x-api-key'][0].*`), [
      { kind: 'key', name: 'x-api-key' },
      { kind: 'index', index: 0 },
      { kind: 'wildcard' },
    ]);
    assert.deepEqual(parseMaskPath(`$["a]b"]`), [{ kind: 'key', name: 'a]b' }]);
  });

  it('rejects anything outside the subset, including script-like selectors', () => {
    for (const bad of ['content', '$', '$..a', '$.a[?(@.x)]', '$.a[(1+1)]', '$.a[', '$.a b', "$['a']x"]) {
      assert.throws(() => parseMaskPath(bad), Error, bad);
    }
  });

  it('masks every match of a wildcard and reports concrete paths', () => {
    const doc = { a: [{ s: 1 }, { s: 2 }, { t: 3 }], b: { 'odd key': 'v' } };
    assert.deepEqual(applyMask(doc, parseMaskPath('$.a[*].s')), ['$.a[0].s', '$.a[1].s']);
    assert.deepEqual(applyMask(doc, parseMaskPath("$.b['odd key']")), ["$.b['odd key']"]);
    assert.deepEqual(doc, { a: [{ s: MASK }, { s: MASK }, { t: 3 }], b: { 'odd key': MASK } });
  });

  it('does not walk into prototypes or mutate the caller’s record', () => {
    const rec = { content: { prompt: 'hi' } };
    const mask = createMasker(['$.constructor.name', '$.__proto__', '$.content.prompt']);
    const { value, maskedPaths } = mask(rec);
    assert.deepEqual(maskedPaths, ['$.content.prompt']);
    assert.equal(rec.content.prompt, 'hi');
    assert.equal(value.content.prompt, MASK);
    assert.equal(({} as Record<string, unknown>).constructor, Object);
  });

  it('keeps a "__proto__" member as data instead of changing the copy’s prototype', () => {
    const { value } = createMasker([])(JSON.parse('{"__proto__":{"polluted":true},"a":1}') as Record<string, unknown>);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.equal(canonicalJson(value), '{"__proto__":{"polluted":true},"a":1}');
  });

  it('scrubs credentials by member name and by token shape', () => {
    const { value, maskedPaths } = createMasker([])({
      h: { authorization: 'x', Cookie: 'c' },
      note: 'use Bearer abcdefghij12 now',
      list: ['sk-0123456789abcdefghij'],
    });
    assert.deepEqual(value, { h: { authorization: MASK, Cookie: MASK }, note: `use ${MASK} now`, list: [MASK] });
    assert.deepEqual(maskedPaths.sort(), ['$.h.Cookie', '$.h.authorization', '$.list[0]', '$.note']);
  });
});

describe('audit config', () => {
  it('fills defaults and derives the key file from the directory', () => {
    const cfg = parseAuditConfig({ dir: '/var/audit' });
    assert.equal(cfg.durability, 'group');
    assert.equal(cfg.keyFile, '/var/audit/checkpoint-key.pem');
  });

  it('names the bad field', () => {
    assert.throws(() => parseAuditConfig({ dir: 'x', durability: 'sometimes' as 'group' }), /durability/);
    assert.throws(() => parseAuditConfig({ dir: 'x', masks: ['nope'] }), /masks/);
  });

  it('reads GATEWAY_AUDIT_* variables, and is off without GATEWAY_AUDIT_DIR', () => {
    assert.equal(auditConfigFromEnv({}), null);
    const cfg = parseAuditConfig(
      auditConfigFromEnv({
        GATEWAY_AUDIT_DIR: '/a',
        GATEWAY_AUDIT_DURABILITY: 'fsync-per-record',
        GATEWAY_AUDIT_CHECKPOINT_EVERY: '50',
        GATEWAY_AUDIT_MASKS: '$.content.prompt, $.content.output',
        GATEWAY_AUDIT_RETENTION_MAX_SEGMENTS: '10',
      })!,
    );
    assert.deepEqual(
      [cfg.durability, cfg.checkpointEvery, cfg.masks, cfg.retention],
      ['fsync-per-record', 50, ['$.content.prompt', '$.content.output'], { maxSegments: 10 }],
    );
  });
});
