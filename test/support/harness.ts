import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before } from 'node:test';
import type { DecisionRecord } from '../../audit/types.js';
import { loadConfig } from '../../gateway/config.js';
import { createLogger } from '../../gateway/http/logger.js';
import { startGateway, type Gateway, type GatewayOverrides } from '../../gateway/server.js';
import { startStubUpstream, type StubOptions, type StubUpstream } from './stub-upstream.js';

export const CLIENT_KEY = 'sk-client-test-key-0123456789';
/**
 * The rules-only pack, which test gateways run unless a test names another GATEWAY_POLICY: the tests here exercise
 * the gateway's mechanics, which need no model (the default pack's model is tested in test/moderations.test.ts and
 * by the default pack's own suites).
 */
export const RULES_ONLY_POLICY = join(import.meta.dirname, '..', '..', '..', 'policies', 'rules-only');
export const UPSTREAM_KEY = 'sk-upstream-secret-key-abcdefghij';

export interface TestGateway extends Gateway {
  auditDir: string;
  /** Every decision record written so far. */
  records(): DecisionRecord[];
  /** Every operational log line written so far. */
  logs: string[];
}

/**
 * Starts a real gateway on a loopback port with a temporary audit directory and captured logs.
 * `env` takes the same variables as production (GATEWAY_UPSTREAM_URL, GATEWAY_POLICY, …).
 */
export async function startTestGateway(
  env: Record<string, string> = {},
  overrides: GatewayOverrides = {},
): Promise<TestGateway> {
  const auditDir = mkdtempSync(join(tmpdir(), 'gw-audit-'));
  const config = loadConfig({
    env: {
      GATEWAY_PORT: '0',
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_API_KEYS: CLIENT_KEY,
      GATEWAY_AUDIT_DIR: auditDir,
      GATEWAY_LOG_LEVEL: 'debug',
      GATEWAY_POLICY: RULES_ONLY_POLICY,
      ...env,
    },
  });
  const logs: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => logs.push(...d.toString('utf8').split('\n').filter(Boolean)));
  const gw = await startGateway(config, { logger: createLogger(config.log.level, stream), ...overrides });
  return {
    ...gw,
    auditDir,
    logs,
    records() {
      return readDecisions(auditDir);
    },
    async close() {
      await gw.close();
      rmSync(auditDir, { recursive: true, force: true });
    },
  };
}

/** Every decision record in an audit directory: the chain log's segments, or a plain decisions.jsonl. */
export function readDecisions(dir: string): DecisionRecord[] {
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /^segment-\d+\.ndjson$|^decisions\.jsonl$/.test(f))
        .sort()
    : [];
  return files
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return []; // a line still being written
      }
    })
    .filter((r) => r.kind === undefined || r.kind === 'decision');
}

export const auth = { authorization: `Bearer ${CLIENT_KEY}` };

export const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'stub-model',
  messages: [{ role: 'user', content }],
  ...extra,
});

/**
 * For a describe block: an upstream (any server with a base `url` and `close`) and a gateway in front of it,
 * started before the tests and closed after. Read `ctx.gw` and `ctx.stub` inside the tests.
 */
export function gatewayWith<U extends { url: string; close(): Promise<void> }>(
  startUpstream: () => Promise<U>,
  env: Record<string, string> = {},
) {
  const ctx = {} as { gw: TestGateway; stub: U };
  before(async () => {
    ctx.stub = await startUpstream();
    ctx.gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: ctx.stub.url, GATEWAY_POLICY_WATCH: 'off', ...env });
  });
  after(async () => {
    await ctx.gw.close();
    await ctx.stub.close();
  });
  return ctx;
}

/** `gatewayWith` the stub upstream (test/support/stub-upstream.ts). */
export const gatewayWithStub = (env: Record<string, string> = {}, stubOptions: StubOptions = {}) =>
  gatewayWith<StubUpstream>(() => startStubUpstream(stubOptions), env);

/** Waits until `check` passes or the time runs out. */
export async function eventually(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
