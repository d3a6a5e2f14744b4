/**
 * `npm run bench:overload`: a gateway with a concurrency limit, driven at twice that many concurrent clients
 * against an upstream that takes `--upstream-ms` per answer. Reports accepted, rejected (429) and timed-out
 * requests, p99 of the accepted ones, whether any rejected request reached the upstream, and whether every
 * accepted stream (a quarter of the clients stream) ran to [DONE] without a gap over 250 ms.
 * Options: --limit N (default 64), --seconds N (default 8), --upstream-ms N (default 50),
 * --timeout-ms N (default 5000).
 */
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import { Pool } from 'undici';
import { loadConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/server.js';
import { startStubUpstream } from '../test/support/stub-upstream.js';
import { fmt, percentile } from './load.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const USAGE = `usage: npm run bench:overload -- [options]

  A gateway with a concurrency limit driven at twice that many clients.
  --limit N (default 64), --seconds N (default 8), --upstream-ms N (default 50), --timeout-ms N (default 5000).
  exit codes: 0 done, 1 failed, 2 usage error`;

const { values } = parseOrExit({ name: 'bench:overload', usage: USAGE }, () => {
  const parsed = parseCli(process.argv.slice(2), {
    limit: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '8' },
    'upstream-ms': { type: 'string', default: '50' },
    'timeout-ms': { type: 'string', default: '5000' },
  });
  checkNumbers(parsed.values, ['limit', 'seconds', 'upstream-ms', 'timeout-ms']);
  return parsed;
});
const limit = Number(values.limit);
const clients = limit * 2;
const timeoutMs = Number(values['timeout-ms']);

const stub = await startStubUpstream({ slowMs: Number(values['upstream-ms']), chunkDelayMs: 5, chunkChars: 8 });
const gw = await startGateway(
  loadConfig({
    env: {
      GATEWAY_PORT: '0',
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_MAX_CONCURRENT: String(limit),
      GATEWAY_AUDIT_DIR: mkdtempSync(join(tmpdir(), 'bench-ovl-')),
      GATEWAY_LOG_LEVEL: 'error',
      GATEWAY_POLICY_WATCH: 'off',
    },
  }),
);
const pool = new Pool(gw.url, { connections: clients });
const body = JSON.stringify({ model: 'slow', messages: [{ role: 'user', content: 'What is the capital of France?' }] });
// Every fourth client streams: an accepted stream must run to [DONE] with no gap over 250 ms between events.
const streamBody = JSON.stringify({
  model: 'm',
  stream: true,
  messages: [{ role: 'user', content: 'Tell me about the sea in a few sentences, please, and take your time.' }],
});
const streams = { accepted: 0, complete: 0, stalled: 0, maxGapMs: 0 };
const counts = { accepted: 0, rejected: 0, timedOut: 0, other: 0 };
const latencies: number[] = [];
const end = performance.now() + Number(values.seconds) * 1000;
await Promise.all(
  Array.from({ length: clients }, async (_, client) => {
    const streaming = client % 4 === 0;
    while (performance.now() < end) {
      const t = performance.now();
      try {
        const res = await pool.request({
          path: '/v1/chat/completions',
          method: 'POST',
          body: streaming ? streamBody : body,
          headers: { 'content-type': 'application/json' },
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        if (streaming && res.statusCode === 200) {
          streams.accepted++;
          let last = performance.now();
          let gap = 0;
          let text = '';
          for await (const chunk of res.body) {
            const now = performance.now();
            gap = Math.max(gap, now - last);
            last = now;
            text += chunk.toString();
          }
          streams.maxGapMs = Math.max(streams.maxGapMs, gap);
          if (text.includes('data: [DONE]') && gap <= 250) streams.complete++;
          else streams.stalled++;
          counts.accepted++;
          latencies.push(performance.now() - t);
          continue;
        }
        await res.body.text();
        if (res.statusCode === 200) {
          counts.accepted++;
          latencies.push(performance.now() - t);
        } else if (res.statusCode === 429) {
          counts.rejected++;
          await new Promise((r) => setTimeout(r, 5)); // a polite client backs off a little
        } else counts.other++;
      } catch {
        counts.timedOut++;
      }
    }
  }),
);
await pool.close();
latencies.sort((a, b) => a - b);
const forwarded = stub.requests.length;
console.log(
  `bench:overload — limit ${limit} in flight, ${clients} clients (2x), upstream ${values['upstream-ms']} ms, ` +
    `${values.seconds}s`,
);
console.log(
  `accepted ${counts.accepted}  rejected (429) ${counts.rejected}  timed out ${counts.timedOut}  other ${counts.other}`,
);
console.log(`accepted latency p50 ${fmt(percentile(latencies, 50))} ms  p99 ${fmt(percentile(latencies, 99))} ms`);
console.log(
  `upstream calls ${forwarded} for ${counts.accepted} accepted: ` +
    `${forwarded === counts.accepted ? 'no rejected request was forwarded' : 'MISMATCH'}`,
);
console.log(
  `accepted streams ${streams.accepted}: ${streams.complete} complete without a stall, ${streams.stalled} stalled ` +
    `or cut; largest gap ${fmt(streams.maxGapMs)} ms`,
);
await gw.close();
await stub.close();
