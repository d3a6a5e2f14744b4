/**
 * Decision records and the AuditSink contract. The pipeline builds one record per request and appends it
 * through a sink; the sink decides how it is stored (JSON lines today, a hash-chained log later).
 */

export type Action = 'allow' | 'refuse' | 'redact' | 'route' | 'flag';

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
  /** The taxonomy category and severity the rule declares. */
  category?: string;
  severity?: string;
  /** Every condition the rule evaluated: what, the value seen, and whether it held. */
  values?: { condition: string; value: unknown; result: boolean }[];
  /** True when the rule fired because a classifier it reads failed. */
  on_error?: boolean;
}

export interface GradeRecord {
  rubric: string;
  /** sha256 of the rubric's canonical JSON. */
  revision: string;
  /** The option with the highest probability. */
  grade: string;
  probabilities: Record<string, number>;
  /** Whether the prompt was judged safe or unsafe, which picks the reward column. */
  prompt: 'safe' | 'unsafe';
  reward: number | null;
  /** A refusal (an undesired option) of a safe prompt. */
  over_refusal: boolean;
  /** When the policy retried an over-refusal: the retry's grade and which answer the client got. */
  retry?: { grade: string; probabilities: Record<string, number>; reward: number | null; chosen: 'original' | 'retry' };
}

export interface StageRecord {
  action: Action;
  rules: RuleMatch[];
  /** Rules in shadow mode that matched: recorded, never enforced. */
  shadow_rules?: RuleMatch[];
  /** For `route`: the model the request went to instead. */
  route?: { model: string };
  classifiers: ClassifierRecord[];
  latencyMs: number;
}

export interface ShadowRecord {
  policy: { id: string; revision: string };
  /** The action the shadow policy would have taken. Never enforced. */
  action: Action;
  stages: { input?: StageRecord; output?: StageRecord };
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
  /** The policy that decided, and the revision of the whole bundle it belongs to. */
  policy: { id: string; revision: string; bundle?: string };
  /** The final action the client saw. */
  action: Action;
  /** HTTP status returned to the client. */
  status: number;
  stages: { input?: StageRecord; output?: StageRecord };
  latency_ms: { total: number; input?: number; generator?: number; output?: number };
  content: { mode: ContentMode; prompt?: unknown; output?: unknown };
  /** A candidate policy run beside the enforced one on the same traffic: what it would have decided. */
  shadow?: ShadowRecord;
  /** The RBRM grade of the model's answer under the policy's grading rubric. */
  rbrm?: GradeRecord;
  /** Set when the request failed (upstream error, client abort). */
  error?: { type: string; message: string };
}

export interface AuditSink {
  /** Resolves once the record is stored as durably as the sink promises. */
  append(record: DecisionRecord): Promise<void>;
  close(): Promise<void>;
}

/* ------------------------------------------------------------------------------------------------------------
 * The stored form. Everything below is added by the hash-chained log (audit/chain-log.ts); the contract above
 * is unchanged. Every line of a segment is one `StoredRecord` serialised as canonical JSON.
 * ---------------------------------------------------------------------------------------------------------- */

/** The fields that link a stored record into the chain. */
export interface ChainFields {
  /** 1, 2, 3, … with no gaps across segments. */
  seq: number;
  /** `hash` of the record at `seq - 1`; 64 zeros for seq 1. */
  prev_hash: string;
  /** sha256 (hex) of the canonical JSON of the record without `hash`. */
  hash: string;
}

/** A decision as stored: masked, and linked into the chain. */
export interface StoredDecision extends DecisionRecord, ChainFields {
  kind: 'decision';
  /** Concrete paths (`$.content.prompt`, `$.stages.input.classifiers[0].details`) replaced before storage. */
  masked_paths: string[];
}

/**
 * Written by retention before whole segments are deleted, so that verification can cross the gap: the first
 * surviving record's `prev_hash` must equal `deleted.last_hash`, and its seq must be `deleted.last_seq + 1`.
 */
export interface RetentionMarker extends ChainFields {
  kind: 'retention';
  time: string;
  instance: string;
  deleted: { first_seq: number; last_seq: number; last_hash: string; segments: string[] };
}

/** Written on startup when a torn final line (a crash mid-write) was truncated. */
export interface RepairMarker extends ChainFields {
  kind: 'repair';
  time: string;
  instance: string;
  repair: { segment: string; truncated_bytes: number; truncated_at: number };
}

export type StoredRecord = StoredDecision | RetentionMarker | RepairMarker;

/** A signed statement that records `first_seq..last_seq` end at `head_hash`. One JSON line each. */
export interface Checkpoint {
  first_seq: number;
  last_seq: number;
  head_hash: string;
  /** sha256 of the canonical JSON of the previous checkpoint (signature included); 64 zeros for the first. */
  prev_checkpoint_hash: string;
  time: string;
  /** sha256 (hex) of the signing key's SPKI DER encoding. */
  key_fingerprint: string;
  /** Ed25519 signature (base64) over the canonical JSON of every other field. */
  signature: string;
}
