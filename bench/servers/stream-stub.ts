import { startStubUpstream } from '../../test/support/stub-upstream.js';
import { probePieces } from './stream-probes.js';

/**
 * The stub upstream for bench:stream, as its own process: STUB_DELTAS deltas (default 40) STUB_GAP_MS apart
 * (default 20). A prompt `probe <n>` gets leak probe n (stream-probes.ts): a secret the default pack redacts, cut
 * into deltas of a few characters. Each chunk carries `stub_ms`, the time from the request's arrival to its send, so a client can tell the
 * stub's own timing from what the path added. Prints its port on stdout.
 */
const deltas = Number(process.env.STUB_DELTAS ?? 40);
const gap = Number(process.env.STUB_GAP_MS ?? 20);
const words = Array.from({ length: deltas }, (_, i) => `w${String(i).padStart(2, '0')} `);

const stub = await startStubUpstream({
  pieces: (u) => (u.startsWith('probe') ? probePieces(Number(u.split(' ')[1] ?? 0), words).pieces : words),
  delayMs: () => gap,
  stamp: true,
});
process.stdout.write(`${JSON.stringify({ port: stub.port })}\n`);
process.on('SIGTERM', () => void stub.close().then(() => process.exit(0)));
