import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { depthPast } from '../../policies/depth.js';
import { compilePolicy, MAX_DEPTH, PolicyError } from '../../policies/load.js';
import { small } from './helpers.js';

const arrays = (levels: number): unknown => JSON.parse('['.repeat(levels) + ']'.repeat(levels));

/** The issues compiling `small()` with an extra top-level field gives; the policy itself is level 1. */
function issuesWithField(value: unknown): string[] {
  try {
    compilePolicy({ ...small(), extra: value });
  } catch (error) {
    assert.ok(error instanceof PolicyError);
    return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
  }
  assert.fail('the extra field should make the policy invalid');
}

describe('the nesting-depth check shared by request bodies and policies', () => {
  it('counts the outermost value as level 1 and names the first four steps of the path', () => {
    assert.equal(depthPast([[1]], 2), undefined);
    assert.equal(depthPast([[[1]]], 2), '[0][0]');
    assert.equal(depthPast({ a: { b: [{ c: [[[]]] }] } }, 5), 'a.b[0].c');
    assert.equal(depthPast([], 0), '(root)');
  });

  it(`lets a policy nest exactly ${MAX_DEPTH} levels and rejects one more`, () => {
    const atLimit = issuesWithField(arrays(MAX_DEPTH - 1));
    assert.ok(!atLimit.some((issue) => issue.includes('levels deep')), atLimit.join('\n'));
    assert.deepEqual(issuesWithField(arrays(MAX_DEPTH)), [
      `extra[0][0][0]…: nested more than ${MAX_DEPTH} levels deep`,
    ]);
  });
});
