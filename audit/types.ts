/**
 * Decision records and the AuditSink contract. The pipeline builds one record per request and appends it
 * through a sink; the sink decides how it is stored (JSON lines today, a hash-chained log later).
 */

export type Action = 'allow' | 'refuse' | 'redact' | 'flag';

/** How much of the conversation a record keeps. The default, `none`, keeps no raw text. */
export type ContentMode = 'full' | 'redacted' | 'hash' | 'none';

export interface ClassifierRecord {
  id: string;
  version: string;
  scores: Record<string, number>;
  explanation: string;
  latencyMs: number;
  error?: string;
  details?: Record<string, unknown>;
}

export interface RuleMatch {
  id: string;
  action: Action;
  /** Why it matched: the classifier, label, score and threshold (or the error that triggered onError). */
  reason: string;
  classifier?: string;
  label?: string;
  score?: number;
  threshold?: number;
}

export interface StageRecord {
  action: Action;
  rules: RuleMatch[];
  classifiers: ClassifierRecord[];
  latencyMs: number;
}

export interface DecisionRecord {
  /** Also returned to the client in `x-gateway-decision-id`. */
  decision_id: string;
  time: string;
  instance: string;
  /** sha256 of the API key, truncated; never the key itself. `null` when auth is off. */
  key_id: string | null;
  tenant: string | null;
  route: string;
  model: string | null;
  stream: boolean;
  policy: { id: string; revision: string };
  /** The final action the client saw. */
  action: Action;
  /** HTTP status returned to the client. */
  status: number;
  stages: { input?: StageRecord; output?: StageRecord };
  latency_ms: { total: number; input?: number; generator?: number; output?: number };
  content: { mode: ContentMode; prompt?: unknown; output?: unknown };
  /** Set when the request failed (upstream error, client abort). */
  error?: { type: string; message: string };
}

export interface AuditSink {
  /** Resolves once the record is stored as durably as the sink promises. */
  append(record: DecisionRecord): Promise<void>;
  close(): Promise<void>;
}
