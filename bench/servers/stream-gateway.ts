import { loadConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/server.js';

/**
 * This gateway for bench:stream, configured from the environment like `npm start`, with the stream settings
 * from BENCH_STREAM (JSON, e.g. {"mode":"stream-first"}) until gateway/config.ts carries a `stream` block.
 * Prints its port on stdout.
 */
const gw = await startGateway(loadConfig({ env: process.env }));
gw.pipeline.streamSettings = JSON.parse(process.env.BENCH_STREAM ?? '{}');
process.stdout.write(`${JSON.stringify({ port: gw.port })}\n`);
process.on('SIGTERM', () => void gw.close().then(() => process.exit(0)));
