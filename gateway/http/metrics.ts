import client from 'prom-client';
import type { PipelineObserver } from '../pipeline/pipeline.js';
import { LatencyHistogram } from './histogram.js';

/** Prometheus metrics for one gateway: requests by decision, stage and classifier latency. */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const requests = new client.Counter({
    name: 'gateway_requests_total',
    help: 'Requests by route, final decision and wire API (chat.completions, responses, messages, moderations, …)',
    labelNames: ['route', 'decision', 'api'] as const,
    registers: [registry],
  });
  const errors = new client.Counter({
    name: 'gateway_errors_total',
    help: 'Error responses by route and code',
    labelNames: ['route', 'code'] as const,
    registers: [registry],
  });
  const buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  // The per-request histograms: each label set's series is made once and kept (see LatencyHistogram).
  const histogram = (name: string, help: string) => new LatencyHistogram(registry, { name, help, buckets });
  const stage = histogram('gateway_stage_duration_seconds', 'Time spent in each pipeline stage');
  const classifier = histogram('gateway_classifier_duration_seconds', 'Classifier latency by classifier and outcome');
  const ttft = histogram(
    'gateway_stream_ttft_seconds',
    'Streams: time from the request to the first content chunk sent to the client, by moderation mode',
  );
  const gap = histogram(
    'gateway_stream_chunk_gap_seconds',
    'Streams: time between consecutive content chunks sent to the client, by moderation mode',
  );
  const memo = <T>(make: (key: string) => T) => {
    const cache = new Map<string, T>();
    return (key: string) => {
      let v = cache.get(key);
      if (v === undefined) cache.set(key, (v = make(key)));
      return v;
    };
  };
  const stageSeries = memo((s) => stage.series({ stage: s }));
  const classifierSeries = memo((k) => {
    const [id = '', outcome = ''] = k.split('\0');
    return classifier.series({ classifier: id, outcome });
  });
  const requestChild = memo((k) => {
    const [route, decision, api] = k.split('\0');
    return requests.labels({ route, decision, api });
  });
  const ttftSeries = memo((m) => ttft.series({ mode: m }));
  const gapSeries = memo((m) => gap.series({ mode: m }));
  const observer: PipelineObserver = {
    stream: (mode, metric, ms) => (metric === 'ttft' ? ttftSeries : gapSeries)(mode)(ms / 1000),
    stage: (s, ms) => stageSeries(s)(ms / 1000),
    classifier: (id, ms, failed) => classifierSeries(`${id}\0${failed ? 'error' : 'ok'}`)(ms / 1000),
    decision: (route, action, api) => requestChild(`${route}\0${action}\0${api}`).inc(),
  };
  const grades = new client.Counter({
    name: 'gateway_rbrm_grades_total',
    help: 'Answers graded with the policy rubric, by grade',
    labelNames: ['grade'] as const,
    registers: [registry],
  });
  const overRefusals = new client.Counter({
    name: 'gateway_over_refusals_total',
    help: 'Safe prompts whose answer was graded a refusal',
    registers: [registry],
  });
  observer.grade = (grade, over) => {
    grades.inc({ grade });
    if (over) overRefusals.inc();
  };
  const rejected = new client.Counter({
    name: 'gateway_rejected_total',
    help: 'Requests turned away before any work (429), by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const policyReloads = new client.Counter({
    name: 'gateway_policy_reloads_total',
    help: 'Policy reload attempts by result; a failed candidate never goes live',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const policyInfo = new client.Gauge({
    name: 'gateway_policy_info',
    help: 'The policy bundle in force (value 1), by policy id and bundle revision',
    labelNames: ['policy', 'revision'] as const,
    registers: [registry],
  });
  const setPolicy = (policy: string, revision: string) => {
    policyInfo.reset();
    policyInfo.set({ policy, revision }, 1);
  };
  return { registry, observer, errors, rejected, policyReloads, setPolicy };
}

export type Metrics = ReturnType<typeof createMetrics>;
