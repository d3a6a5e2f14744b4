import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateStage } from '../../policies/engine.js';
import { compilePolicy } from '../../policies/load.js';
import { small } from './helpers.js';

/**
 * Gaps in the engine found while writing the policy tests, fixed since: a case-insensitive match used to be
 * redacted at the wrong offsets after characters whose lower case is longer (`İ` lower-cases to two units).
 * These cases keep them fixed.
 */
describe('engine gaps found by the policy tests (fixed)', () => {
  const redactWhen = (text: object) =>
    compilePolicy(small([{ id: 'r', stage: 'input', when: { text }, action: 'redact', replacement: '[X]' }]));
  const doc = { messages: [{ role: 'user', content: 'İİİ secret code' }] };

  it('redacts a case-insensitive regex match in place, even after characters whose lower case is longer', async () => {
    const d = await evaluateStage(redactWhen({ regex: 'secret' }), { stage: 'input', doc });
    assert.equal(d.rewrites.get('/messages/0/content'), 'İİİ [X] code');
  });

  it('redacts a case-insensitive `contains` match in place, even after characters whose lower case is longer', async () => {
    const d = await evaluateStage(redactWhen({ contains: 'secret' }), { stage: 'input', doc });
    assert.equal(d.rewrites.get('/messages/0/content'), 'İİİ [X] code');
  });
});
