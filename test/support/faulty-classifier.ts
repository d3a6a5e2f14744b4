import { z } from 'zod';
import { registerClassifierType } from '../../classifiers/registry.js';

/** A classifier type for tests that fails on purpose: it throws, hangs past its timeout, or returns NaN. */
registerClassifierType('test-faulty', {
  params: z.strictObject({ mode: z.enum(['throw', 'hang', 'nan', 'ok']) }),
  create: ({ id, timeoutMs, params }) => ({
    id,
    timeoutMs,
    version: 'faulty/1',
    labels: ['bad'],
    async classify(_input, signal) {
      if (params.mode === 'throw') throw new Error('model exploded');
      if (params.mode === 'hang')
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
      return { scores: { bad: params.mode === 'nan' ? Number.NaN : 0 }, explanation: params.mode };
    },
  }),
});

/** A policy document with one rule on the faulty classifier. */
export const faultyPolicy = (mode: string, onError?: string) => ({
  apiVersion: 'gateway/v1',
  id: `faulty-${mode}`,
  classifiers: [{ id: 'faulty', type: 'test-faulty', timeoutMs: 50, params: { mode } }],
  rules: [
    {
      id: 'bad-rule',
      stage: 'both',
      when: { classifier: 'faulty', label: 'bad', threshold: 0.5 },
      action: 'refuse',
      ...(onError && { onError }),
    },
  ],
});
