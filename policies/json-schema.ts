import { z } from 'zod';
import { PolicySchema } from './schema.js';

/**
 * The published JSON Schema of the policy language, for editors (`"$schema": "../policy.schema.json"`).
 * Generated from the zod schema; `policies/policy.schema.json` is this, written by `npm run policy -- schema`.
 */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(PolicySchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://rbrm-gateway.dev/policy.schema.json',
    title: 'rbrm-gateway policy (gateway/v1)',
  };
}
