import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_BODY_DEPTH } from '../../gateway/http/body.js';
import { depthPast } from '../../policies/depth.js';
import { auth, gatewayWithStub } from '../support/harness.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const body = (extra: string) => `{"model":"stub-model","messages":[{"role":"user","content":"hi"}],"extra":${extra}}`;

describe('request bodies nested too deep (found by npm run fuzz)', () => {
  const ctx = gatewayWithStub();

  const post = (text: string) =>
    fetch(`${ctx.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: text,
    });

  it('answers 400 in OpenAI shape, naming where, for a body nested 10,000 levels deep (it was a 502 "upstream unreachable")', async () => {
    const res = await post(body(nested(10_000)));
    assert.equal(res.status, 400);
    const { error } = (await res.json()) as { error: { code: string; param: string; message: string } };
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.param, 'extra[0][0][0]');
    assert.match(error.message, /nested more than 128 levels/);
    assert.equal(ctx.stub.requests.length, 0);
  });

  it('forwards a body with ordinary nesting in unknown fields', async () => {
    const res = await post(body(nested(100)));
    assert.equal(res.status, 200);
  });

  it('measures depth without recursion', () => {
    assert.equal(depthPast({ a: [[1]] }, MAX_BODY_DEPTH), undefined);
    assert.equal(depthPast(JSON.parse(nested(200_000)), MAX_BODY_DEPTH), '[0][0][0][0]');
  });
});
