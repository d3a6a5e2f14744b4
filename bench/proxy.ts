/**
 * `npm run bench:proxy`: the stub upstream called directly, a bare node:http proxy, the same proxy with one
 * durable (O_DSYNC) record write before each answer (the latency floor of any gateway that records before it
 * answers), Portkey's gateway with a regex guardrail on input and output, and this gateway with the default
 * rules-only policy and decision records on — side by side on loopback, in interleaved rounds so drift on a
 * shared machine hits all alike. The wire rows (`wireRows`) add other APIs: /v1/responses and /v1/messages passed
 * through in their own format and translated to chat completions, each with its added latency against chat
 * completions' through the same gateway process. One stub (servers/wire-stub.ts) answers every format, so every
 * row and every direct baseline has the same upstream.
 *
 * Options: --seconds N (per run, default 4), --rounds N (default 3), --concurrency N (throughput runs, default 32),
 * --policy PATH (the gateways' policy, e.g. policies/ml/policy.json), --varied (every chat request a new prompt, so
 * the learned classifiers' caches never answer; bench/learned-path.ts compares builds this way).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import { fmt, load, median, startProcess, stopProcesses, type LoadResult, RULES_ONLY_POLICY } from './load.js';

const USAGE = `usage: npm run bench:proxy -- [options]

  The stub, a bare proxy, the durable floor, Portkey and this gateway, side by side.
  --seconds N (per run, default 4), --rounds N (default 3), --concurrency N (throughput runs, default 32),
  --policy PATH (the gateways' policy), --varied (a new prompt per chat request).
  exit codes: 0 done, 1 failed, 2 usage error`;

const { values } = parseOrExit({ name: 'bench:proxy', usage: USAGE }, () => {
  const parsed = parseCli(process.argv.slice(2), {
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    policy: { type: 'string' },
    varied: { type: 'boolean', default: false },
  });
  checkNumbers(parsed.values, ['seconds', 'rounds', 'concurrency']);
  return parsed;
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const root = join(import.meta.dirname, '..');
const question = 'What is the capital of France? Answer in one sentence.';
const chatBody = (content: string) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
let asked = 0;
const body: string | (() => string) = values.varied
  ? () => chatBody(`${question} (question ${asked++})`)
  : chatBody(question);

// One upstream for every row: it answers chat completions, /responses and /messages alike (wire-answers.ts).
const stub = await startProcess([join(root, 'bench/servers/wire-stub.js')], {});
const bare = await startProcess([join(root, 'bench/servers/bare-proxy.js')], { UPSTREAM_PORT: String(stub.port) });
const floor = await startProcess([join(root, 'bench/servers/durable-floor.js')], { UPSTREAM_PORT: String(stub.port) });
const portkey = await startProcess(
  [join(root, '..', 'node_modules/@portkey-ai/gateway/build/start-server.js')],
  {},
  'http://127.0.0.1:8787/',
);
const auditDir = mkdtempSync(join(tmpdir(), 'bench-audit-'));
const key = 'sk-bench-key-0123456789';
const gatewayEnv = {
  GATEWAY_UPSTREAM_URL: `http://127.0.0.1:${stub.port}/v1`,
  GATEWAY_API_KEYS: key,
  GATEWAY_LOG_LEVEL: 'warn',
  GATEWAY_POLICY_WATCH: 'off',
  // Its /v1/responses and /v1/messages rows are the translated ones.
  GATEWAY_UPSTREAM_FORMAT: 'chat',
  GATEWAY_POLICY: values.policy ? resolve(values.policy) : RULES_ONLY_POLICY,
};
// The default: every answer waits for its record's group-commit fsync.
const gateway = await startProcess(
  [join(root, 'gateway/main.js')],
  { ...gatewayEnv, GATEWAY_PORT: '18080', GATEWAY_AUDIT_DIR: join(auditDir, 'group') },
  'http://127.0.0.1:18080/readyz',
);
// Records written to the OS before the answer, without waiting for the disk (GATEWAY_AUDIT_DURABILITY=none).
const gatewayNone = await startProcess(
  [join(root, 'gateway/main.js')],
  { ...gatewayEnv, GATEWAY_PORT: '18081', GATEWAY_AUDIT_DIR: join(auditDir, 'none'), GATEWAY_AUDIT_DURABILITY: 'none' },
  'http://127.0.0.1:18081/readyz',
);

// /v1/responses and /v1/messages passed through (`upstream.format native`) to the same stub, at both durabilities.
const nativeGateway = (port: number, durability: string) =>
  startProcess(
    [join(root, 'gateway/main.js')],
    {
      ...gatewayEnv,
      GATEWAY_UPSTREAM_FORMAT: 'native',
      GATEWAY_PORT: String(port),
      GATEWAY_AUDIT_DIR: join(auditDir, `native-${durability}`),
      GATEWAY_AUDIT_DURABILITY: durability,
    },
    `http://127.0.0.1:${port}/readyz`,
  );
const gatewayNative = await nativeGateway(18082, 'group');
const gatewayNativeNone = await nativeGateway(18083, 'none');

const guard = {
  type: 'guardrail',
  deny: true,
  checks: [{ id: 'default.regexMatch', parameters: { rule: 'bomb|explosive', not: true } }],
};
const portkeyConfig = JSON.stringify({
  provider: 'openai',
  api_key: 'sk-test',
  custom_host: `http://127.0.0.1:${stub.port}/v1`,
  before_request_hooks: [{ ...guard, id: 'in' }],
  after_request_hooks: [{ ...guard, id: 'out' }],
});

const responsesBody = JSON.stringify({
  model: 'gpt-4o-mini',
  input: 'What is the capital of France? Answer in one sentence.',
});
const messagesBody = JSON.stringify({ ...JSON.parse(chatBody(question)), max_tokens: 256 });
const auth = { authorization: `Bearer ${key}` };
const anthropicAuth = { 'x-api-key': key, 'anthropic-version': '2023-06-01' };
const FSYNC = 'this gateway (records, fsync before answer)';
const NONE = 'this gateway (records, durability none)';
const NATIVE_FSYNC = 'chat completions, pass-through gateway (fsync)';
const NATIVE_NONE = 'chat completions, pass-through gateway (none)';
const stubUrl = `http://127.0.0.1:${stub.port}/v1`;

interface Target {
  name: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
}
/**
 * The other wire APIs: each row, the direct upstream call it adds to, and the chat completions row whose added
 * latency it is compared with: chat completions through the same gateway process. An idle gateway process answers
 * slower for a while (bench/README.md), and a process serving three rows a round is idle less than one serving
 * one, so comparing across processes measured their duty cycles, not the APIs.
 */
