import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadBundle, type PolicyBundle } from '../bundle.js';
import { packBundle } from '../package.js';
import { PublishedPolicies, UnknownRevisionError } from '../published.js';
import { loadPolicyTests, runPolicyTests } from '../testing.js';
import { EXIT, positional, reportInvalid, say, sayJson, tryLoad, UsageError, type ExitCode, type Io } from './io.js';

export const PUBLISH_USAGE = `publish <path> [--redis URL] [--prefix P] [--json]
          Validate a bundle, run its tests, and publish it to Redis: every gateway replica with
          GATEWAY_REDIS_URL switches to it within a second. (URL: $GATEWAY_REDIS_URL; prefix: $GATEWAY_REDIS_PREFIX)`;
export const ROLLBACK_USAGE = `rollback <revision> [--redis URL] [--prefix P] [--json]
          Put an earlier published revision back in force on every replica.`;
export const REVISIONS_USAGE = `revisions [--redis URL] [--prefix P] [--json]
          The enforced revision and the history of publications and rollbacks, newest first.`;

const OPTIONS = {
  redis: { type: 'string' },
  prefix: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/** A short-lived connection for one command: fails at once when Redis is unreachable, never retries. */
async function withPublished<T>(
  values: { redis?: string; prefix?: string },
  io: Io,
  run: (p: PublishedPolicies) => Promise<T>,
): Promise<T> {
  const url = values.redis ?? io.env.GATEWAY_REDIS_URL;
  if (!url) throw new UsageError('no Redis: pass --redis redis://host:6379 or set GATEWAY_REDIS_URL');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let failure: Error | undefined;
  redis.on('error', (e: Error) => (failure ??= e));
  try {
    await redis.connect();
  } catch (e) {
    throw new UsageError(`cannot reach Redis: ${(failure ?? (e as Error)).message}`);
  }
  try {
    return await run(new PublishedPolicies(redis, values.prefix ?? io.env.GATEWAY_REDIS_PREFIX ?? 'gateway:'));
  } finally {
    redis.disconnect();
  }
}

/** The failures of a bundle's own tests (`*.test.json` beside each of its policies), as a reload would run them. */
async function testFailures(bundle: PolicyBundle): Promise<string[]> {
  const failures: string[] = [];
  for (const policy of new Set([bundle.default, ...bundle.bindings.map((b) => b.policy)])) {
    const report = await runPolicyTests(policy, loadPolicyTests(policy.source));
    for (const c of report.cases)
      if (c.status !== 'PASS' && !c.todo) failures.push(`${policy.policy.id}: test "${c.name}" ${c.status}`);
  }
  return failures;
}

/** `publish <path>`: exit 1 when the bundle is invalid or a test fails (nothing is published then). */
export async function publishCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: OPTIONS });
  const path = positional(positionals, 0, '<path>');
  const loaded = tryLoad(path, loadBundle);
  if (!loaded.ok) return reportInvalid(io, loaded.error, values.json);
  const failures = await testFailures(loaded.policy);
  if (failures.length) {
    if (values.json) sayJson(io, { ok: false, failures });
    else for (const f of ['NOT PUBLISHED: its tests fail', ...failures]) say(io.stdout, f);
    return EXIT.failed;
  }
  const event = await withPublished(values, io, (p) => p.publish(loaded.policy.revision, packBundle(path)));
  if (values.json) sayJson(io, { ok: true, ...event });
  else say(io.stdout, `PUBLISHED revision ${event.revision} (${loaded.policy.default.policy.id}) at ${event.at}`);
  return EXIT.ok;
}

/** `rollback <revision>`: exit 1 when no such revision was published. */
export async function rollbackCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: OPTIONS });
  const revision = positional(positionals, 0, '<revision>');
  try {
    const event = await withPublished(values, io, (p) => p.rollback(revision));
    if (values.json) sayJson(io, { ok: true, ...event });
    else say(io.stdout, `ROLLED BACK to revision ${event.revision} at ${event.at}`);
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof UnknownRevisionError)) throw e;
    if (values.json) sayJson(io, { ok: false, error: e.message });
    else say(io.stdout, e.message);
    return EXIT.failed;
  }
}

/** `revisions`: what is enforced, and the history. */
export async function revisionsCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values } = parseArgs({ args, allowPositionals: false, options: OPTIONS });
  const [enforced, history] = await withPublished(values, io, (p) => Promise.all([p.enforced(), p.history()]));
  if (values.json) sayJson(io, { enforced, history });
  else {
    say(io.stdout, `enforced: ${enforced ?? '(nothing published)'}`);
    for (const h of history) say(io.stdout, `  ${h.at}  ${h.action.padEnd(8)}  ${h.revision}`);
  }
  return EXIT.ok;
}
