import { JudgeError } from './wire.js';

/** gpt-oss-safeguard's verdict: whether the content violates the policy, and the category and reason it gave. */
export interface SafeguardVerdict {
  violation: boolean;
  category: string | null;
  rationale: string | null;
}

const flag = (v: unknown): boolean | undefined =>
  v === 1 || v === '1' || v === true ? true : v === 0 || v === '0' || v === false ? false : undefined;

/**
 * Reads gpt-oss-safeguard's final answer: the JSON object its template asks for (`{"violation": 0|1,
 * "policy_category", "rationale"}`, possibly inside a ```json fence or after text), or a bare `0`/`1` (the
 * binary format). Anything else is malformed and throws, so the rule's onError applies.
 * @example parseSafeguard('{"violation": 1, "policy_category": "weapons"}') // { violation: true, category: 'weapons', … }
 */
export function parseSafeguard(answer: string): SafeguardVerdict {
  const bare = /^\s*([01])\s*$/.exec(answer);
  if (bare) return { violation: bare[1] === '1', category: null, rationale: null };
  const start = answer.indexOf('{');
  const end = answer.lastIndexOf('}');
  let parsed: unknown;
  if (start >= 0 && end > start) {
    try {
      parsed = JSON.parse(answer.slice(start, end + 1));
    } catch {
      parsed = undefined;
    }
  }
  const obj = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  const violation = flag(obj?.violation);
  if (violation === undefined)
    throw new JudgeError(
      `malformed safety-model answer ${JSON.stringify(answer.slice(0, 80))}: ` +
        'expected a JSON object with "violation": 0 or 1, or a bare 0 or 1',
    );
  const text = (v: unknown) => (typeof v === 'string' && v ? v : null);
  return { violation, category: text(obj?.policy_category), rationale: text(obj?.rationale) };
}
