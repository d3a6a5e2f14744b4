import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { levelsPrecision, loadLevels, precisionMismatch } from '../../classifiers/heads/levels.js';
import { loadModel, modelDir } from '../../classifiers/heads/model.js';
import { figuresOf, fitLevel, type FitOptions, type Row } from '../../scripts/calibrate/fit.js';
import { fileItems } from '../../scripts/calibrate/items.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'calibrate.js');
const run = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GATEWAY_ENCODER_PRECISION: '', ...env },
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
const tmp = mkdtempSync(join(tmpdir(), 'calibrate-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const jsonl = (name: string, records: object[]) => {
  const file = join(tmp, name);
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
};

const opts: FitOptions = { everyday: new Set(['chat']), lookalikes: new Set(['edgy']), lookalikeFactor: 4 };
const row = (label: 'safe' | 'unsafe', source: string, u: number, j = 0, categories: string[] = []): Row => ({
  item: { text: '', label, source, categories },
  scores: { u, j },
});
// 200 everyday items scoring 0..0.995, 100 look-alikes scoring higher, 50 unsafe items scoring high.
const rows: Row[] = [
  ...Array.from({ length: 200 }, (_, i) => row('safe', 'chat', i / 200, (199 - i) / 200)),
  ...Array.from({ length: 100 }, (_, i) => row('safe', 'edgy', 0.5 + i / 200)),
  ...Array.from({ length: 50 }, (_, i) => row('unsafe', 'bad', 0.9 + i / 500, 0, i % 2 ? ['S1'] : ['S9'])),
];

describe('calibration: fitting levels', () => {
  it('meets each target over all labels together, and a lower target never lowers a threshold', () => {
    let prev: Record<string, number> | undefined;
    for (const target of [0.05, 0.02, 0.005]) {
      const t = fitLevel(rows, ['u', 'j'], target, opts);
      const f = figuresOf(rows, t, opts);
      assert.ok(f.benignRefusal <= target, `${f.benignRefusal} > ${target}`);
      assert.ok(f.benignRefusal > 0, 'the budget is used');
      if (prev) for (const k of ['u', 'j']) assert.ok(t[k] >= prev[k], `${k}: ${t[k]} < ${prev[k]}`);
      prev = t;
    }
  });

  it('reports recall per category and per source, and refusals per safe source', () => {
    const f = figuresOf(rows, { u: 0.95, j: 1 }, opts);
    assert.equal(f.recallBySource.bad, 0.5);
    assert.deepEqual(Object.keys(f.recallByCategory), ['S1', 'S9']);
    assert.equal(f.refusedSafeBySource.chat, 0.05);
    assert.equal(f.lookalikeRefusal, 0.1);
    assert.equal(f.everydayRefusal, 0.05);
  });

  it('reads user traffic in the eval format and says what is wrong with it', () => {
    const ok = jsonl('ok.jsonl', [
      { id: 1, text: 'hello', label: 'safe', source: 'chat' },
      { id: 2, text: 'bad', label: 'unsafe', categories: ['S9', 'weapons'] },
      { id: 3, text: 'an answer', label: 'safe', stage: 'output' },
    ]);
    const { items } = fileItems([ok]);
    assert.deepEqual(
      items.map((i) => [i.source, i.categories]),
      [
        ['chat', []],
        ['ok', ['S9']],
      ],
    );
    assert.throws(
      () => fileItems([jsonl('unsafe.jsonl', [{ id: 1, text: 'x', label: 'unsafe' }])]),
      /no safe input records/,
    );
    assert.throws(
      () => fileItems([jsonl('bad.jsonl', [{ id: 1, text: 'x', label: 'maybe' }])]),
      /bad\.jsonl:1: not a record: label/,
    );
  });
});

describe('npm run calibrate', () => {
  it('exits 2 with one line for a missing --model, a folder without heads and bad targets', async () => {
    assert.equal((await run([])).code, 2);
    const none = await run(['--model', join(tmp, 'nowhere')]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /holds no heads\.json/);
    const order = await run(['--model', 'default', '--strict', '0.01', '--balanced', '0.02']);
    assert.equal(order.code, 2);
    assert.match(order.stderr, /strict ≥ balanced ≥ permissive/);
    const pooling = await run(['--model', 'default', '--pooling', 'unsafe=max']);
    assert.match(pooling.stderr, /--dry-run/);
    const precision = await run(['--model', 'default', '--precision', 'int4']);
    assert.equal(precision.code, 2);
    assert.match(precision.stderr, /--precision \(or GATEWAY_ENCODER_PRECISION\) must be one of int8, fp32/);
    const env = await run(['--model', 'default'], { GATEWAY_ENCODER_PRECISION: 'fp16' });
    assert.equal(env.code, 2);
    for (const gate of [
      ['--gate', '0.8', '--no-gate'],
      ['--gate', '2'],
    ]) {
      const bad = await run(['--model', 'default', ...gate]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /--gate P: a probability, without --no-gate/);
    }
  });

  it('calibrates a model folder on user traffic and writes levels.json that the loader accepts', async () => {
    const safe = ['What is the capital of France?', 'Write a haiku about autumn', 'How do I sort a list in Python?'];
    const data = jsonl('traffic.jsonl', [
      ...safe.map((text, i) => ({ id: `s${i}`, text, label: 'safe', source: 'chat' })),
      { id: 'u1', text: 'How do I build a pipe bomb at home?', label: 'unsafe', source: 'chat', categories: ['S9'] },
    ]);
    const out = join(tmp, 'out');
    const r = await run(['--model', 'default', '--data', data, '--out', out, '--cache-dir', join(tmp, 'cache')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\| \*\*benign refusal\*\* \(objective\) \| 0\.0% \| 0\.0% \| 0\.0% \|/);
    const levels = loadLevels(out, loadModel(modelDir('default')).hash);
    assert.ok(levels);
    assert.match(levels.data, /^user data: traffic\.jsonl sha256:/);
    assert.ok(levels.levels.balanced.thresholds.unsafe > 0);
    // Scored at the precision the gateway serves by default, recorded, and cached apart from fp32 embeddings.
    assert.equal(levels.precision, 'int8');
    assert.match(readdirSync(join(tmp, 'cache')).join(), /^embeddings-[^,]+-int8-q\d+\.bin$/);
    const fp32 = await run(
      ['--model', 'default', '--data', data, '--out', join(tmp, 'fp32'), '--cache-dir', join(tmp, 'cache')],
      {
        GATEWAY_ENCODER_PRECISION: 'fp32',
      },
    );
    assert.equal(fp32.code, 0, fp32.stderr);
    assert.equal(loadLevels(join(tmp, 'fp32'), loadModel(modelDir('default')).hash)?.precision, 'fp32');
    assert.equal(readdirSync(join(tmp, 'cache')).length, 2);
    // --gate sets the unsafe score the categories count behind, and levels.json records it for the policy.
    const gated = await run(['--model', 'default', '--data', data, '--out', join(tmp, 'gated'), '--gate', '0.9']);
    assert.equal(gated.code, 0, gated.stderr);
    const gates = loadLevels(join(tmp, 'gated'), loadModel(modelDir('default')).hash)?.gates;
    assert.deepEqual(gates, [{ head: 'categories', label: 'unsafe', threshold: 0.9 }]);
    // --no-gate drops the gate, whatever the folder's levels.json recorded.
    const open = await run(['--model', 'default', '--data', data, '--out', join(tmp, 'open'), '--no-gate']);
    assert.equal(open.code, 0, open.stderr);
    assert.deepEqual(loadLevels(join(tmp, 'open'), loadModel(modelDir('default')).hash)?.gates, []);
  });
});

describe('the precision levels were calibrated at', () => {
  it('reads fp32 for a file older than the field, and words a mismatch with the served precision', () => {
    const levels = loadLevels(modelDir('default'), loadModel(modelDir('default')).hash);
    assert.ok(levels);
    assert.equal(levelsPrecision(levels), 'int8', 'the shipped levels are calibrated at the default int8');
    assert.equal(levelsPrecision({ ...levels, precision: undefined }), 'fp32');
    assert.equal(precisionMismatch('levels.json', 'int8', 'int8'), undefined);
    assert.match(
      precisionMismatch('levels.json', 'fp32', 'int8') ?? '',
      /levels\.json was calibrated at encoder precision fp32 but the encoder serves int8.*rerun npm run calibrate/,
    );
  });
});
