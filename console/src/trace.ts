import { html } from 'htm/preact';
import { ActionBadge } from './ui.js';

/** What POST /console/api/policy/explain answers: `policy explain --json`. */
export interface Trace {
  final: { action: string; stage: string };
  stages: Record<
    string,
    {
      stage: string;
      action: string;
      rules: {
        id: string;
        outcome: string;
        why: string;
        conditions: { condition: string; value: unknown; result: boolean }[];
      }[];
      winner?: { id: string; why: string[] } | null;
    }
  >;
  outputSkipped?: string;
}

/** The explain trace: every rule of each stage, its outcome and why, its conditions with their values. */
export function TraceView({ trace }: { trace: Trace }) {
  return html`<section class="card" aria-label="Explain trace">
    <h2>Final: <${ActionBadge} action=${trace.final.action} />${' '}at the ${trace.final.stage} stage</h2>
    ${Object.values(trace.stages).map(
      (s) =>
        html`<h3>${s.stage} → ${s.action}</h3>
          <ul class="trace">
            ${s.rules.map(
              (r) =>
                html`<li class=${`o-${r.outcome}`}>
                  <strong>${r.outcome}</strong>${' '}${r.id}: ${r.why}
                  ${
                    r.conditions.length > 0 &&
                    html`<ul>
                      ${r.conditions.map(
                        (c) =>
                          html`<li>
                            ${c.result ? '✔' : '✘'}${' '}<code>${c.condition}</code>${' = '}<code
                              >${JSON.stringify(c.value)}</code
                            >
                          </li>`,
                      )}
                    </ul>`
                  }
                </li>`,
            )}
          </ul>
          ${s.winner ? html`<p>winner: ${s.winner.id} — ${s.winner.why[0]}</p>` : html`<p>winner: none (allow)</p>`}`,
    )}
    ${trace.outputSkipped && html`<p class="muted">Output stage not run: ${trace.outputSkipped}</p>`}
  </section>`;
}
