/**
 * Decision records and the AuditSink contract. The pipeline builds one record per request and appends it
 * through a sink; the sink decides how it is stored (the hash-chained log in production, plain JSON lines for
 * development). The record's format is versioned (`v`) and published as JSON Schema in record.schema.json;
 * audit/README.md documents it field by field. Records use snake_case throughout; the pipeline's camelCase
 * objects are mapped to it in one place (gateway/pipeline/record.ts).
 *
 * The vocabularies a record names (actions, error types, classifier error codes) are defined here, at the
 * bottom of the import graph, so that the layers above can share them without importing upwards.
 */

/** The format version of every stored line (decisions, markers, checkpoints). Readers refuse any other. */
export const RECORD_VERSION = 1;
export type RecordVersion = typeof RECORD_VERSION;

/** What a stage (and so a request) ends in. Precedence is policies/engine.ts's ACTION_RANK. */
export const ACTIONS = ['allow', 'refuse', 'redact', 'flag', 'route'] as const;
export type Action = (typeof ACTIONS)[number];

/** The wire API a request came in on. */
export const WIRE_APIS = ['chat.completions', 'responses', 'messages', 'moderations', 'models'] as const;
export type WireApi = (typeof WIRE_APIS)[number];

/**
 * The gateway's error codes (gateway/pipeline/errors.ts maps each to its HTTP status, and fails to compile
 * when one is missing there). They live here because a decision record names them in `error.type`.
 */
export const GATEWAY_ERROR_CODES = [
  'invalid_request',
  'invalid_json',
  'invalid_api_key',
  'forbidden',
  'not_found',
  'payload_too_large',
  'unsupported_media_type',
  'request_timeout',
  'overloaded',
  'rate_limited',
  'upstream_not_configured',
  'upstream_error',
  'upstream_timeout',
  'upstream_client_error',
  'answer_too_large',
  'not_ready',
  'audit_unavailable',
  'policy_invalid',
  'internal_error',
] as const;
export type GatewayErrorCode = (typeof GATEWAY_ERROR_CODES)[number];

/** A record's `error.type`: a gateway error code, or `client_closed` when the client went away mid-answer. */
export type RecordErrorType = GatewayErrorCode | 'client_closed';

/**
 * Why a classifier produced no scores: its timeout passed, the request was aborted, it threw, a score was out of
 * [0, 1], or the text was longer than its `maxTextChars` (it was not run: the CPU a request can take is bounded).
 */
export const CLASSIFIER_ERROR_CODES = ['timeout', 'aborted', 'threw', 'bad_score', 'too_long'] as const;
export type ClassifierErrorCode = (typeof CLASSIFIER_ERROR_CODES)[number];
export interface ClassifierError {
  code: ClassifierErrorCode;
  message: string;
}

/** How much of the conversation a record keeps. The default, `none`, keeps no raw text. */
export type ContentMode = 'full' | 'redacted' | 'hash' | 'none';

export interface ClassifierRecord {
  id: string;
  version: string;
  scores: Record<string, number>;
  explanation: string;
  latency_ms: number;
  error?: ClassifierError;
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
  retry?: {
    grade: string;
    probabilities: Record<string, number>;
    reward: number | null;
    chosen: 'original' | 'retry';
    /** Whether the retry was an over-refusal too (absent in records written before it was kept). */
    over_refusal?: boolean;
  };
}

export interface StageRecord {
  action: Action;
  rules: RuleMatch[];
  /** Rules in shadow mode that matched: recorded, never enforced. */
  shadow_rules?: RuleMatch[];
  /** For `route`: the model the request went to instead. */
  route?: { model: string };
  classifiers: ClassifierRecord[];
  latency_ms: number;
}

export interface ShadowRecord {
  policy: { id: string; revision: string };
  /** The action the shadow policy would have taken. Never enforced. */
  action: Action;
  stages: { input?: StageRecord; output?: StageRecord };
}

/** A tool call the model made (in the answer, or earlier in the conversation), kept per the content mode. */
export interface ToolCallRecord {
  /** The call's id as the wire format gives it, when it gives one. */
  id?: string;
  name: string;
  /** The arguments (a JSON string on the OpenAI wire), or their digest when the content mode is `hash`. */
  arguments: string | { sha256: string };
}

/**
 * An input part that is not text (an image, audio, a file): counted and hashed, never stored raw unless the
 * content mode is `full`.
 */
export interface MediaRecord {
  /** The part's type on the wire (`image_url`, `input_audio`, `file`, …). */
  type: string;
  /** sha256 of the part's canonical JSON. */
  sha256: string;
  /** The part itself, in `full` mode only. */
  raw?: unknown;
}

