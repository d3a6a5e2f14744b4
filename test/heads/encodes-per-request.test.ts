/**
 * How many texts the ML pack runs through the encoder per chat request: each distinct text once, shared by the
 * heads (input stage), the output head and the grader (output stage: the answer, and the prompt already encoded)
 * and the prompt-safety check. Every one of them reads the model's (classifiers/models/intent) fine-tuned encoder.
 * Counted on the process's shared encoder (`stats().batcher.items`: texts the model ran), so a change that
 * encodes a text twice fails here rather than showing up only as a slower benchmark.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import request from 'supertest';
import { encodedTexts } from '../../classifiers/heads/shared-encoder.js';
import { modelsRoot } from '../../classifiers/heads/index.js';
import { auth, chat, gatewayWithStub } from '../support/harness.js';

const ML_POLICY = join(modelsRoot(), '..', '..', 'policies', 'ml', 'policy.json');

/** Texts the shared encoders (every encoder the process started) have run through the model so far. */
const encodes = encodedTexts;

describe('encodes per request, ML pack', () => {
  // An answer of its own per prompt, so neither the cache nor the echo hides an encode.
  const ctx = gatewayWithStub(
    { GATEWAY_POLICY: ML_POLICY },
    { reply: (lastUser) => `My answer, backwards: ${[...lastUser].reverse().join('')}` },
  );
  const ask = (content: string) =>
    request(ctx.gw.url).post('/v1/chat/completions').set(auth).send(chat(content)).expect(200);

  test('a one-message request encodes its prompt once and its answer once', async () => {
    await ask('warm up: what is the boiling point of water?'); // the grader embeds its rubric once, on first use
    const prompts = Array.from(
      { length: 4 },
      (_, i) => `Question ${i}: which river flows through the city number ${i * 7 + 3} on my list?`,
    );
    for (const [i, prompt] of prompts.entries()) {
      const before = await encodes();
      await ask(prompt);
      // The heads read the prompt; the output head and the grader read the prompt and the answer on the same
      // encoder (classifiers/models/intent), so the prompt is not encoded again: two texts, one encoder.
      assert.equal((await encodes()) - before, 2, `request ${i}: prompt once + answer once`);
    }
  });

  test('a repeated request runs nothing through the model again', async () => {
    const prompt = 'Which mountain is the tallest in Europe, and how tall is it?';
    await ask(prompt);
    const before = await encodes();
    await ask(prompt);
    assert.equal((await encodes()) - before, 0);
  });

  test('a multi-turn request encodes each distinct view once', async () => {
    const messages = [
      { role: 'system', content: 'You are a helpful travel assistant.' },
      { role: 'user', content: 'I am planning a trip to Lisbon next spring.' },
      { role: 'assistant', content: 'Lisbon is lovely in spring. What would you like to know?' },
      { role: 'user', content: 'Which neighbourhoods are best for walking?' },
    ];
    const before = await encodes();
    await request(ctx.gw.url)
      .post('/v1/chat/completions')
      .set(auth)
      .send({ model: 'stub-model', messages })
      .expect(200);
    // Input stage: the joined window and the latest turn (here one message, so the same text as its message view),
    // the user messages joined, and the conversation without the system turn (model-injection reads the
    // conversation ignoring system, developer and tool roles); the output stage (output head and grader): the
    // answer (the prompt is the joined window, already encoded).
    assert.equal((await encodes()) - before, 5);
  });

  test('without a system turn, the conversation the injection rule reads is the joined window: one encode less', async () => {
    const messages = [
      { role: 'user', content: 'I am planning a trip to Porto next autumn.' },
      { role: 'assistant', content: 'Porto is lovely in autumn. What would you like to know?' },
      { role: 'user', content: 'Which viewpoints are best at sunset?' },
    ];
    const before = await encodes();
    await request(ctx.gw.url)
      .post('/v1/chat/completions')
      .set(auth)
      .send({ model: 'stub-model', messages })
      .expect(200);
    assert.equal((await encodes()) - before, 4);
  });
});
