import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { policyJsonSchema } from '../json-schema.js';
import { EXIT, say, sayJson, type ExitCode, type Io } from './io.js';

/** The committed JSON Schema, `policies/policy.schema.json` in the source tree (this file runs from dist/). */
export const SCHEMA_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'policies',
  'policy.schema.json',
);

/** The published schema as it is written to disk. */
export const schemaText = (): string => `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;

export const SCHEMA_USAGE = `schema [--out FILE] [--check] [--json]
          Write the policy JSON Schema (generated from the zod schema) to policies/policy.schema.json, or with
          --check only report whether the file is up to date (exit 1 when it is not).`;

/** `schema`: writes (or with --check, compares) the published JSON Schema. */
export async function schemaCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: {
      out: { type: 'string' },
      check: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const file = values.out ? resolve(io.cwd, values.out) : SCHEMA_PATH;
  const text = schemaText();
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = undefined;
  }
  const upToDate = current === text;
  if (!values.check && !upToDate) writeFileSync(file, text);
  const result = {
    ok: values.check ? upToDate : true,
    file,
    upToDate,
    written: !values.check && !upToDate,
    bytes: text.length,
  };
  if (values.json) sayJson(io, result);
  else if (values.check)
    say(io.stdout, upToDate ? `OK ${file} is up to date` : `STALE ${file}: run \`npm run policy -- schema\``);
  else say(io.stdout, upToDate ? `${file} is already up to date` : `wrote ${file} (${text.length} bytes)`);
  return result.ok ? EXIT.ok : EXIT.failed;
}
