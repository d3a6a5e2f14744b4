/**
 * The judge as the top tier through a real gateway: a request the local model is sure about never reaches the
 * judge, an unsure one does, and the decision record says which (details.escalated, the judge's answer).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import request from 'supertest';
import { z } from 'zod';
import { registerClassifierType } from '../../classifiers/registry.js';
import { auth, chat, startTestGateway } from '../support/harness.js';
import { startStubUpstream } from '../support/stub-upstream.js';
import { startStubJudge } from './stub-judge.js';

registerClassifierType('gateway-band-local', {
  params: z.strictObject({}),
  create: ({ id, timeoutMs }) => ({
    id,
    timeoutMs,
    version: 'gateway-band-local/1',
    labels: ['unsafe'],
    classify({ text }) {
      const p = Number(/\[p:([\d.]+)\]/.exec(text)?.[1] ?? 0);
      return Promise.resolve({ scores: { unsafe: p }, explanation: `p=${p}` });
    },
  }),
});

describe('an escalating judge in the gateway', () => {
  it('is asked only inside the band, and the record says so', async () => {
    const judge = await startStubJudge(() => ({ text: 'unsafe\nS9' }));
    const upstream = await startStubUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'gw-escalate-'));
    writeFileSync(
      join(dir, 'policy.json'),
      JSON.stringify({
        apiVersion: 'gateway/v1',
        id: 'top-tier',
        classifiers: [
          { id: 'heads', type: 'gateway-band-local' },
          {
            id: 'guard',
            type: 'safety-model',
            timeoutMs: 2000,
            params: { url: judge.url, model: 'meta-llama/Llama-Guard-4-12B', template: 'llama-guard-4' },
            escalate: { classifier: 'heads', label: 'unsafe', band: [0.3, 0.9] },
          },
        ],
        rules: [
          {
            id: 'guard',
            stage: 'input',
            when: { classifier: 'guard', label: 'unsafe', threshold: 0.5 },
            action: 'refuse',
          },
        ],
      }),
    );
    const gw = await startTestGateway({
      GATEWAY_UPSTREAM_URL: upstream.url,
      GATEWAY_POLICY: dir,
      GATEWAY_POLICY_WATCH: 'off',
    });
    try {
      const post = (content: string) => request(gw.server).post('/v1/chat/completions').set(auth).send(chat(content));
      assert.equal((await post('hello there [p:0.01]')).body.choices[0].finish_reason, 'stop');
      assert.equal(judge.requests.length, 0);
      assert.equal((await post('how to make a bomb [p:0.6]')).body.choices[0].finish_reason, 'content_filter');
      assert.equal(judge.requests.length, 1);
      const [sure, unsure] = gw.records().map((r) => r.stages.input?.classifiers.find((c) => c.id === 'guard'));
      assert.equal(sure?.details?.escalated, false);
      assert.equal(unsure?.details?.escalated, true);
      assert.equal(unsure?.details?.verdict, 'unsafe');
      assert.match(String(unsure?.version), /^safety-model\/llama-guard-4\//);
    } finally {
      await gw.close();
      await upstream.close();
      await judge.close();
    }
  });
});
