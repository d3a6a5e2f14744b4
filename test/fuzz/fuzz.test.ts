import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fuzzPolicies } from '../../scripts/fuzz/policy.js';
import { fuzzRequests } from '../../scripts/fuzz/run.js';
import { fuzzUpstream } from '../../scripts/fuzz/upstream.js';

/** A short, always-on slice of `npm run fuzz` (which runs the full count). A failure names the case to replay. */
describe('fuzzing (a few hundred seeded cases)', () => {
  const show = (p: { case: number; kind: string; problem: string }[]) =>
    p
      .slice(0, 5)
      .map((x) => `case ${x.case} (${x.kind}): ${x.problem}`)
      .join('\n');

  it('answers every generated request with a 200 it should give or a 4xx in OpenAI shape, and forwards no client header', async () => {
    const r = await fuzzRequests({ seed: 7, count: 240 });
    assert.deepEqual(r.problems, [], show(r.problems));
    assert.equal(r.leakedHeaders, 0);
    assert.ok(r.upstreamRequests > 50);
  });

  it('survives a chaotic upstream: a clean stream, an error event, or a 4xx/502, never a 500 or a hang', async () => {
    const r = await fuzzUpstream({ seed: 7, count: 100 });
    assert.deepEqual(r.problems, [], show(r.problems));
    assert.equal(r.healthy, true);
  });

  it('refuses every broken policy with a PolicyError and nothing else', () => {
    const r = fuzzPolicies({ seed: 7, count: 300 });
    assert.deepEqual(r.problems, [], show(r.problems));
    assert.ok(r.refused > 100);
  });
});
