import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import type { ReviewRow } from './types.js';
import { ActionBadge, attempt, ErrorNote, RedactedText, time } from './ui.js';

const KINDS = [
  ['grade_b', 'Grade-B answers'],
  ['shadow', 'Shadow disagreements'],
  ['near_threshold', 'Near a threshold'],
] as const;

interface Label {
  decision_id: string;
  verdict: string;
  label: string;
}

function LabelForm({ row, saved, onSaved }: { row: ReviewRow; saved?: Label; onSaved: (l: Label) => void }) {
  const [verdict, setVerdict] = useState(saved?.verdict ?? 'correct');
  const [label, setLabel] = useState(saved?.label ?? (row.action === 'refuse' ? 'unsafe' : 'safe'));
  const [error, setError] = useState<string | null>(null);
  const name = `v-${row.decision_id}`;
  const save = (e: Event) => {
    e.preventDefault();
    void attempt(
      async () => onSaved(await api<Label>('review/label', { decision_id: row.decision_id, verdict, label })),
      setError,
    );
  };
  return html`<form class="label-form" onSubmit=${save} aria-label=${`Label ${row.decision_id}`}>
    <fieldset>
      <legend>The gateway's decision was</legend>
      <label
        ><input
          type="radio"
          name=${name}
          value="correct"
          checked=${verdict === 'correct'}
          onChange=${() => setVerdict('correct')}
        />
        correct</label
      >
      <label
        ><input
          type="radio"
          name=${name}
          value="wrong"
          checked=${verdict === 'wrong'}
          onChange=${() => setVerdict('wrong')}
        />
        wrong</label
      >
    </fieldset>
    <label
      >Right label
      <select value=${label} onChange=${(e: Event) => setLabel((e.target as HTMLSelectElement).value)}>
        <option value="safe">safe</option>
        <option value="unsafe">unsafe</option>
      </select></label
    >
    <button type="submit">Save label</button>
    ${saved && html`<span class="ok">saved: ${saved.verdict}, ${saved.label}</span>`}
    <${ErrorNote} error=${error} />
  </form>`;
}

/** The Review page: queues of decisions worth a second look, each with a label form; labels export as JSONL. */
export function Review() {
  const [kind, setKind] = useState<string>('shadow');
  const [rows, setRows] = useState<ReviewRow[] | null>(null);
  const [labels, setLabels] = useState<Record<string, Label>>({});
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    void attempt(async () => {
      setRows((await api<{ data: ReviewRow[] }>(`review?kind=${kind}&limit=50`)).data);
      const all = (await api<{ data: Label[] }>('review/labels')).data;
      setLabels(Object.fromEntries(all.map((l) => [l.decision_id, l])));
    }, setError);
  }, [kind]);
  return html`<section>
    <div class="toolbar">
      <h1>Review</h1>
      <a class="button" download href="/console/api/review/export">Export labels (JSONL for npm run train)</a>
    </div>
    <div role="tablist" class="tabs">
      ${KINDS.map(
        ([id, label]) =>
          html`<button role="tab" aria-selected=${kind === id} onClick=${() => setKind(id)}>${label}</button>`,
      )}
    </div>
    <${ErrorNote} error=${error} />
    ${rows && rows.length === 0 && html`<p class="muted">Nothing to review here.</p>`}
    ${rows?.map(
      (r) =>
        html`<article class="card review" aria-label=${`Review ${r.decision_id}`}>
          <p>
            <${ActionBadge} action=${r.action} /> ${time(r.time)} ·${' '}
            <a href=${`#/decisions/${encodeURIComponent(r.decision_id)}`}>${r.decision_id}</a> · ${r.why}
          </p>
          ${typeof r.prompt === 'string' ? html`<${RedactedText} text=${r.prompt} />` : html`<p class="muted">content not kept</p>`}
          <${LabelForm}
            row=${r}
            saved=${labels[r.decision_id]}
            onSaved=${(l: Label) => setLabels({ ...labels, [l.decision_id]: l })}
          />
        </article>`,
    )}
  </section>`;
}
