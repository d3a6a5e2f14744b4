import { Agent } from 'undici';
import { auth, startTestGateway } from '../../test/support/harness.js';
import { send, statusKey } from './http.js';
import { Rand } from './random.js';
import type { Problem } from './run.js';
import { chaosScript, startChaosUpstream } from './sse.js';

export interface UpstreamFuzzReport {
  sent: number;
  /** scenario → status → count (a stream that ended in an error event counts as `200+error`). */
  histogram: Record<string, Record<string, number>>;
  problems: Problem[];
  /** GET /healthz after the run. */
  healthy: boolean;
}

/**
 * Puts the gateway in front of a chaotic upstream (broken event streams and JSON) and checks that every answer
 * is a 200 with a well-formed stream (ending in [DONE] or an OpenAI error event), or a 4xx/502/504 in OpenAI's
 * error shape — never a 500, an internal-error event, a dropped connection or a hang.
 *
 * @example
 * const report = await fuzzUpstream({ seed: 1, count: 200 });
 */
export async function fuzzUpstream({
  seed,
  count,
  concurrency = 4,
  timeoutMs = 15_000,
}: {
  seed: number;
  count: number;
  concurrency?: number;
  timeoutMs?: number;
}): Promise<UpstreamFuzzReport> {
  const chaos = await startChaosUpstream(seed);
  const gw = await startTestGateway({
    GATEWAY_UPSTREAM_URL: chaos.url,
    GATEWAY_UPSTREAM_TIMEOUT_MS: '5000',
    GATEWAY_LOG_LEVEL: 'error',
    GATEWAY_POLICY_WATCH: 'off',
  });
  const dispatcher = new Agent({ connections: concurrency });
  const histogram: UpstreamFuzzReport['histogram'] = {};
  const problems: Problem[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const stream = Rand.for(seed ^ 0xabc, i).chance(0.75);
      const scenario = chaosScript(Rand.for(seed ^ 0x5ee, i), stream).name;
      const body = Buffer.from(
        JSON.stringify({
          model: `chaos-${i}`,
          stream,
          messages: [{ role: 'user', content: 'Write a haiku about rain' }],
        }),
      );
      const o = await send(
        dispatcher,
        gw.url,
        {
          kind: scenario,
          method: 'POST',
          path: '/v1/chat/completions',
          headers: { 'content-type': 'application/json' },
          body,
          expect: 'upstream-fault',
        },
        auth,
        timeoutMs,
      );
      const h = (histogram[scenario] ??= {});
      h[statusKey(o)] = (h[statusKey(o)] ?? 0) + 1;
      if (o.problem) problems.push({ case: i, kind: scenario, problem: o.problem });
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
    const healthy = (await fetch(`${gw.url}/healthz`)).ok;
    return { sent: count, histogram, problems, healthy };
  } finally {
    await dispatcher.close();
    await gw.close();
    await chaos.close();
  }
}
