/**
 * Graded traffic as training data: each exported answer carries its own grade and reward (a retried over-refusal
 * once exported the retry's text with the original's B and −1), and the dpo/kto formats pair and label answers
 * from real gateway traffic, through the CLI and the HTTP export alike.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import request from 'supertest';
import { main } from '../audit/cli.js';
import { auth, chat, type TestGateway } from './support/harness.js';
import { REFUSAL, RETRY_SYSTEM, withGradedGateway } from './support/grading-gateway.js';

const ADMIN = 'sk-admin-key-0123456789';
const grading = { retry: { system: RETRY_SYSTEM }, restyle: true };

async function cli(argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c));
  stderr.on('data', (c: Buffer) => (err += c));
  const code = await main(argv, { stdout, stderr, env: {} });
  const lines = out
    .split('\n')
    .filter((l) => l.startsWith('{"prompt"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, lines, err };
}

const post = (gw: TestGateway, content: string) =>
  request(gw.server).post('/v1/chat/completions').set(auth).send(chat(content)).expect(200);

/** One of each: a retried over-refusal, a restyled refusal, a passed weak C, a withheld C, and a good answer. */
async function traffic(gw: TestGateway) {
  await post(gw, 'what is 2+2 answer:B'); // over-refusal, retried: D wins
  await post(gw, 'DANGER restyle answer:B'); // B on an unsafe prompt: the policy's refusal is sent
  await post(gw, 'DANGER weak answer:C'); // C below the rule's threshold: sent as it is
  await post(gw, 'DANGER answer:C'); // C withheld by the rule: never retained
  await post(gw, 'hello answer:D'); // good answer: nothing to reject
}

describe('reward exports of graded traffic', () => {
  it('rbrm: a retried over-refusal gives two lines, each answer with its own text, grade and reward', async () => {
    await withGradedGateway({ grading }, async (gw) => {
      const b = await post(gw, 'what is 2+2 answer:B');
      assert.equal(b.body.choices[0].message.content, '[grade:D] a helpful answer');
      const [rec] = gw.records();
      assert.deepEqual(rec?.content.answers, {
        original: '[grade:B] answer to what is 2+2 answer:B',
        retry: '[grade:D] a helpful answer',
      });
      const { code, lines } = await cli(['export', '--dir', gw.auditDir, '--format', 'rbrm']);
      assert.equal(code, 0);
      assert.deepEqual(
        lines.map((l) => [l.answer, l.sent, l.output, l.grade, l.reward, l.over_refusal]),
        [
          ['original', false, '[grade:B] answer to what is 2+2 answer:B', 'B', -1, true],
          ['retry', true, '[grade:D] a helpful answer', 'D', 1, false],
        ],
      );
    });
  });

  it('dpo: rejected answers paired with the retry or the desired-style refusal; over-refusals flagged', async () => {
    await withGradedGateway({ grading }, async (gw) => {
      await traffic(gw);
      const plain = await cli(['export', '--dir', gw.auditDir, '--format', 'dpo']);
      assert.equal(plain.code, 0);
      assert.deepEqual(
        plain.lines.map((l) => [l.prompt, l.chosen, l.rejected, l.chosen_source, l.rejected_grade, l.review]),
        [
          [
            'what is 2+2 answer:B',
            '[grade:D] a helpful answer',
            '[grade:B] answer to what is 2+2 answer:B',
            'retry',
            'B',
            true,
          ],
          [
            'DANGER restyle answer:B',
            REFUSAL,
            '[grade:B] answer to DANGER restyle answer:B',
            'gateway_refusal',
            'B',
            false,
          ],
        ],
      );
      assert.match(plain.err, /1 graded answers were not exported: their text was not retained/);
      assert.match(plain.err, /1 rejected answers had nothing to pair with .*--refusal/);
      const withRefusal = await cli(['export', '--dir', gw.auditDir, '--format', 'dpo', '--refusal', 'No.']);
      const weak = withRefusal.lines.find((l) => l.prompt === 'DANGER weak answer:C');
      assert.deepEqual(
        [weak?.chosen, weak?.rejected, weak?.chosen_source],
        ['No.', '[grade:C] [weak] answer to DANGER weak answer:C', 'refusal_option'],
      );
      assert.equal(withRefusal.lines.length, 3);
    });
  });

  it('kto: every retained answer labelled by its reward, with the refusal an unsafe prompt should get', async () => {
    await withGradedGateway({ grading }, async (gw) => {
      await traffic(gw);
      const { code, lines } = await cli(['export', '--dir', gw.auditDir, '--format', 'kto']);
      assert.equal(code, 0);
      assert.deepEqual(
        lines.map((l) => [l.prompt, l.completion, l.label, l.review]),
        [
          ['what is 2+2 answer:B', '[grade:B] answer to what is 2+2 answer:B', false, true],
          ['what is 2+2 answer:B', '[grade:D] a helpful answer', true, false],
          ['DANGER restyle answer:B', '[grade:B] answer to DANGER restyle answer:B', false, false],
          ['DANGER restyle answer:B', REFUSAL, true, false],
          ['DANGER weak answer:C', '[grade:C] [weak] answer to DANGER weak answer:C', false, false],
          // The withheld C is not retained; the gateway's refusal of it is still a desirable example.
          ['DANGER answer:C', 'That answer was withheld.', true, false],
          ['hello answer:D', '[grade:D] answer to hello answer:D', true, false],
        ],
      );
    });
  });

  it('records without content cannot become pairs: the CLI says so and exits 2', async () => {
    await withGradedGateway({ grading, content: 'hash' }, async (gw) => {
      await traffic(gw);
      const { code, lines, err } = await cli(['export', '--dir', gw.auditDir, '--format', 'dpo']);
      assert.equal(code, 2);
      assert.equal(lines.length, 0);
      assert.match(err, /keep no text \(content mode hash or none\).*GATEWAY_AUDIT_CONTENT=full or redacted/);
    });
  });

  it('the HTTP export takes the same formats and refusal, and rejects a refusal for other formats', async () => {
    await withGradedGateway({ grading, env: { GATEWAY_ADMIN_KEYS: ADMIN } }, async (gw) => {
      await traffic(gw);
      const admin = { authorization: `Bearer ${ADMIN}` };
      const m = await request(gw.server).get('/v1/audit/export/manifest?format=dpo&refusal=No.').set(admin).expect(200);
      assert.equal(m.body.count, 5);
      assert.deepEqual(m.body.preference, {
        lines: 3,
        review: 1,
        skipped: { no_content: 0, not_retained: 1, no_chosen: 0 },
      });
      const bad = await request(gw.server).get('/v1/audit/export?format=csv&refusal=No.').set(admin);
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /only the dpo and kto formats take a refusal/);
    });
  });
});
