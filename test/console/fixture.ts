import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../support/harness.js';
import { startStubUpstream, type StubUpstream } from '../support/stub-upstream.js';

export const ADMIN_KEY = 'sk-admin-console-0123456789';

/** A small policy: refuse "apple" (category S2), flag "pear" near its threshold, with one test suite beside it. */
export const consolePolicy = (words: { refuse: string; flag: string } = { refuse: 'apple', flag: 'pear' }) => ({
  apiVersion: 'gateway/v1',
  id: 'console-test',
  taxonomy: [
    { id: 'S2', description: 'Non-violent crimes' },
    { id: 'watch', description: 'Watched words' },
  ],
  classifiers: [
    {
      id: 'words',
      type: 'rules',
      params: {
        keywords: [
          { label: 'bad', words: [words.refuse] },
          { label: 'watch', words: [words.flag] },
        ],
      },
    },
  ],
  rules: [
    {
      id: 'no-bad-words',
      stage: 'input',
      when: { classifier: 'words', label: 'bad', threshold: 0.5 },
      action: 'refuse',
      category: 'S2',
      message: 'I cannot help with that.',
    },
    {
      id: 'watch-words',
      stage: 'input',
      when: { classifier: 'words', label: 'watch', threshold: 0.95 },
      action: 'flag',
      category: 'watch',
    },
  ],
});

export const consoleTests = {
  description: 'The console fixture policy refuses apples and lets plain questions through.',
  cases: [
    {
      name: 'refuses an apple',
      request: 'tell me about the apple',
      expect: { action: 'refuse', rules: ['no-bad-words'] },
    },
    { name: 'answers a plain question', request: 'What is the capital of France?', expect: { action: 'allow' } },
  ],
};

export interface ConsoleGateway {
  gw: TestGateway;
  stub: StubUpstream;
  policyDir: string;
  shadowFile: string;
  close(): Promise<void>;
}

/**
 * A real gateway on the stub upstream for the console: admin key, full content kept (so records can be explained
 * and reviewed), a policy folder with its tests, and a shadow policy file (a copy of the enforced policy to start).
 */
export async function startConsoleGateway(env: Record<string, string> = {}): Promise<ConsoleGateway> {
  const stub = await startStubUpstream();
  const policyDir = mkdtempSync(join(tmpdir(), 'console-policy-'));
  writeFileSync(join(policyDir, 'policy.json'), JSON.stringify(consolePolicy(), null, 2));
  writeFileSync(join(policyDir, 'console.test.json'), JSON.stringify(consoleTests, null, 2));
  const shadowDir = mkdtempSync(join(tmpdir(), 'console-shadow-'));
  const shadowFile = join(shadowDir, 'policy.json');
  writeFileSync(shadowFile, JSON.stringify({ ...consolePolicy(), id: 'console-shadow' }, null, 2));
  const gw = await startTestGateway({
    GATEWAY_UPSTREAM_URL: stub.url,
    GATEWAY_POLICY: policyDir,
    GATEWAY_SHADOW_POLICY: shadowFile,
    GATEWAY_POLICY_WATCH: 'off',
    GATEWAY_ADMIN_KEYS: ADMIN_KEY,
    GATEWAY_AUDIT_CONTENT: 'full',
    GATEWAY_LOG_LEVEL: 'warn',
    ...env,
  });
  return {
    gw,
    stub,
    policyDir,
    shadowFile,
    async close() {
      await gw.close();
      await stub.close();
    },
  };
}
