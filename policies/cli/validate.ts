import { parseArgs } from 'node:util';
import { EXIT, positional, reportInvalid, say, sayJson, tryLoad, type ExitCode, type Io } from './io.js';

export const VALIDATE_USAGE = `validate <path> [--json]
          Check the schema and the semantics (JSONPath, regexes, ids, classifiers and their params, taxonomy
          references); print every fault as path: reason.`;

/** `validate <path>`: every issue with its JSON path; exit 1 when the policy is invalid. */
export async function validateCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false } },
  });
  const loaded = tryLoad(positional(positionals, 0, '<path>'));
  if (!loaded.ok) return reportInvalid(io, loaded.error, values.json);
  const { policy, revision, source, rules, classifiers } = loaded.policy;
  const summary = {
    ok: true,
    source,
    id: policy.id,
    revision,
    mode: policy.mode,
    rules: rules.length,
    classifiers: classifiers.size,
    categories: policy.taxonomy.length,
    rubrics: policy.rubrics.length,
  };
  if (values.json) sayJson(io, summary);
  else
    say(
      io.stdout,
      `OK ${source}: policy "${policy.id}" (${policy.mode}), revision ${revision.slice(0, 12)}, ` +
        `${rules.length} rules, ${classifiers.size} classifiers, ${policy.taxonomy.length} categories, ` +
        `${policy.rubrics.length} rubrics`,
    );
  return EXIT.ok;
}
