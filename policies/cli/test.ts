import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadPolicyTests, PolicyTestFileError, runPolicyTests } from '../testing.js';
import { EXIT, positional, reportInvalid, say, sayJson, tryLoad, type ExitCode, type Io } from './io.js';

export const TEST_USAGE = `test <path> [--json] [--verbose]
          Run the *.test.json suites beside the policy: PASS, FAIL or ERROR per case (--verbose lists passes
          too), then the rules no case exercised.`;

/** `test <path>`: runs the suites beside the policy; exit 1 on any FAIL or ERROR, or when there are no cases. */
export async function testCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false }, verbose: { type: 'boolean', short: 'v', default: false } },
  });
  const path = positional(positionals, 0, '<path>');
  const loaded = tryLoad(path);
  if (!loaded.ok) return reportInvalid(io, loaded.error, values.json);
  let suites;
  try {
    suites = loadPolicyTests(path);
  } catch (e) {
    if (!(e instanceof PolicyTestFileError)) throw e;
    if (values.json) sayJson(io, { ok: false, file: e.file, issues: e.issues });
    else {
      say(io.stdout, `INVALID test file ${e.file}:`);
      for (const i of e.issues) say(io.stdout, `  ${i.path || '(root)'}: ${i.message}`);
    }
    return EXIT.failed;
  }
  const report = await runPolicyTests(loaded.policy, suites);
  const ok = report.summary.total > 0 && report.summary.fail + report.summary.error === 0;
  if (values.json) {
    sayJson(io, { ok, policy: { id: loaded.policy.policy.id, revision: loaded.policy.revision }, ...report });
    return ok ? EXIT.ok : EXIT.failed;
  }
  const rel = (f: string) => relative(io.cwd, f) || f;
  for (const c of report.cases) {
    if (c.status === 'PASS' && !values.verbose && !c.todo) continue;
    const note = c.todo ? (c.status === 'PASS' ? ' (todo case passes now: drop its todo)' : ` (todo: ${c.todo})`) : '';
    const status = c.todo && c.status !== 'PASS' ? 'TODO' : c.status;
    const decided = c.status === 'PASS' ? ` (${c.action}${c.rules.length ? `: ${c.rules.join(', ')}` : ''})` : '';
    say(io.stdout, `${status.padEnd(5)} ${rel(c.suite)} › ${c.name}${decided}${note}`);
    for (const p of c.problems) say(io.stdout, `        ${p}`);
  }
  const { total, pass, fail, error, todo } = report.summary;
  if (total === 0) say(io.stdout, `no test cases: put *.test.json files beside the policy`);
  say(
    io.stdout,
    `${pass} passed, ${fail} failed, ${error} errors${todo ? `, ${todo} known gaps (todo)` : ''} ` +
      `(${total} cases in ${suites.length} suite${suites.length === 1 ? '' : 's'})`,
  );
  if (report.unexercised.length) say(io.stdout, `rules no case exercised: ${report.unexercised.join(', ')}`);
  else if (total) say(io.stdout, 'every rule was exercised');
  return ok ? EXIT.ok : EXIT.failed;
}
