import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { api } from './api.js';
import type { Overview as Data } from './types.js';
import { ErrorNote } from './ui.js';

const COLORS: Record<string, string> = {
  allow: '#2e7d32',
  refuse: '#c62828',
  redact: '#6a1b9a',
  flag: '#ef6c00',
  route: '#1565c0',
  errors: '#424242',
};

/** A uPlot time-series chart, redrawn in place when its data change. */
function TimeChart({ title, times, series }: { title: string; times: string[]; series: Record<string, number[]> }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const names = Object.keys(series);
  const data = [times.map((t) => Date.parse(t) / 1000), ...names.map((n) => series[n] ?? [])] as uPlot.AlignedData;
  useEffect(() => {
    if (!box.current) return;
    const width = Math.max(320, box.current.clientWidth);
    plot.current?.destroy();
    plot.current = new uPlot(
      {
        width,
        height: 220,
        series: [{}, ...names.map((n) => ({ label: n, stroke: COLORS[n] ?? '#555', width: 2 }))],
        axes: [{}, { label: 'per minute' }],
        scales: { x: { time: true } },
      },
      data,
      box.current,
    );
    return () => plot.current?.destroy();
  }, [names.join(',')]);
  useEffect(() => plot.current?.setData(data), [data]);
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <div
      ref=${box}
      role="img"
      aria-label=${`${title}: ${names.map((n) => `${n} ${(series[n] ?? []).reduce((a, b) => a + b, 0)}`).join(', ')}`}
    ></div>
  </figure>`;
}

/** Horizontal bars as SVG (categorical data, where uPlot's time axes do not fit). */
function Bars({
  title,
  rows,
  format,
}: {
  title: string;
  rows: { label: string; value: number; note?: string }[];
  format: (v: number) => string;
}): VNode {
  const max = Math.max(1e-9, ...rows.map((r) => r.value));
  const h = 24;
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    ${
      rows.length === 0
        ? html`<p class="muted">Nothing yet.</p>`
        : html`<svg viewBox=${`0 0 560 ${rows.length * h}`} class="bars" role="img" aria-label=${title}>
            ${rows.map(
              (r, i) =>
                html`<g transform=${`translate(0 ${i * h})`}>
                  <text x="0" y="15" class="bar-label">${r.label}</text>
                  <rect x="150" y="4" height="14" width=${(r.value / max) * 170} class="bar" />
                  <text x=${155 + (r.value / max) * 170} y="15" class="bar-value"
                    >${format(r.value)}${r.note ? ` ${r.note}` : ''}</text
                  >
                </g>`,
            )}
          </svg>`
    }
  </figure>`;
}

const short = (s: string | null | undefined) => (s ? s.slice(0, 12) : '—');

/** The Overview page: charts from the last hour of decisions, refreshed every few seconds. */
export function Overview({ onAuthError }: { onAuthError: (e: unknown) => void }) {
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(true);
  useEffect(() => {
    let stop = false;
    const load = () =>
      api<Data>('overview?minutes=60')
        .then((d) => !stop && (setData(d), setError(null)))
        .catch((e: Error) => (onAuthError(e), setError(e.message)));
    void load();
    const t = live ? setInterval(() => document.visibilityState === 'visible' && void load(), 3000) : undefined;
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [live]);
  if (!data)
    return html`<${ErrorNote} error=${error} />
      <p>Loading…</p>`;
  const actions = Object.fromEntries(Object.entries(data.actions).filter(([, v]) => v.some((n) => n > 0)));
  const lat = [
    ...data.classifier_latency_ms.map((c) => ({ ...c, id: `classifier ${c.id}` })),
    ...data.stage_latency_ms.filter((s) => s.n > 0).map((s) => ({ ...s, id: `stage ${s.id}` })),
  ];
  const p = data.policy;
  return html`<section>
    <div class="toolbar">
      <h1>Overview</h1>
      <label><input type="checkbox" checked=${live} onChange=${() => setLive(!live)} /> live (every 3 s)</label>
      <span class="muted" aria-live="polite"
        >${data.total} decisions in the last hour · updated ${new Date(data.generated_at).toLocaleTimeString()}</span
      >
    </div>
    <${ErrorNote} error=${error} />
    <div class="grid">
      <${TimeChart}
        title="Requests by decision"
        times=${data.minutes}
        series=${Object.keys(actions).length ? actions : { allow: data.actions.allow ?? [] }}
      />
      <${TimeChart} title="Errors (decisions that failed)" times=${data.minutes} series=${{ errors: data.errors }} />
      <${Bars}
        title="Refusal rate by category"
        rows=${data.refusal_rate_by_category.slice(0, 12).map((c) => ({ label: c.category, value: c.rate, note: `(${c.refused})` }))}
        format=${(v: number) => `${(v * 100).toFixed(1)}%`}
      />
      <${Bars}
        title="Latency p95 (ms): classifiers and stages"
        rows=${lat.map((c) => ({ label: c.id, value: c.p95, note: `p50 ${c.p50} · p99 ${c.p99}` }))}
        format=${(v: number) => v.toFixed(1)}
      />
    </div>
    <div class="grid cards">
      <div class="card">
        <h2>Policies</h2>
        <p>Enforced: <strong>${p.id}</strong> <code>${short(p.revision)}</code></p>
        <p>
          Shadow:${' '}
          ${p.shadow ? html`<strong>${p.shadow.id}</strong> <code>${short(p.shadow.revision)}</code>` : html`<span class="muted">none</span>`}
        </p>
        ${p.last_reload && html`<p>Last reload: ${p.last_reload.ok ? 'ok' : 'rejected'} (${p.last_reload.trigger})</p>`}
        ${data.published && html`<p>Published in Redis: ${data.published.length} events</p>`}
      </div>
      <div class="card">
        <h2>Decision log</h2>
        ${
          data.chain
            ? data.chain.sink === 'chain'
              ? html`<p>Head: seq ${data.chain.last_seq ?? '—'} <code>${short(data.chain.head_hash)}</code></p>
                  <p>
                    Checkpoints: ${data.chain.checkpoints}; last covers seq
                    ${data.chain.last_checkpoint?.last_seq ?? '—'}
                  </p>
                  <p>Not yet signed: ${data.chain.unsigned_records} records</p>`
              : html`<p>PostgreSQL sink: verify from the Decisions page.</p>`
            : html`<p class="muted">No decision log configured.</p>`
        }
      </div>
      <div class="card">
        <h2>Error responses</h2>
        ${
          data.error_responses.length
            ? html`<ul>
                ${data.error_responses.map((e) => html`<li>${e.route} ${e.code}: ${e.count}</li>`)}
              </ul>`
            : html`<p class="muted">None since start.</p>`
        }
        <h2>Grades</h2>
        <p>
          ${
            Object.entries(data.grades)
              .map(([g, n]) => `${g}: ${n}`)
              .join(' · ') || 'none yet'
          }
        </p>
      </div>
    </div>
  </section>`;
}
