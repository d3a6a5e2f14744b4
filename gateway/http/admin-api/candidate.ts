import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { compilePolicy, PolicyError, policyFile, type LoadedPolicy } from '../../../policies/load.js';
import { parseJsonText } from '../../../policies/json-text.js';
import { GatewayError } from '../../pipeline/errors.js';
import { locatePath } from './json-locate.js';

/** A fault in the edited text, pinned to its JSON path and line. */
export interface PinnedIssue {
  path: string;
  message: string;
  line: number;
  column: number;
  file?: string;
}

export type Candidate = { ok: true; policy: LoadedPolicy } | { ok: false; issues: PinnedIssue[] };

/**
 * Compiles policy text as if it were the file at `asFile` (so classifier paths and `extends` resolve as they
 * would there): the JSON Schema, then every semantic check of the loader. A fault comes back with its JSON path
 * and the line it sits on; a syntax error with its line and column.
 */
export function compileCandidate(text: unknown, asFile: string): Candidate {
  if (typeof text !== 'string')
    throw new GatewayError('invalid_request', 'text: expected the policy as JSON text', 'text');
  const json = parseJsonText(text);
  if (!json.ok)
    return {
      ok: false,
      issues: [{ path: '', message: `not valid JSON: ${json.reason}`, line: json.line, column: json.column }],
    };
  let from = asFile;
  try {
    const policy = compilePolicy(json.value, asFile, (ref) => {
      const next = resolve(dirname(from), ref);
      from = next;
      return { doc: JSON.parse(readFileSync(next, 'utf8')) as unknown, source: next };
    });
    return { ok: true, policy };
  } catch (e) {
    if (!(e instanceof PolicyError)) {
      return { ok: false, issues: [{ path: 'extends', message: (e as Error).message, line: 1, column: 1 }] };
    }
    return {
      ok: false,
      issues: e.issues.map((i) => ({
        path: i.path,
        message: i.message,
        ...(i.file ? { file: i.file, line: 1, column: 1 } : locatePath(text, i.path)),
      })),
    };
  }
}

/** Compiles, or answers 422 with the pinned issues. */
export function requireCandidate(text: unknown, asFile: string): LoadedPolicy {
  const c = compileCandidate(text, asFile);
  if (c.ok) return c.policy;
  throw new GatewayError('policy_invalid', `the policy has ${c.issues.length} fault(s)`, 'text', {
    details: { issues: c.issues },
  });
}

/** The file the enforced bundle's default policy is read from. */
export const enforcedFile = (source: string) => policyFile(source);