export interface ContentRecord {
  mode: ContentMode;
  prompt?: unknown;
  output?: unknown;
  /** Tool calls of the conversation (`input`) and of the answer (`output`). Absent where there were none. */
  tool_calls?: { input?: ToolCallRecord[]; output?: ToolCallRecord[] };
  /** The prompt's parts that are not text. Absent where there were none. */
  media?: MediaRecord[];
  /**
   * The graded answers, kept like `output`, when the client got something else: `original` when a refusal was
   * restyled or an over-refusal retried, `retry` for the retry's answer. Only answers the output stage passed
   * (as rewritten by its redactions) are kept: disallowed upstream text never is.
   */
  answers?: { original?: unknown; retry?: unknown };
}

/**
 * The conversation a request continued: the id it named, and what was judged with the new turn: the earlier turns
 * the gateway held (`history`), or nothing, because it did not hold them and was configured to judge the new turn
 * alone (`new-turn-only`).
 */
export interface ContinuesRecord {
  id: string;
  judged: 'history' | 'new-turn-only';
}

export interface DecisionRecord {
  /** The format version: always 1 for this shape. */
  v: RecordVersion;
  /** Also returned to the client in `x-gateway-decision-id`. */
  decision_id: string;
  time: string;
  instance: string;
  /** sha256 of the API key, truncated; never the key itself. `null` when auth is off. */
  key_id: string | null;
  tenant: string | null;
  /** The wire API the request came in on. */
  api: WireApi;
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
  content: ContentRecord;
  /** A candidate policy run beside the enforced one on the same traffic: what it would have decided. */
  shadow?: ShadowRecord;
  /** The RBRM grade of the model's answer under the policy's grading rubric. */
  rbrm?: GradeRecord;
  /** A request that continues a conversation held by the gateway (the Responses API's `previous_response_id`). */
  continues?: ContinuesRecord;
  /** Set when the request failed (upstream error, client abort). */
  error?: RecordError;
}

export interface RecordError {
  type: RecordErrorType;
  message: string;
}

export interface AuditSink {
  /** Resolves once the record is stored as durably as the sink promises. */
  append(record: DecisionRecord): Promise<void>;
  close(): Promise<void>;
  /** Whether records can be stored now (a database sink can lose its server); readiness reports it. */
  status?(): { ready: boolean; detail: string };
}

/* ------------------------------------------------------------------------------------------------------------
 * The stored form. Everything below is added by the hash-chained log (audit/chain-log.ts); the contract above
 * is unchanged. Every line of a segment is one `StoredRecord` serialised as canonical JSON.
 * ---------------------------------------------------------------------------------------------------------- */

/** The fields that link a stored record into the chain. */
export interface ChainFields {
  /**
   * The chain the record belongs to, where one store holds several (one per replica). Absent: the log
   * directory's only chain, which is all there is today.
   */
  chain?: string;
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
  v: RecordVersion;
  kind: 'retention';
  time: string;
  instance: string;
  deleted: { first_seq: number; last_seq: number; last_hash: string; segments: string[] };
}

/** Written on startup when a torn final line (a crash mid-write) was truncated. */
export interface RepairMarker extends ChainFields {
  v: RecordVersion;
  kind: 'repair';
  time: string;
  instance: string;
  repair: { segment: string; truncated_bytes: number; truncated_at: number };
}

export type StoredRecord = StoredDecision | RetentionMarker | RepairMarker;

/** A signed statement that records `first_seq..last_seq` end at `head_hash`. One JSON line each. */
/** A writer's checkpoint schedule: a checkpoint every `every` records or `interval_ms`, whichever comes first. */
export interface CheckpointSchedule {
  every: number;
  interval_ms: number;
}

export interface Checkpoint {
  v: RecordVersion;
  first_seq: number;
  last_seq: number;
  head_hash: string;
  /** sha256 of the canonical JSON of the previous checkpoint (signature included); 64 zeros for the first. */
  prev_checkpoint_hash: string;
  time: string;
  /** sha256 (hex) of the signing key's SPKI DER encoding. */
  key_fingerprint: string;
  /**
   * When the writer signs (audit/coverage.ts): verify judges how many records may be left unsigned at the tail
   * by the schedule of the last checkpoint. Absent in checkpoints written before it was recorded.
   */
  schedule?: CheckpointSchedule;
  /** Ed25519 signature (base64) over the canonical JSON of every other field. */
  signature: string;
}
