import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type winston from 'winston';
import { ChainLog, type AuditEvent } from '../audit/chain-log.js';
import { JsonlSink } from '../audit/jsonl-sink.js';
import { openPgAudit } from './pg-audit.js';
import type { AuditSink } from '../audit/types.js';
import { OpenAIHttpGenerator } from '../generator/openai-http.js';
import type { Generator } from '../generator/types.js';
import { DEFAULT_POLICY_PATH } from '../policies/load.js';
import type { PolicyBundle } from '../policies/bundle.js';
import type { Config } from './config.js';
import { createApp } from './http/app.js';
import { createLogger } from './http/logger.js';
import { createMetrics } from './http/metrics.js';
import { Pipeline } from './pipeline/pipeline.js';
import { MessagesNativeGenerator } from './wire/messages/native-upstream.js';
import { messagesUpstreamFormat } from './wire/upstream-format.js';
import { MemoryConversationStore } from './wire/responses/store.js';
import { RedisConversationStore } from './wire/responses/redis-store.js';
import { ResponsesUpstreams } from './wire/responses/upstream.js';
import { openPolicies, policyStatus, policyTestsPass, type GatewayPolicies } from './policies.js';
import { openSharedState } from './shared/open-shared.js';

export interface Gateway {
  url: string;
  port: number;
  server: Server;
  pipeline: Pipeline;
  policies: GatewayPolicies;
  logger: winston.Logger;
  close(): Promise<void>;
}

export interface GatewayOverrides {
  logger?: winston.Logger;
  audit?: AuditSink;
  generator?: Generator;
  /** Checks a policy candidate must pass before it goes live; default: its own tests beside it. */
  verifyPolicy?: (bundle: PolicyBundle) => Promise<string[]>;
}

/**
 * Builds every part from the configuration and starts listening. Resolves once the server accepts
 * connections; `/readyz` turns ready once every classifier has loaded.
 *
 * @example
 * const gw = await startGateway(loadConfig({ env: process.env }));
 * // … later
 * await gw.close();
 */
