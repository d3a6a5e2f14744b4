import { randomUUID } from 'node:crypto';
import type { Action, AuditSink, ContentMode, ContinuesRecord, WireApi } from '../../audit/types.js';
import type { ChatRequest, Generator } from '../../generator/types.js';
import { ACTION_RANK, type RequestMeta } from '../../policies/engine.js';
import type { LoadedPolicy } from '../../policies/load.js';
import { textSelector, USER_AND_TOOL_SELECT } from '../../policies/select.js';
import type { StreamOptions } from './stream-options.js';

/** Who is asking, and by which route. Built by the edge; the pipeline never sees HTTP objects. */
export interface RequestContext {
  decisionId: string;
  keyId: string | null;
  tenant: string | null;
  /** The wire API the request came in on, as the decision record names it. */
  api: WireApi;
  route: string;
  /** performance.now() when the request arrived. */
  started: number;
  /** Request headers (lower-cased names) that header conditions read; credential headers are never readable. */
  headers?: Record<string, string | string[] | undefined>;
  /**
   * This request's upstream, when its API reaches the model in its own wire format (a Responses request passed
   * through to `/v1/responses`); default: the pipeline's generator.
   */
  generator?: Generator;
  /** The conversation this request continues, for its record (the Responses API's `previous_response_id`). */
  continues?: ContinuesRecord;
}

const defaultInput = textSelector(USER_AND_TOOL_SELECT, 'input');

/** The prompt as content modes store it and as output classifiers read it: what the user and tools wrote. */
export const promptText = (request: ChatRequest) => defaultInput.select(request).text;

/** Hooks for metrics; the pipeline calls them and knows nothing of Prometheus. */
export interface PipelineObserver {
  stage(stage: 'input' | 'generator' | 'output', ms: number): void;
  classifier(id: string, ms: number, failed: boolean): void;
  /** A request's final action, by route and by the wire API it came in on (the same record for every API). */
  decision(route: string, action: Action, api: WireApi): void;
  /** Streams: time to the first content chunk, and each gap between chunks, by moderation mode. */
  stream?(mode: string, metric: 'ttft' | 'gap', ms: number): void;
  /** An answer graded with the policy's rubric; over-refusals are counted apart. */
  grade?(grade: string, overRefusal: boolean): void;
}

/** Where the pipeline gets its policies: the bundle in force (with bindings) and an optional shadow candidate. */
export interface PolicySource {
  /** The policy for a request, and the revision of the bundle it came from. */
  select(meta: Omit<RequestMeta, 'headers'>): { policy: LoadedPolicy; bundle: string };
  /** A candidate evaluated beside the enforced policy and recorded, never enforced. */
  shadow?(): LoadedPolicy | undefined;
}

/** A PolicySource over one fixed policy (tests, tools). */
export const fixedPolicy = (policy: LoadedPolicy): PolicySource => ({
  select: () => ({ policy, bundle: policy.revision }),
});

export interface PipelineDeps {
  /** The policies in force; read once per request, so a reload never changes a request midway. */
  policies: PolicySource;
  generator?: Generator;
  audit: AuditSink;
  contentMode: ContentMode;
  instance: string;
  observer?: PipelineObserver;
  /** How streamed output is moderated (gateway/pipeline/stream-options.ts); defaults apply when unset. */
  stream?: Partial<StreamOptions>;
}

/** The action of higher precedence: what the client finally got. */
export const strongest = (a: Action, b: Action): Action => (ACTION_RANK[b] > ACTION_RANK[a] ? b : a);

export const newDecisionId = () => `dec_${randomUUID().replaceAll('-', '')}`;

/**
 * A context for callers without HTTP (tools, benchmarks, tests): a fresh decision id, an anonymous caller, the chat
 * completions route, started now; `over` replaces any of it.
 *
 * @example await pipeline.complete(request, requestContext(), signal);
 */
export const requestContext = (over: Partial<RequestContext> = {}): RequestContext => ({
  decisionId: newDecisionId(),
  keyId: null,
  tenant: null,
  api: 'chat.completions',
  route: '/v1/chat/completions',
  started: performance.now(),
  ...over,
});
