import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from './api.js';
import type { Page, PinnedIssue } from './types.js';
import { attempt, ErrorNote, Json } from './ui.js';
import { TraceView, type Trace } from './trace.js';

interface Texts {
  enforced: { file: string; text: string | null };
  shadow: { file: string; text: string | null } | null;
  publish: { enforced: string; shadow: string | null };
}
interface TestReport {
  ok: boolean;
  summary?: { total: number; pass: number; fail: number; error: number; todo: number };
  cases?: { suite: string; name: string; status: string; problems: string[]; todo?: string }[];
  error?: string;
}
type ItemDiff = { added: { id: string }[]; removed: { id: string }[]; changed: { id: string }[] };
interface DiffReport {
  rules: ItemDiff;
  classifiers: ItemDiff;
  corpus: {
    recorded: number;
    total: number;
    changed: number;
    transitions: { from: string; to: string; count: number; examples: { id: string; text: string }[] }[];
  };
}

const ids = (xs: { id: string }[]) => xs.map((x) => x.id).join(', ') || 'none';
const diffLine = (what: string, d: ItemDiff) =>
  `${what}: added ${ids(d.added)}; removed ${ids(d.removed)}; changed ${ids(d.changed)}`;

/** Moves the caret of the editor to a line, so a reader lands on the fault. */
function goToLine(area: HTMLTextAreaElement | null, line: number) {
  if (!area) return;
  const lines = area.value.split('\n');
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
}

/**
 * The policy playground: edit the enforced policy's JSON with validation as you type, explain a recorded or pasted
 * request, run the policy's tests, diff against the enforced revision on recent traffic, and publish.
 */