interface WireRow extends Target {
  direct: string;
  chat: string;
}
const wire = (port: number, api: 'responses' | 'messages', name: string, chat: string): WireRow => ({
  name,
  url: `http://127.0.0.1:${port}/v1/${api}`,
  // The upstream call it makes: the API's own path passed through, chat completions translated.
  direct: chat === FSYNC || chat === NONE ? 'direct (stub)' : `direct (${api})`,
  chat,
  ...(api === 'messages' ? { body: messagesBody, headers: anthropicAuth } : { body: responsesBody, headers: auth }),
});
const wireRows: WireRow[] = [
  wire(18082, 'responses', '/v1/responses passed through (fsync)', NATIVE_FSYNC),
  wire(18080, 'responses', '/v1/responses translated (fsync)', FSYNC),
  wire(18083, 'responses', '/v1/responses passed through (none)', NATIVE_NONE),
  wire(18081, 'responses', '/v1/responses translated (none)', NONE),
  wire(18082, 'messages', '/v1/messages passed through (fsync)', NATIVE_FSYNC),
  wire(18080, 'messages', '/v1/messages translated (fsync)', FSYNC),
];
const chatRow = (name: string, port: number): Target => ({
  name,
  url: `http://127.0.0.1:${port}/v1/chat/completions`,
  headers: auth,
});

/**
 * The targets in groups measured one after the other; within a group (the rows of one gateway process), the
 * order turns by one each round, so no row is always the first after its process sat idle.
 */
const groups: Target[][] = [
  [
    { name: 'direct (stub)', url: `${stubUrl}/chat/completions` },
    { name: 'direct (responses)', url: `${stubUrl}/responses`, body: responsesBody },
    { name: 'direct (messages)', url: `${stubUrl}/messages`, body: messagesBody },
  ],
  [{ name: 'bare node:http proxy', url: `http://127.0.0.1:${bare.port}/v1/chat/completions` }],
  [{ name: 'bare proxy + one O_DSYNC record write', url: `http://127.0.0.1:${floor.port}/v1/chat/completions` }],
  [
    {
      name: 'portkey + regex guardrails',
      url: 'http://127.0.0.1:8787/v1/chat/completions',
      headers: { 'x-portkey-config': portkeyConfig },
    },
  ],
  ...[18080, 18081, 18082, 18083].map((port, i) => [
    chatRow([FSYNC, NONE, NATIVE_FSYNC, NATIVE_NONE][i], port),
    ...wireRows.filter((w) => w.url.includes(`:${port}/`)),
  ]),
];
const targets = groups.flat();

