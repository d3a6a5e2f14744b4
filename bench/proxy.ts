/**
 * `npm run bench:proxy`: the stub upstream called directly, a bare node:http proxy, the same proxy with one
 * durable (O_DSYNC) record write before each answer (the latency floor of any gateway that records before it
 * answers), Portkey's gateway with a regex guardrail on input and output, and this gateway with the default
 * rules-only policy and decision records on — side by side on loopback, in interleaved rounds so drift on a
 * shared machine hits all alike. The wire rows (`wireRows`) add other APIs: /v1/responses and /v1/messages passed
 * through to a stub of their own format and translated to the chat stub, each with its added latency against chat
 * completions'.
 *
 * Options: --seconds N (per run, default 4), --rounds N (default 3), --concurrency N (throughput runs, default 32),
 * --policy PATH (the gateways' policy, e.g. policies/ml/policy.json), --varied (every chat request a new prompt, so
 * the learned classifiers' caches never answer; bench/learned-path.ts compares builds this way).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import { fmt, load, median, startProcess, stopProcesses, type LoadResult } from './load.js';

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

const stub = await startProcess([join(root, 'bench/servers/stub.js')], {});
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
  // Its /v1/responses rows are the translated ones (the chat stub serves no /responses).
  GATEWAY_UPSTREAM_FORMAT: 'chat',
  ...(values.policy && { GATEWAY_POLICY: resolve(values.policy) }),
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

// The Responses API passed through: a stub that serves /v1/responses, and a gateway in front of it.
const responsesStub = await startProcess([join(root, 'bench/servers/responses-stub.js')], {});
const nativeGateway = (port: number, durability: string) =>
  startProcess(
    [join(root, 'gateway/main.js')],
    {
      ...gatewayEnv,
      GATEWAY_UPSTREAM_URL: `http://127.0.0.1:${responsesStub.port}/v1`,
      GATEWAY_UPSTREAM_FORMAT: 'native',
      GATEWAY_PORT: String(port),
      GATEWAY_AUDIT_DIR: join(auditDir, `native-${durability}`),
      GATEWAY_AUDIT_DURABILITY: durability,
    },
    `http://127.0.0.1:${port}/readyz`,
  );
const gatewayNative = await nativeGateway(18082, 'group');
const gatewayNativeNone = await nativeGateway(18083, 'none');

// The Messages API passed through: an Anthropic-compatible stub, and a gateway in front of it (records fsynced).
const anthropicStub = await startProcess([join(root, 'bench/servers/anthropic-stub.js')], {});
const gatewayAnthropic = await startProcess(
  [join(root, 'gateway/main.js')],
  {
    ...gatewayEnv,
    GATEWAY_UPSTREAM_URL: `http://127.0.0.1:${anthropicStub.port}/v1`,
    GATEWAY_UPSTREAM_FORMAT: 'native',
    GATEWAY_PORT: '18084',
    GATEWAY_AUDIT_DIR: join(auditDir, 'anthropic'),
  },
  'http://127.0.0.1:18084/readyz',
);

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
/**
 * The other wire APIs: each row, the direct upstream call it adds to, and the chat completions row (same
 * durability) whose added latency it is compared with.
 */
interface WireRow {
  name: string;
  url: string;
  direct: string;
  chat: string;
  /** The Messages rows' body and headers; the Responses rows use responsesBody and a bearer key. */
  body?: string;
  headers?: Record<string, string>;
}
const wireRows: WireRow[] = [
  {
    name: '/v1/responses passed through (fsync)',
    url: 'http://127.0.0.1:18082/v1/responses',
    direct: 'direct (responses stub)',
    chat: FSYNC,
  },
  {
    name: '/v1/responses translated (fsync)',
    url: 'http://127.0.0.1:18080/v1/responses',
    direct: 'direct (stub)',
    chat: FSYNC,
  },
  {
    name: '/v1/responses passed through (none)',
    url: 'http://127.0.0.1:18083/v1/responses',
    direct: 'direct (responses stub)',
    chat: NONE,
  },
  {
    name: '/v1/responses translated (none)',
    url: 'http://127.0.0.1:18081/v1/responses',
    direct: 'direct (stub)',
    chat: NONE,
  },
  {
    name: '/v1/messages passed through (fsync)',
    url: 'http://127.0.0.1:18084/v1/messages',
    direct: 'direct (anthropic stub)',
    chat: FSYNC,
    body: messagesBody,
    headers: anthropicAuth,
  },
  {
    name: '/v1/messages translated (fsync)',
    url: 'http://127.0.0.1:18080/v1/messages',
    direct: 'direct (stub)',
    chat: FSYNC,
    body: messagesBody,
    headers: anthropicAuth,
  },
];

