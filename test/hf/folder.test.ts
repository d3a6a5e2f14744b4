import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HfModelError, HfSequenceClassifier, HfSequenceParamsSchema } from '../../classifiers/hf/index.js';
import { PolicyError, compilePolicy } from '../../policies/load.js';
import { modelFolder } from './fixture.js';
import type { FolderSpec } from './fixture.js';

const params = (dir: string, extra: object = {}) => HfSequenceParamsSchema.parse({ dir, ...extra });

/** Asserts that creating a classifier over `spec` throws an HfModelError about `file` matching `problem`. */
function refuses(spec: FolderSpec, file: string, problem: RegExp, extra: object = {}) {
  const f = modelFolder(spec);
  try {
    assert.throws(
      () => new HfSequenceClassifier('c', params(f.dir, extra), 1000),
      (e: unknown) =>
        e instanceof HfModelError &&
        e.file === join(f.dir, file) &&
        problem.test(e.problem) &&
        e.message.startsWith(join(f.dir, file)),
    );
  } finally {
    f.dispose();
  }
}

/** Asserts that the folder is accepted at create but ready() rejects, naming model.onnx. */
async function failsToLoad(spec: FolderSpec, problem: RegExp) {
  const f = modelFolder(spec);
  const c = new HfSequenceClassifier('c', params(f.dir), 1000);
  try {
    await assert.rejects(
      c.ready(),
      (e: unknown) => e instanceof HfModelError && e.file === join(f.dir, 'model.onnx') && problem.test(e.problem),
    );
    await assert.rejects(
      c.classify({ stage: 'input', text: 'hello' }, new AbortController().signal),
      HfModelError,
      'later calls get the load error too',
    );
  } finally {
    await c.close();
    f.dispose();
  }
}

describe('hf-sequence refuses a model folder it cannot serve, naming the file and the problem', () => {
  test('a folder that does not exist, or a file instead of a folder', () => {
    assert.throws(
      () => new HfSequenceClassifier('c', params('/nonexistent/model-folder'), 1000),
      /\/nonexistent\/model-folder: the model folder does not exist/,
    );
    const f = modelFolder();
    try {
      assert.throws(
        () => new HfSequenceClassifier('c', params(join(f.dir, 'config.json')), 1000),
        /config\.json: is not a folder/,
      );
    } finally {
      f.dispose();
    }
  });

  test('each missing file', () => {
    refuses({ omit: ['model.onnx'] }, 'model.onnx', /^is missing/);
    refuses({ omit: ['config.json'] }, 'config.json', /^is missing/);
    refuses({ omit: ['tokenizer.json'] }, 'tokenizer.json', /^is missing/);
  });

  test('an empty model.onnx, invalid JSON, a config without id2label, or gaps in id2label', () => {
    refuses({ modelBytes: new Uint8Array() }, 'model.onnx', /not a non-empty file/);
    refuses({ configText: '{"id2label": ' }, 'config.json', /is not valid JSON/);
    refuses(
      { configText: '{"architectures": ["BertModel"]}' },
      'config.json',
      /not a sequence-classification config: id2label/,
    );
    refuses({ id2label: { 0: 'a', 2: 'c' } }, 'config.json', /index 1 is missing/);
    refuses({ configText: '{"id2label": {}}' }, 'config.json', /id2label is empty/);
  });

  test('renaming a label the model lacks, two outputs with one name, or a window longer than the model', () => {
    refuses({}, 'config.json', /renames "toxic", which id2label does not have; it has: neutral, greeting, threat/, {
      labels: { toxic: 'x' },
    });
    refuses({}, 'config.json', /two outputs would share the label "threat"/, { labels: { neutral: 'threat' } });
    refuses({}, 'config.json', /max_position_embeddings is 512, so maxLength 1024 is too long/, { maxLength: 1024 });
  });

  test('a regression head unless an activation is given', () => {
    refuses({ id2label: { 0: 'score' }, problemType: 'regression' }, 'config.json', /problem_type is regression/);
  });

  test('a model.onnx that onnxruntime cannot load fails ready()', async () => {
    await failsToLoad({ modelBytes: new TextEncoder().encode('not an onnx model') }, /onnxruntime cannot load it/);
  });

  test('a model whose output does not match id2label fails ready(), before any request', async () => {
    await failsToLoad(
      { outputs: 2 },
      /output "logits" has 2 values per text, but config.json's id2label names 3 labels/,
    );
  });

  test('a policy that names a bad folder fails to load with the reason; a good one exposes id2label to its rules', () => {
    const bad = modelFolder({ omit: ['tokenizer.json'] });
    const good = modelFolder();
    const policy = (dir: string, label: string) => ({
      apiVersion: 'gateway/v1',
      id: 'byo',
      classifiers: [{ id: 'pi', type: 'hf-sequence', params: { dir } }],
      rules: [{ id: 'r', stage: 'input', when: { classifier: 'pi', label, threshold: 0.5 }, action: 'refuse' }],
    });
    try {
      assert.throws(
        () => compilePolicy(policy(bad.dir, 'threat')),
        (e: unknown) =>
          e instanceof PolicyError && e.message.includes(`${join(bad.dir, 'tokenizer.json')}: is missing`),
      );
      assert.deepEqual(compilePolicy(policy(good.dir, 'threat')).classifiers.get('pi')?.labels, [
        'neutral',
        'greeting',
        'threat',
      ]);
      assert.throws(
        () => compilePolicy(policy(good.dir, 'toxic')),
        /has no such label; it has: neutral, greeting, threat/,
      );
    } finally {
      bad.dispose();
      good.dispose();
    }
  });
});
