import { startDualStub } from '../../test/support/anthropic-stub.js';

/**
 * The Anthropic-compatible stub upstream (it speaks chat completions too) as its own process, for benchmarks, with
 * the chat stub's answer. Prints its port on stdout.
 */
const stub = await startDualStub({
  answer: () => ({ text: 'The capital of France is Paris. It has been the capital for most of its history.' }),
  chunkChars: 8,
});
process.stdout.write(`${JSON.stringify({ port: stub.port })}\n`);
process.on('SIGTERM', () => void stub.close().then(() => process.exit(0)));
