import { startWireStub } from './wire-answers.js';

/** bench:proxy's upstream for all three wire formats (wire-answers.ts) as its own process. Prints its port. */
const stub = await startWireStub();
process.stdout.write(`${JSON.stringify({ port: stub.port })}\n`);
process.on('SIGTERM', () => void stub.close().then(() => process.exit(0)));
