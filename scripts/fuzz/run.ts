import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent } from 'undici';
import { auth, startTestGateway } from '../../test/support/harness.js';
import { startStubUpstream } from '../../test/support/stub-upstream.js';
import { send, statusKey, type Outcome } from './http.js';
import { Rand } from './random.js';
import { requestCase } from './requests.js';

export interface FuzzOptions {
  seed: number;
  count: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Longer than this without a full answer counts as a hang. */
  timeoutMs?: number;
  /** The gateway's body limit (its default unless the harness changes it). */
  limit?: number;
}

export interface Problem {
  case: number;
  kind: string;
  problem: string;
}

export interface RequestFuzzReport {
  sent: number;
  /** kind → status → count. */
  histogram: Record<string, Record<string, number>>;
  problems: Problem[];
  /** Requests the stub upstream received, and how many carried a smuggled header. */
  upstreamRequests: number;
  leakedHeaders: number;
  /** After a forced GC: after the warm-up, at the end, and RSS at every tenth of the run in between. */
  memory: { rssBeforeMb: number; rssAfterMb: number; heapBeforeMb: number; heapAfterMb: number; rssSeriesMb: number[] };
}

/** A full garbage collection, when the flag can be set at run time (it can in Node 20). */
function collect(): void {
  try {
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  } catch {
    /* measured without a forced collection */
  }
}

const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;

/** Headers that must never reach the upstream, by name (the stub is sent only its own). */
const FORBIDDEN =
  /^(?:x-forwarded-|forwarded|cookie|x-real-ip|openai-|x-upstream-|proxy-authorization|x-stainless-|x-request-id|traceparent|x-fuzz|x-api-key)/;

/**
 * Sends `count` generated requests to a real gateway in front of a real stub upstream and judges each answer.
 * Case `i` depends only on (seed, i), so a failure replays with the same seed.
 *
 * @example
 * const report = await fuzzRequests({ seed: 1, count: 300 });
 * report.problems // [] when the gateway held
 */
export async function fuzzRequests({
  seed,
  count,
  concurrency = 8,
  timeoutMs = 15_000,
  limit = 1 << 20,
}: FuzzOptions): Promise<RequestFuzzReport> {
  const stub = await startStubUpstream();
  const gw = await startTestGateway({
    GATEWAY_UPSTREAM_URL: stub.url,
    GATEWAY_LOG_LEVEL: 'error',
    GATEWAY_POLICY_WATCH: 'off',
  });
  const dispatcher = new Agent({ connections: concurrency, pipelining: 0 });
  const histogram: RequestFuzzReport['histogram'] = {};
  const problems: Problem[] = [];
  const memory = { rssBeforeMb: 0, rssAfterMb: 0, heapBeforeMb: 0, heapAfterMb: 0 };
  const warmup = Math.min(100, Math.floor(count / 10));
  const rssSeriesMb: number[] = [];
  let next = 0;
  const record = (i: number, o: Outcome) => {
    const h = (histogram[o.kind] ??= {});
    h[statusKey(o)] = (h[statusKey(o)] ?? 0) + 1;
    if (o.problem) problems.push({ case: i, kind: o.kind, problem: o.problem });
  };
  let leaked = 0;
  let upstreamCalls = 0;
  /** Checks what the stub received so far, then lets it go (the stub keeps every body: it would look like a leak). */
  const drain = () => {
    for (const r of stub.requests.splice(0)) {
      upstreamCalls++;
      if (Object.entries(r.headers).some(([k, v]) => FORBIDDEN.test(k) || String(v).includes('fuzz-smuggle'))) leaked++;
      if (!r.path.endsWith('/v1/chat/completions'))
        problems.push({ case: -1, kind: 'upstream path', problem: `the stub was asked for ${r.path}` });
    }
  };
  const measure = () => {
    drain();
    collect();
    return process.memoryUsage();
  };
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      if (i === warmup) {
        const u = measure();
        memory.rssBeforeMb = mb(u.rss);
        memory.heapBeforeMb = mb(u.heapUsed);
      }
      if (i > warmup && (i - warmup) % Math.max(1, Math.floor((count - warmup) / 10)) === 0)
        rssSeriesMb.push(mb(measure().rss));
      const c = requestCase(Rand.for(seed, i), i, limit);
      record(i, await send(dispatcher, gw.url, c, auth, timeoutMs));
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
    const u = measure();
    memory.rssAfterMb = mb(u.rss);
    memory.heapAfterMb = mb(u.heapUsed);
    drain();
    if (leaked)
      problems.push({
        case: -1,
        kind: 'smuggled headers',
        problem: `${leaked} upstream requests carried client headers`,
      });
    return {
      sent: count,
      histogram,
      problems,
      upstreamRequests: upstreamCalls,
      leakedHeaders: leaked,
      memory: { ...memory, rssSeriesMb },
    };
  } finally {
    await dispatcher.close();
    await gw.close();
    await stub.close();
  }
}
