import { startResponsesStub } from '../../test/support/stub-responses-upstream.js';

/** The Responses API stub upstream as its own process, for bench:proxy's pass-through rows. Prints its port. */
const stub = await startResponsesStub({
  reply: () => 'The capital of France is Paris. It has been the capital for most of its history.',
});
process.stdout.write(`${JSON.stringify({ port: stub.port })}\n`);
process.on('SIGTERM', () => void stub.close().then(() => process.exit(0)));
