import { startStubUpstream } from '../../test/support/stub-upstream.js';

/** The stub upstream as its own process, for benchmarks. Prints its port on stdout. */
const stub = await startStubUpstream({
  // STUB_VARIED_REPLY=1: an answer of its own per prompt (bench:learned-path), so no answer is a cache hit.
  reply: (lastUser) =>
    process.env.STUB_VARIED_REPLY === '1'
      ? `Here is what I can say about that (${lastUser.length} characters): ${lastUser.split(' ').reverse().join(' ')}`
      : 'The capital of France is Paris. It has been the capital for most of its history.',
  chunkDelayMs: Number(process.env.STUB_CHUNK_DELAY_MS ?? 0),
  chunkChars: Number(process.env.STUB_CHUNK_CHARS ?? 8),
});
process.stdout.write(`${JSON.stringify({ port: stub.port })}\n`);
process.on('SIGTERM', () => void stub.close().then(() => process.exit(0)));