export async function startGateway(config: Config, overrides: GatewayOverrides = {}): Promise<Gateway> {
  const logger = overrides.logger ?? createLogger(config.log.level);
  const metrics = createMetrics();
  const policies = await openPolicies({
    path: config.policy ?? DEFAULT_POLICY_PATH,
    shadowPath: config.shadowPolicy,
    // With policies published in Redis, the file is only the start-up policy: watching it would let replicas drift.
    watch: config.policyWatch && !config.redis?.policies,
    logger,
    metrics,
    verify: overrides.verifyPolicy ?? policyTestsPass,
  });
  const { url: upstreamUrl, format, ...upstream } = config.upstream;
  const chatGenerator =
    overrides.generator ?? (upstreamUrl ? new OpenAIHttpGenerator({ baseUrl: upstreamUrl, ...upstream }) : undefined);
  // The Messages API's requests go to an Anthropic-compatible upstream's own /messages; the rest as before.
  const nativeMessages =
    !overrides.generator && !!upstreamUrl && messagesUpstreamFormat(format, upstreamUrl) === 'native';
  const shared =
    config.redis &&
    (await openSharedState(config.redis, { logger, registry: metrics.registry, store: policies.store }));
  const generator =
    chatGenerator && nativeMessages && upstreamUrl
      ? new MessagesNativeGenerator(chatGenerator, { baseUrl: upstreamUrl, ...upstream })
      : chatGenerator;
  const audit =
    overrides.audit ??
    (await openAudit(config, logger).catch(async (err: unknown) => {
      // e.g. another replica holds this chain: stop what was started, or the process would not exit.
      await generator?.close();
      await shared?.close();
      await policies.close();
      throw err;
    }));
  const pipeline = new Pipeline({
    policies: policies.source,
    generator,
    audit,
    contentMode: config.audit.content,
    instance: config.instance ?? hostname(),
    observer: metrics.observer,
    stream: config.stream,
  });

  let classifiersReady = false;
  let classifierError: string | undefined;
  Promise.all(policies.classifiers().map((c) => c.ready?.()))
    .then(() => (classifiersReady = true))
    .catch((e) => {
      classifierError = String(e?.message ?? e);
      logger.error('a classifier failed to load', { error: classifierError });
    });

  const app = createApp({
    pipeline,
    metrics,
    logger,
    auth: { mode: config.auth.mode ?? 'keys', keys: config.auth.apiKeys },
    adminKeys: config.auth.adminKeys,
    policies,
    auditDir: !overrides.audit && config.audit.sink === 'chain' ? config.audit.dir : undefined,
    auditDatabaseUrl: !overrides.audit && config.audit.sink === 'postgres' ? config.audit.databaseUrl : undefined,
    bodyLimitBytes: config.bodyLimitBytes,
    messages: { native: nativeMessages },
    bodyTimeoutMs: config.limits.bodyTimeoutMs,
    limits: config.limits,
    responses: {
      upstreams: new ResponsesUpstreams(config.upstream.format, chatGenerator),
      store: shared
        ? new RedisConversationStore(shared.redis, config.redis?.keyPrefix ?? 'gateway:', (e) =>
            logger.warn('a conversation could not be kept in Redis; its id will be unknown', { error: e.message }),
          )
        : new MemoryConversationStore(config.responses.maxConversations, config.responses.maxChars),
      unknownPreviousId: config.responses.unknownPreviousId,
    },
    console: {
      keyFile: config.audit.keyFile,
      shadowPath: config.shadowPolicy,
      labelsFile: join(config.audit.dir, 'console-labels.jsonl'),
    },
    windows: shared?.windows,
    policySync: shared?.policySync,
    readiness: () => ({
      // A decision log that cannot store records (its database is down) makes every request a 503.
      ready: classifiersReady && (audit.status?.().ready ?? true),
      details: {
        ...(audit.status ? { audit: audit.status().detail } : {}),
        policy: policyStatus(policies),
        classifiers: classifiersReady ? 'loaded' : (classifierError ?? 'loading'),
        upstream: generator ? 'configured' : 'not configured (chat completions answer 503)',
        ...shared?.details(),
      },
    }),
  });

  const { headersTimeoutMs, bodyTimeoutMs } = config.limits;
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      // A socket that never completes its headers is answered 408 and closed. The body's own deadline is read by
      // the body reader (precise, answered as JSON); requestTimeout is node's backstop for any other route.
      headersTimeout: headersTimeoutMs,
      requestTimeout: headersTimeoutMs + bodyTimeoutMs,
      // node checks those timeouts on this interval (30 s by default): a stalled socket closes within a second.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, headersTimeoutMs / 2)),
    },
    app,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info('gateway listening', {
    url,
    policy: policies.store.current().default.policy.id,
    revision: policies.store.current().revision,
    upstream: config.upstream.url ?? null,
    auth: config.auth.mode,
    audit_dir: config.audit.dir,
  });

  return {
    url,
    port,
    server,
    pipeline,
    policies,
    logger,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await audit.close();
      await generator?.close();
      await shared?.close();
      await policies.close();
    },
  };
}

/** The decision log the configuration asks for; the chain log's events go to the operational log. */
async function openAudit(config: Config, logger: winston.Logger): Promise<AuditSink> {
  const { dir, sink, content: _content, databaseUrl: _url, ...chain } = config.audit;
  if (sink === 'jsonl') return new JsonlSink(dir);
  if (sink === 'postgres') return openPgAudit(config, logger);
  const onEvent = (e: AuditEvent) => {
    if (e.type === 'key-generated')
      logger.warn('generated an audit checkpoint signing key; keep the public key to verify the log', {
        fingerprint: e.fingerprint,
        public_key_file: e.publicKeyFile,
        public_key: e.publicPem,
      });
    else if (e.type === 'repaired')
      logger.warn('audit log: truncated a torn final line left by a crash, and continued the chain', {
        repair: e.repair,
      });
    else if (e.type === 'lock-taken-over')
      logger.warn('audit log: took over a stale lock', { pid: e.pid, host: e.hostname });
    else if (e.type === 'key-warning') logger.warn(`audit log: ${e.message}`);
    else if (e.type === 'retention')
      logger.info('audit log: retention deleted segments', {
        first_seq: e.first_seq,
        last_seq: e.last_seq,
        segments: e.segments,
      });
    else if (e.type === 'anchor' && e.outcome !== 'published')
      // Never fails a request: the checkpoint stays queued and is retried (and sent on the next start).
      logger.warn('audit log: a checkpoint has not reached its anchor yet', {
        sink: e.sink,
        outcome: e.outcome,
        last_seq: e.last_seq,
        attempts: e.attempts,
        pending: e.pending,
        error: e.error?.message,
      });
    else if (e.type === 'error') logger.error('audit log failure', { error: e.error.message });
  };
  // The log anchor writes its checkpoint lines to this operational log, where `verify --anchor` can read them.
  const instance = config.instance ?? hostname();
  return ChainLog.open({ dir, instance, ...chain, onEvent, anchorLogger: logger });
}
