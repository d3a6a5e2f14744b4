/**
 * The policy CLI: `npm run policy -- <command> [options]`. Human output by default, `--json` for machines.
 * Exit codes: 0 ok; 1 the policy or its tests failed; 2 usage or I/O error; 3 internal error (a bug).
 */
import { pathToFileURL } from 'node:url';
import { diffCommand, DIFF_USAGE } from './diff.js';
import { EXPLAIN_USAGE, explainCommand } from './explain.js';
import { RecordsError } from '../records.js';
import { EXIT, say, UsageError, type ExitCode, type Io } from './io.js';
import {
  PUBLISH_USAGE,
  publishCommand,
  REVISIONS_USAGE,
  revisionsCommand,
  ROLLBACK_USAGE,
  rollbackCommand,
} from './publish.js';
import { SCHEMA_USAGE, schemaCommand } from './schema.js';
import { SHADOW_USAGE, shadowReportCommand } from './shadow-report.js';
import { TEST_USAGE, testCommand } from './test.js';
import { VALIDATE_USAGE, validateCommand } from './validate.js';

const COMMANDS: Record<string, { run: (args: string[], io: Io) => Promise<ExitCode>; usage: string }> = {
  validate: { run: validateCommand, usage: VALIDATE_USAGE },
  test: { run: testCommand, usage: TEST_USAGE },
  explain: { run: explainCommand, usage: EXPLAIN_USAGE },
  diff: { run: diffCommand, usage: DIFF_USAGE },
  schema: { run: schemaCommand, usage: SCHEMA_USAGE },
  'shadow-report': { run: shadowReportCommand, usage: SHADOW_USAGE },
  publish: { run: publishCommand, usage: PUBLISH_USAGE },
  rollback: { run: rollbackCommand, usage: ROLLBACK_USAGE },
  revisions: { run: revisionsCommand, usage: REVISIONS_USAGE },
};

export const USAGE = `usage: npm run policy -- <command> [options]

  ${[
    VALIDATE_USAGE,
    TEST_USAGE,
    EXPLAIN_USAGE,
    DIFF_USAGE,
    SCHEMA_USAGE,
    SHADOW_USAGE,
    PUBLISH_USAGE,
    ROLLBACK_USAGE,
    REVISIONS_USAGE,
  ].join('\n  ')}

  <path> is a policy file or a folder holding policy.json.
  exit codes: 0 ok, 1 the policy or its tests failed, 2 usage or I/O error, 3 internal error`;

/** Runs one command line; never throws. */
export async function main(argv: string[], io: Io): Promise<ExitCode> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    say(name === undefined ? io.stderr : io.stdout, USAGE);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    say(io.stderr, `unknown command "${name}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (args.includes('--help') || args.includes('-h')) {
    say(
      io.stdout,
      `usage: npm run policy -- ${command.usage}\n\n  exit codes: 0 ok, 1 the policy or its tests failed, 2 usage or I/O error, 3 internal error`,
    );
    return EXIT.ok;
  }
  try {
    return await command.run(args, io);
  } catch (e) {
    const usage =
      e instanceof UsageError ||
      e instanceof RecordsError ||
      (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (usage) {
      say(io.stderr, `policy ${name}: ${(e as Error).message}`);
      return EXIT.usage;
    }
    say(io.stderr, `policy ${name}: internal error: ${(e as Error)?.stack ?? String(e)}`);
    return EXIT.internal;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  });
}