const targets: { name: string; url: string; headers?: Record<string, string>; body?: string }[] = [
  { name: 'direct (stub)', url: `http://127.0.0.1:${stub.port}/v1/chat/completions` },
  { name: 'bare node:http proxy', url: `http://127.0.0.1:${bare.port}/v1/chat/completions` },
  { name: 'bare proxy + one O_DSYNC record write', url: `http://127.0.0.1:${floor.port}/v1/chat/completions` },
  {
    name: 'portkey + regex guardrails',
    url: 'http://127.0.0.1:8787/v1/chat/completions',
    headers: { 'x-portkey-config': portkeyConfig },
  },
  {
    name: FSYNC,
    url: 'http://127.0.0.1:18080/v1/chat/completions',
    headers: { authorization: `Bearer ${key}` },
  },
  {
    name: NONE,
    url: 'http://127.0.0.1:18081/v1/chat/completions',
    headers: { authorization: `Bearer ${key}` },
  },
  { name: 'direct (responses stub)', url: `http://127.0.0.1:${responsesStub.port}/v1/responses`, body: responsesBody },
  { name: 'direct (anthropic stub)', url: `http://127.0.0.1:${anthropicStub.port}/v1/messages`, body: messagesBody },
  ...wireRows.map((w) => ({ ...w, headers: w.headers ?? auth, body: w.body ?? responsesBody })),
];

// Per target, in target order: one load result per round at concurrency 1 and at `concurrency`.
const results = targets.map((target) => ({ target, c1: [] as LoadResult[], cN: [] as LoadResult[] }));
try {
  for (const t of targets) await load(t.url, { concurrency: 4, seconds: 1, body: t.body ?? body, headers: t.headers }); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const { target: t, c1, cN } of results) {
      c1.push(await load(t.url, { concurrency: 1, seconds, body: t.body ?? body, headers: t.headers }));
      cN.push(await load(t.url, { concurrency, seconds, body: t.body ?? body, headers: t.headers }));
    }
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
} finally {
  // before the audit dir goes: gateways write on close
  await stopProcesses([
    gateway,
    gatewayNone,
    gatewayNative,
    gatewayNativeNone,
    gatewayAnthropic,
    anthropicStub,
    portkey,
    floor,
    bare,
    stub,
    responsesStub,
  ]);
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
const [direct, bareS, floorS, pk, ...rest] = summary;
const ours = rest.filter((o) => o.name === FSYNC || o.name === NONE);
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

// Each wire API's added latency (over the upstream call it makes) against chat completions' (same durability).
const byName = (name: string) => summary.find((x) => x.name === name);
for (const w of wireRows) {
  const [o, d, chat] = [byName(w.name), byName(w.direct), byName(w.chat)];
  if (!o || !d || !chat) continue;
  const c1 = [o.c1p50 - d.c1p50, chat.c1p50 - direct.c1p50];
  const cN = [o.p50 - d.p50, chat.p50 - direct.p50];
  console.log(`\nadded p50 of ${w.name} over ${w.direct}, vs chat completions' (goal: ratio <= 1.1)`);
  console.log(`  at c1    ${fmt(c1[0], 3)} ms vs ${fmt(c1[1], 3)} ms   ratio ${fmt(c1[0] / c1[1])}`);
  console.log(`  at c${concurrency}   ${fmt(cN[0], 3)} ms vs ${fmt(cN[1], 3)} ms   ratio ${fmt(cN[0] / cN[1])}`);
}
