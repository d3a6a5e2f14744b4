import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamOptions } from '../../gateway/pipeline/stream-options.js';
import { startTestGateway, type TestGateway } from './harness.js';
import type { StubOptions } from './stub-upstream.js';

export const REFUSAL = 'That answer was withheld.';

/** A policy that refuses FORBIDDEN (both ways) and redacts email addresses (both ways). */
export function streamPolicy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-stream-policy-'));
  writeFileSync(
    join(dir, 'policy.json'),
    JSON.stringify({
      apiVersion: 'gateway/v1',
      id: 'stream-modes',
      classifiers: [
        {
          id: 'words',
          type: 'rules',
          params: {
            keywords: [{ label: 'forbidden', words: ['FORBIDDEN'] }],
            detectors: [{ detector: 'email', label: 'pii' }],
          },
        },
      ],
      rules: [
        {
          id: 'no-forbidden',
          stage: 'both',
          when: { classifier: 'words', label: 'forbidden', threshold: 0.5 },
          action: 'refuse',
          message: REFUSAL,
        },
        {
          id: 'hide-pii',
          stage: 'both',
          when: { classifier: 'words', label: 'pii', threshold: 0.5 },
          action: 'redact',
          replacement: '[REDACTED:{label}]',
        },
      ],
    }),
  );
  return dir;
}

const clean = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => `tok${String(from + i).padStart(2, '0')} `);

/**
 * Scripted answers, chosen by the first word of the prompt. Pieces are 6 characters, so with 40-character
 * windows and 16 characters of overlap a violation lands early, mid-stream, or across a window edge.
 */
export const SCRIPTS: Record<string, string[]> = {
  clean: [...clean(0, 40), 'END'],
  early: ['FORBIDDEN ', ...clean(0, 40), 'END'],
  middle: [...clean(0, 20), 'FORBIDDEN ', ...clean(20, 40), 'END'],
  // Two chunks in one window.
  split: [...clean(0, 2), 'ab FORBI', 'DDEN ', ...clean(2, 40), 'END'],
  // "FORBI" closes one 40-character window and "DDEN" opens the next.
  edge: [...clean(0, 6), 'ab FORBI', 'DDEN ', ...clean(6, 40), 'END'],
  long: [...clean(0, 400), 'END'],
  email: [...clean(0, 10), 'mail jane.doe@example.com ', ...clean(10, 10), 'END'],
};

export const scripted: StubOptions = { pieces: (u) => SCRIPTS[u.split(' ')[0]] ?? [`Echo: ${u}`], delayMs: () => 2 };

export const WINDOWS = { windowChars: 40, overlapChars: 16 } as const;

/** A gateway on the stream policy with full content in its records and the given stream settings. */
export async function streamGateway(
  upstreamUrl: string,
  stream: Partial<StreamOptions>,
  env: Record<string, string> = {},
): Promise<TestGateway> {
  const gw = await startTestGateway({
    GATEWAY_UPSTREAM_URL: upstreamUrl,
    GATEWAY_POLICY: streamPolicy(),
    GATEWAY_AUDIT_CONTENT: 'full',
    ...env,
  });
  // Until gateway/config.ts carries the `stream` block, tests set the pipeline's stream settings directly.
  gw.pipeline.streamSettings = stream;
  return gw;
}
