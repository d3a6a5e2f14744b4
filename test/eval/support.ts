import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { registerClassifierType } from '../../classifiers/registry.js';

/** The compiled CLI (this file runs from dist/test/eval/). */
export const EVAL_CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'eval.js');

/**
 * A classifier type for tests whose scores are pinned in the text: `{label:0.7}` gives that label 0.7, every
 * other label 0; `{fail}` makes it throw. With labels A–D it stands in for a rubric grader.
 */
registerClassifierType('test-pinned', {
  params: z.strictObject({ labels: z.array(z.string().min(1)).min(1) }),
  create: ({ id, timeoutMs, params }) => ({
    id,
    timeoutMs,
    version: 'pinned/1',
    labels: params.labels,
    async classify(input) {
      if (input.text.includes('{fail}')) throw new Error('pinned failure');
      const scores: Record<string, number> = Object.fromEntries(params.labels.map((l) => [l, 0]));
      for (const m of input.text.matchAll(/\{([\w.]+):([\d.]+)\}/g)) if (m[1] in scores) scores[m[1]] = Number(m[2]);
      return { scores, explanation: 'pinned in the text' };
    },
  }),
});

/** Writes JSON Lines (records, or raw strings as lines) into a new temp folder; returns the file path. */
export function jsonl(name: string, lines: (object | string)[], dir = mkdtempSync(join(tmpdir(), 'gw-eval-'))): string {
  const file = join(dir, name);
  writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return file;
}

/** An input record. */
export const input = (id: string, text: string, label: 'safe' | 'unsafe', source = 'fixture') => ({
  id,
  text,
  label,
  stage: 'input',
  source,
  kind: 'request',
});

/** An output record with its prompt and optional gold grade. */
export const output = (id: string, text: string, label: 'safe' | 'unsafe', rbrm?: string, prompt = 'a prompt') => ({
  id,
  text,
  label,
  stage: 'output',
  prompt,
  source: 'fixture-out',
  kind: 'response',
  ...(rbrm && { rbrm }),
});

/**
 * A tiny policy over the pinned classifier: refuse input at `risk.unsafe >= 0.5`, flag input at
 * `risk.odd >= 0.5`, refuse output at `grader.C >= 0.5`.
 */
export const tinyPolicy = () => ({
  apiVersion: 'gateway/v1',
  id: 'tiny',
  classifiers: [
    { id: 'risk', type: 'test-pinned', timeoutMs: 1000, params: { labels: ['unsafe', 'odd'] } },
    { id: 'grader', type: 'test-pinned', timeoutMs: 1000, params: { labels: ['A', 'B', 'C', 'D'] } },
  ],
  rules: [
    {
      id: 'unsafe-input',
      stage: 'input',
      when: { classifier: 'risk', label: 'unsafe', threshold: 0.5 },
      action: 'refuse',
    },
    { id: 'odd-input', stage: 'input', when: { classifier: 'risk', label: 'odd', threshold: 0.5 }, action: 'flag' },
    {
      id: 'disallowed-output',
      stage: 'output',
      when: { classifier: 'grader', label: 'C', threshold: 0.5 },
      action: 'refuse',
    },
  ],
});
