import type { Registry } from 'prom-client';

interface Series {
  labels: Record<string, string>;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram for the request path, registered in a prom-client registry and exported the same way
 * as prom-client's own. Each label set's series is made once by `series(labels)` and kept by the caller, so an
 * observation is a bucket search and three additions: prom-client's `Histogram` validates and hashes its label
 * set on every observation, even through a `labels()` child, which cost several microseconds per request.
 *
 * @example
 * const stage = new LatencyHistogram(registry, { name: 'stage_seconds', help: 'Stage time', buckets: [0.001, 0.01] });
 * const input = stage.series({ stage: 'input' });
 * input(0.0004);
 */
export class LatencyHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly buckets: readonly number[];
  private readonly all = new Map<string, Series>();

  constructor(registry: Registry, o: { name: string; help: string; buckets: readonly number[] }) {
    this.name = o.name;
    this.help = o.help;
    this.buckets = [...o.buckets].sort((a, b) => a - b);
    // The registry reads `name` and calls `get()`; that is all of prom-client's metric contract it uses.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The observe function of one label set (made on first use, the same one after). Values are seconds. */
  series(labels: Record<string, string>): (seconds: number) => void {
    const key = JSON.stringify(labels);
    let s = this.all.get(key);
    if (!s)
      this.all.set(
        key,
        (s = { labels: { ...labels }, counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 }),
      );
    const series = s;
    const bounds = this.buckets;
    return (seconds) => {
      if (!Number.isFinite(seconds)) return;
      let i = 0;
      for (const bound of bounds) {
        if (seconds <= bound) break;
        i++;
      }
      series.counts[i] = (series.counts[i] ?? 0) + 1;
      series.sum += seconds;
      series.count++;
    };
  }

  /** Cumulative buckets, `+Inf`, `_sum` and `_count` for every series, as prom-client's histograms give them. */
  async get() {
    const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
    for (const s of this.all.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += s.counts[i] ?? 0;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...s.labels }, value: acc });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** Zeroes every series, keeping the observe functions handed out (`registry.resetMetrics()` calls this). */
  reset(): void {
    for (const s of this.all.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
