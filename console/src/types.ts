/** The shapes the console reads, taken from the server's own code so that the two cannot drift apart. */
import type { StoredDecision } from '../../audit/types.js';
import type { summaryOf } from '../../gateway/http/admin-api/records.js';
import type { aggregate } from '../../gateway/http/admin-api/overview.js';
import type { PinnedIssue } from '../../gateway/http/admin-api/candidate.js';
import type { policyStatus } from '../../gateway/policies.js';

export type { StoredDecision, PinnedIssue };
export type Summary = ReturnType<typeof summaryOf>;
export type Page = { total: number; page: number; limit: number; pages: number; data: Summary[] };
export type PolicyStatus = ReturnType<typeof policyStatus>;
export type Overview = ReturnType<typeof aggregate> & {
  generated_at: string;
  error_responses: { route?: string; code?: string; count: number }[];
  policy: PolicyStatus;
  published: { revision: string; at: string; action: string }[] | null;
  chain: {
    sink: string;
    last_seq?: number | null;
    head_hash?: string | null;
    checkpoints?: number;
    last_checkpoint?: { last_seq: number; time: string } | null;
    unsigned_records?: number;
  } | null;
};
export type ReviewRow = Summary & { why: string; prompt?: string | null };