export function Playground({ decisionId }: { decisionId: string }) {
  const [texts, setTexts] = useState<Texts | null>(null);
  const [text, setText] = useState('');
  const [issues, setIssues] = useState<PinnedIssue[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tests, setTests] = useState<TestReport | null>(null);
  const [trace, setTrace] = useState<Trace | null>(null);
  const [diff, setDiff] = useState<DiffReport | null>(null);
  const [published, setPublished] = useState<unknown>(null);
  const [override, setOverride] = useState(false);
  const [pick, setPick] = useState(decisionId);
  const [pasted, setPasted] = useState('');
  const [recent, setRecent] = useState<Page['data']>([]);
  const area = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    void attempt(async () => {
      const t = await api<Texts>('policy');
      setTexts(t);
      setText(t.enforced.text ?? '');
      setRecent((await api<Page>('decisions?limit=30')).data);
    }, setError);
  }, []);
  useEffect(() => {
    if (!texts) return;
    const t = setTimeout(
      () =>
        void api<{ issues: PinnedIssue[] }>('policy/validate', { text })
          .then((r) => setIssues(r.issues))
          .catch((e: Error) => setError(e.message)),
      300,
    );
    return () => clearTimeout(t);
  }, [text, texts]);
  const run = (f: () => Promise<void>) => void attempt(f, setError);
  const publish = (target: 'shadow' | 'enforced') =>
    run(async () => {
      setPublished(null);
      try {
        setPublished(await api('policy/publish', { text, target, override }));
      } catch (e) {
        if (e instanceof ApiError && e.body.tests) setTests(e.body.tests as TestReport);
        throw e;
      }
    });
  const explain = () =>
    run(async () =>
      setTrace(await api<Trace>('policy/explain', pick ? { text, decision_id: pick } : { text, request: pasted })),
    );
  const ok = issues !== null && issues.length === 0;
  return html`<section>
    <h1>Policy playground</h1>
    <${ErrorNote} error=${error} />
    <div class="split">
      <div class="editor">
        <label for="policy-text">Policy JSON <span class="muted">(${texts?.enforced.file ?? ''})</span></label>
        <textarea
          id="policy-text"
          ref=${area}
          spellcheck="false"
          aria-invalid=${!ok}
          aria-describedby="policy-issues"
          value=${text}
          onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)}
        ></textarea>
        <div id="policy-issues" class=${ok ? 'valid' : 'issues'} role="status" aria-live="polite">
          ${
            issues === null
              ? 'Checking…'
              : ok
                ? html`<span class="ok">✔ valid policy</span>`
                : html`<ul>
                    ${issues.map(
                      (i) =>
                        html`<li>
                          <button class="link issue" onClick=${() => goToLine(area.current, i.line)}>
                            line ${i.line}</button
                          >${' '} <code class="path">${i.path || '(root)'}</code>: ${i.message}
                        </li>`,
                    )}
                  </ul>`
          }
        </div>
      </div>
      <div class="tools">
        <fieldset>
          <legend>Explain a request</legend>
          <label
            >Recorded request
            <select value=${pick} onChange=${(e: Event) => setPick((e.target as HTMLSelectElement).value)}>
              <option value="">(paste one below)</option>
              ${pick && !recent.some((d) => d.decision_id === pick) && html`<option value=${pick}>${pick}</option>`}
              ${recent.map((d) => html`<option value=${d.decision_id}>${d.action} · ${d.rules.join(',') || 'no rules'} · ${d.decision_id.slice(0, 14)}</option>`)}
            </select></label
          >
          ${!pick && html`<label>Prompt or chat request JSON <textarea class="small" value=${pasted} onInput=${(e: Event) => setPasted((e.target as HTMLTextAreaElement).value)}></textarea></label>`}
          <button onClick=${explain} disabled=${!ok}>Explain</button>
        </fieldset>
        <fieldset>
          <legend>Check</legend>
          <button
            onClick=${() => run(async () => setTests(await api<TestReport>('policy/test', { text })))}
            disabled=${!ok}
          >
            Run tests
          </button>
          <button
            onClick=${() => run(async () => setDiff(await api<DiffReport>('policy/diff', { text })))}
            disabled=${!ok}
          >
            Diff vs enforced
          </button>
        </fieldset>
        <fieldset>
          <legend>Publish</legend>
          <label
            ><input type="checkbox" checked=${override} onChange=${() => setOverride(!override)} /> publish even if
            tests fail</label
          >
          <button onClick=${() => publish('shadow')} disabled=${!ok || !texts?.publish.shadow}>
            Publish as shadow
          </button>
          <button onClick=${() => publish('enforced')} disabled=${!ok}>
            Publish as enforced (${texts?.publish.enforced ?? ''})
          </button>
        </fieldset>
      </div>
    </div>
    ${
      tests &&
      html`<section class="card" aria-label="Test results">
        <h2>Tests: ${tests.ok ? 'pass' : 'FAIL'}</h2>
        ${tests.error && html`<p class="error">${tests.error}</p>`}
        ${tests.summary && html`<p>${tests.summary.pass} passed, ${tests.summary.fail} failed, ${tests.summary.error} errors (${tests.summary.total} cases)</p>`}
        <ul>
          ${(tests.cases ?? []).filter((c) => c.status !== 'PASS').map((c) => html`<li><strong>${c.status}</strong> ${c.name}: ${c.problems.join('; ')}</li>`)}
        </ul>
      </section>`
    }
    ${trace && html`<${TraceView} trace=${trace} />`}
    ${
      diff &&
      html`<section class="card" aria-label="Diff">
        <h2>Diff vs enforced</h2>
        <p>
          ${diffLine('Rules', diff.rules)}
          <br />
          ${diffLine('Classifiers', diff.classifiers)}
        </p>
        <p>On ${diff.corpus.total} recent recorded requests: ${diff.corpus.changed} decisions change.</p>
        <ul>
          ${diff.corpus.transitions.map(
            (t) =>
              html`<li>
                ${t.from} → ${t.to}: ${t.count}
                <ul>
                  ${t.examples.map((x) => html`<li><code>${x.id}</code> ${x.text}</li>`)}
                </ul>
              </li>`,
          )}
        </ul>
      </section>`
    }
    ${
      published !== null &&
      html`<section class="card ok" role="status" aria-label="Published">
        <h2>Published</h2>
        <${Json} value=${published} />
      </section>`
    }
  </section>`;
}
