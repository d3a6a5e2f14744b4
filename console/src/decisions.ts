import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, queryString } from './api.js';
import type { Page, StoredDecision } from './types.js';
import { ActionBadge, attempt, Content, ErrorNote, Json, time } from './ui.js';
import { TraceView, type Trace } from './trace.js';

/** The filters of `audit export`, plus a free-text search. */
const FILTERS = ['q', 'from', 'to', 'tenant', 'action', 'rule', 'category', 'revision', 'decision_id'] as const;
type Filter = Partial<Record<(typeof FILTERS)[number], string>>;

function Stage({ name, stage }: { name: string; stage: NonNullable<StoredDecision['stages']['input']> }) {
  return html`<section class="stage">
    <h3>${name} stage → <${ActionBadge} action=${stage.action} /> <span class="muted">${stage.latency_ms} ms</span></h3>
    ${stage.rules.length === 0 && html`<p class="muted">No enforced rule matched.</p>`}
    ${[
      ...stage.rules.map((r) => ({ r, shadow: false })),
      ...(stage.shadow_rules ?? []).map((r) => ({ r, shadow: true })),
    ].map(
      ({ r, shadow }) =>
        html`<div class="rule">
          <p>
            <strong>${r.id}</strong>
            <${ActionBadge} action=${r.action} /> ${shadow && html`<span class="badge">shadow rule</span>`}
            ${r.category && html`<span class="badge">${r.category}</span>`}
            ${r.on_error && html`<span class="badge a-refuse">classifier error</span>`}
          </p>
          <p>${r.reason}</p>
          ${
            r.values &&
            html`<table class="conds">
              <thead>
                <tr>
                  <th>condition</th>
                  <th>value</th>
                  <th>held</th>
                </tr>
              </thead>
              <tbody>
                ${r.values.map(
                  (v) =>
                    html`<tr>
                      <td><code>${v.condition}</code></td>
                      <td><code>${JSON.stringify(v.value)}</code></td>
                      <td>${v.result ? '✔' : '✘'}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
          }
        </div>`,
    )}
    ${stage.route && html`<p>Routed to <code>${stage.route.model}</code></p>`}
    <table class="scores">
      <thead>
        <tr>
          <th>classifier</th>
          <th>scores</th>
          <th>ms</th>
        </tr>
      </thead>
      <tbody>
        ${stage.classifiers.map(
          (c) =>
            html`<tr>
              <td>${c.id} <span class="muted">${c.version}</span></td>
              <td>
                ${c.error ? html`<span class="error">${c.error.code}: ${c.error.message}</span>` : Object.entries(c.scores).map(([k, v]) => html`<span class="score">${k} ${v.toFixed(3)}</span> `)}
              </td>
              <td>${c.latency_ms}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

/** The whole record: stages, rules with their values, classifiers' scores, grade, shadow, content by mode. */
export function Detail({ id, onClose }: { id: string; onClose: () => void }) {
  const [r, setR] = useState<StoredDecision | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [trace, setTrace] = useState<Trace | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  // A keyboard user who opened a row lands on the record, not back at the top of the table.
  useEffect(() => heading.current?.focus(), [r?.decision_id]);
  useEffect(() => {
    setTrace(null);
    void attempt(async () => setR(await api<StoredDecision>(`decision${queryString({ id })}`)), setError);
  }, [id]);
  const explain = () =>
    void attempt(async () => setTrace(await api<Trace>('policy/explain', { decision_id: id })), setError);
  if (!r) return html`<${ErrorNote} error=${error} />`;
  const g = r.rbrm;
  return html`<article class="detail" aria-label="Decision detail">
    <div class="toolbar">
      <h2 ref=${heading} tabindex="-1">Decision <code>${r.decision_id}</code></h2>
      <button onClick=${explain} disabled=${typeof r.content.prompt !== 'string'}>Explain (policy in force)</button>
      <a href=${`#/playground/${encodeURIComponent(r.decision_id)}`}>Try it in the playground</a>
      <button onClick=${onClose}>Close</button>
    </div>
    <${ErrorNote} error=${error} />
    ${trace && html`<${TraceView} trace=${trace} />`}
    <p>
      <${ActionBadge} action=${r.action} /> status ${r.status} · ${time(r.time)} · tenant ${r.tenant ?? '—'} · ${r.api}
      ${r.route} · model ${r.model ?? '—'} · seq ${r.seq}
    </p>
    <p>Policy ${r.policy.id} <code>${r.policy.revision.slice(0, 12)}</code> · latency ${r.latency_ms.total} ms</p>
    ${r.error && html`<p class="error">${r.error.type}: ${r.error.message}</p>`}
    <${Content} label="Prompt" value=${r.content.prompt} mode=${r.content.mode} />
    ${r.content.output !== undefined && html`<${Content} label="Answer" value=${r.content.output} mode=${r.content.mode} />`}
    ${r.stages.input && html`<${Stage} name="Input" stage=${r.stages.input} />`}
    ${r.stages.output && html`<${Stage} name="Output" stage=${r.stages.output} />`}
    ${
      g &&
      html`<section>
        <h3>Rubric grade: ${g.grade}</h3>
        <p>
          rubric ${g.rubric} · prompt ${g.prompt} · reward ${g.reward ?? '—'} ${g.over_refusal ? '· over-refusal' : ''}
        </p>
        <p>
          ${Object.entries(g.probabilities).map(([k, v]) => html`<span class="score">${k} ${v.toFixed(3)}</span> `)}
        </p>
      </section>`
    }
    ${
      r.shadow &&
      html`<section>
        <h3>Shadow ${r.shadow.policy.id}: would <${ActionBadge} action=${r.shadow.action} /></h3>
        ${r.shadow.stages.input && html`<${Stage} name="Shadow input" stage=${r.shadow.stages.input} />`}
      </section>`
    }
    <details>
      <summary>Raw record</summary>
      <${Json} value=${r} />
    </details>
  </article>`;
}

interface Manifest {
  count: number;
  sha256: string;
  first_seq: number | null;
  last_seq: number | null;
  covering_checkpoint: { last_seq: number } | null;
}

/** The Decisions page: filters, a paginated table, exports of the current filter, verify, and the detail view. */
export function Decisions({ openId }: { openId: string }) {
  const [filter, setFilter] = useState<Filter>({});
  const [applied, setApplied] = useState<Filter>({});
  const [page, setPage] = useState(1);
  const [data, setData] = useState<Page | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(true);
  const [open, setOpen] = useState(openId);
  const [manifest, setManifest] = useState<Manifest | null>(null);
  const [verified, setVerified] = useState<{ ok: boolean; records: number; first_bad: unknown; ms: number } | null>(
    null,
  );
  const exportFilter = { ...applied, q: undefined };
  useEffect(() => {
    const load = () =>
      attempt(
        async () => setData(await api<Page>(`decisions${queryString({ ...applied, page, limit: 25 })}`)),
        setError,
      );
    void load();
    const t = live && page === 1 ? setInterval(() => void load(), 3000) : undefined;
    return () => clearInterval(t);
  }, [applied, page, live]);
  const set = (k: keyof Filter) => (e: Event) => setFilter({ ...filter, [k]: (e.target as HTMLInputElement).value });
  const submit = (e: Event) => {
    e.preventDefault();
    setPage(1);
    setApplied(filter);
  };
  return html`<section>
    <div class="toolbar">
      <h1>Decisions</h1>
      <label><input type="checkbox" checked=${live} onChange=${() => setLive(!live)} /> live</label>
    </div>
    <form class="filters" onSubmit=${submit} aria-label="Filters">
      ${FILTERS.map((k) =>
        k === 'action'
          ? html`<label
              >action
              <select name="action" value=${filter.action ?? ''} onChange=${set('action')}>
                <option value="">any</option>
                ${['allow', 'refuse', 'redact', 'flag', 'route'].map((a) => html`<option value=${a}>${a}</option>`)}
              </select></label
            >`
          : html`<label
              >${k === 'q' ? 'search' : k}
              <input
                name=${k}
                value=${filter[k] ?? ''}
                onInput=${set(k)}
                placeholder=${k === 'from' || k === 'to' ? 'seq or ISO time' : ''}
            /></label>`,
      )}
      <button type="submit">Apply</button>
    </form>
    <div class="toolbar">
      <span>Download this filter:</span>
      ${(['jsonl', 'csv', 'rbrm', 'dpo', 'kto'] as const).map((f) => html`<a class="button" download href=${`/console/api/export${queryString({ ...exportFilter, format: f })}`}>${f.toUpperCase()}</a>`)}
      <button
        onClick=${() => attempt(async () => setManifest(await api<Manifest>(`export/manifest${queryString({ ...exportFilter, format: 'jsonl' })}`)), setError)}
      >
        Manifest
      </button>
      <button onClick=${() => attempt(async () => setVerified(await api('verify', {})), setError)}>
        Verify the log
      </button>
    </div>
    ${manifest && html`<div class="card" aria-label="Export manifest"><strong>Manifest:</strong> ${manifest.count} records, seq ${manifest.first_seq ?? '—'}–${manifest.last_seq ?? '—'}, sha256 <code>${manifest.sha256}</code>, checkpoint ${manifest.covering_checkpoint ? `covers seq ${manifest.covering_checkpoint.last_seq}` : 'not yet'}</div>`}
    ${verified && html`<div class=${`card ${verified.ok ? 'ok' : 'bad'}`} role="status" aria-label="Verification">${verified.ok ? `Verified: ${verified.records} records intact (${verified.ms} ms)` : html`Verification FAILED: <${Json} value=${verified.first_bad} />`}</div>`}
    <${ErrorNote} error=${error} />
    ${
      data &&
      html`<p class="muted">${data.total} decisions · page ${data.page} of ${data.pages}</p>
        <div class="table-wrap">
          <table class="decisions">
            <thead>
              <tr>
                <th>time</th>
                <th>tenant</th>
                <th>API</th>
                <th>action</th>
                <th>rules</th>
                <th>categories</th>
                <th>grade</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              ${data.data.map(
                (d) =>
                  html`<tr class=${open === d.decision_id ? 'selected' : ''}>
                    <td>${time(d.time)}</td>
                    <td>${d.tenant ?? '—'}</td>
                    <td>${d.api}</td>
                    <td>
                      <${ActionBadge}
                        action=${d.action}
                      />${d.shadow_action && d.shadow_action !== d.action ? html` <span class="badge">shadow: ${d.shadow_action}</span>` : ''}
                    </td>
                    <td>${d.rules.join(', ')}</td>
                    <td>${d.categories.join(', ')}</td>
                    <td>${d.grade ?? ''}</td>
                    <td>
                      <button
                        class="link"
                        onClick=${() => setOpen(d.decision_id)}
                        aria-label=${`Open decision ${d.decision_id}`}
                      >
                        Open
                      </button>
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>
        <div class="toolbar">
          <button disabled=${page <= 1} onClick=${() => setPage(page - 1)}>Previous</button>
          <button disabled=${page >= data.pages} onClick=${() => setPage(page + 1)}>Next</button>
        </div>`
    }
    ${open && html`<${Detail} id=${open} onClose=${() => setOpen('')} />`}
  </section>`;
}