// Per target, in target order: one load result per round at concurrency 1 and at `concurrency`.
const results = targets.map((target) => ({ target, c1: [] as LoadResult[], cN: [] as LoadResult[] }));
/** The results of one target, by name (names are unique; a missing one is a bug in this file). */
function resultsOf(name: string) {
  const found = results.find((r) => r.target.name === name);
  if (!found) throw new Error(`bench:proxy has no target named ${name}`);
  return found;
}
const turned = <T>(xs: T[], by: number) => xs.map((_, i) => xs[(i + by) % xs.length]);
try {
  for (const t of targets) await load(t.url, { concurrency: 4, seconds: 1, body: t.body ?? body, headers: t.headers }); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const t of groups.flatMap((g) => turned(g, r))) {
      const { c1, cN } = resultsOf(t.name);
      c1.push(await load(t.url, { concurrency: 1, seconds, body: t.body ?? body, headers: t.headers }));
      cN.push(await load(t.url, { concurrency, seconds, body: t.body ?? body, headers: t.headers }));
    }
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
} finally {
  // before the audit dir goes: gateways write on close
  await stopProcesses([gateway, gatewayNone, gatewayNative, gatewayNativeNone, portkey, floor, bare, stub]);
  rmSync(auditDir, { recursive: true, force: true });
}

const summary = results.map(({ target, c1, cN }) => {
  return {
    name: target.name,
    rps: median(cN.map((x) => x.rps)),
    p50: median(cN.map((x) => x.p50)),
    p99: median(cN.map((x) => x.p99)),
    c1p50: median(c1.map((x) => x.p50)),
    c1p99: median(c1.map((x) => x.p99)),
    errors: [...c1, ...cN].reduce((a, x) => a + x.errors, 0),
  };
});
console.log(`\nbench:proxy — ${rounds} interleaved rounds of ${seconds}s per target; medians of the rounds`);
console.log(
  `${'target'.padEnd(44)} ${`RPS@c${concurrency}`.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}   ` +
    `${'c1 p50'.padStart(7)} ${'c1 p99'.padStart(7)} errors`,
);
for (const s of summary) {
  console.log(
    `${s.name.padEnd(44)} ${fmt(s.rps, 0).padStart(9)} ${fmt(s.p50).padStart(8)} ${fmt(s.p99).padStart(8)}   ` +
      `${fmt(s.c1p50, 3).padStart(7)} ${fmt(s.c1p99, 3).padStart(7)} ${s.errors}`,
  );
}
const byName = (name: string) => summary[results.indexOf(resultsOf(name))];
const [direct, bareS, floorS, pk] = [
  'direct (stub)',
  'bare node:http proxy',
  'bare proxy + one O_DSYNC record write',
  'portkey + regex guardrails',
].map(byName);
const ours = [FSYNC, NONE].map(byName);
for (const o of ours) {
  console.log(`\nratios for ${o.name}`);
  console.log(`  / bare proxy RPS             ${fmt(o.rps / bareS.rps)}   (goal >= 0.6)`);
  console.log(`  / portkey RPS                ${fmt(o.rps / pk.rps)}   (goal >= 3)`);
  console.log(`  added p50 at c1 vs direct    ${fmt(o.c1p50 - direct.c1p50, 3)} ms   (goal <= 0.5 ms)`);
  console.log(`  added p50 at c1 vs bare      ${fmt(o.c1p50 - bareS.c1p50, 3)} ms`);
}
console.log(`\nportkey added p50 at c1 vs direct: ${fmt(pk.c1p50 - direct.c1p50, 3)} ms`);
// What the disk alone costs: a proxy that does nothing but wait for one durable write before answering.
console.log(
  `durable floor (bare proxy + one O_DSYNC record write) added p50 at c1 vs direct: ` +
    `${fmt(floorS.c1p50 - direct.c1p50, 3)} ms`,
);

// Each wire API's added latency (over the upstream call it makes) against chat completions' through the same
// gateway process; the per-round ratios (each round's rows measured minutes apart at most) show the spread.
for (const w of wireRows) {
  const [o, d, chat] = [byName(w.name), byName(w.direct), byName(w.chat)];
  console.log(`\nadded p50 of ${w.name} over ${w.direct}, vs ${w.chat} (goal: ratio <= 1.1)`);
  for (const level of ['c1', 'cN'] as const) {
    const p50 = level === 'c1' ? 'c1p50' : 'p50';
    const added = [o[p50] - d[p50], chat[p50] - direct[p50]];
    const [ro, rd, rc, rdc] = [w.name, w.direct, w.chat, 'direct (stub)'].map((n) => resultsOf(n)[level]);
    const perRound = ro.map((x, r) => (x.p50 - rd[r].p50) / (rc[r].p50 - rdc[r].p50)).sort((a, b) => a - b);
    console.log(
      `  at ${(level === 'c1' ? 'c1' : `c${concurrency}`).padEnd(5)} ${fmt(added[0], 3)} ms vs ${fmt(added[1], 3)} ms   ` +
        `ratio ${fmt(added[0] / added[1])}   (rounds ${perRound.map((x) => fmt(x)).join(' ')})`,
    );
  }
}
