/**
 * A long-text probe for `npm run calibrate -- --long-probe`: does a harmful request buried in a long benign
 * document get found? Each probe is a validation harmful request inserted after the first 200 words of a long
 * benign carrier (validation arena_hard prompts joined until ~450 words, so the request sits outside the first
 * 128-token window); the carriers alone are the controls. Both are scored first-window and max-over-windows, at a
 * level's thresholds, so the table shows what max pooling buys on long texts (short texts score the same).
 */
import type { LoadedModel } from '../../classifiers/heads/model.js';
import type { CalItem } from './items.js';
import { scoreItems, scoreUnder, type Gate, type Pooling } from './score.js';
import type { Precision } from '../../classifiers/encoder/index.js';

const REQUEST_SOURCES = new Set(['advbench', 'jbb_goal', 'forbidden_q', 'ailuminate', 'donotanswer']);

/** The probe items: up to `n` buried requests (label unsafe) and as many carriers (label safe). */
export function longProbeItems(items: readonly CalItem[], n = 120): CalItem[] {
  const words = items
    .filter((i) => i.label === 'safe' && i.source === 'arena_hard')
    .flatMap((i) => i.text.split(/\s+/).filter(Boolean));
  const requests = items.filter((i) => i.label === 'unsafe' && REQUEST_SOURCES.has(i.source)).slice(0, n);
  const out: CalItem[] = [];
  requests.forEach((r, k) => {
    const start = (k * 97) % Math.max(1, words.length - 450);
    const carrier = words.slice(start, start + 450);
    if (carrier.length < 450) return;
    const buried = [...carrier.slice(0, 200), '\n\n', r.text, '\n\n', ...carrier.slice(200)].join(' ');
    out.push({ text: buried, label: 'unsafe', source: `long:${r.source}`, categories: r.categories });
    out.push({ text: carrier.join(' '), label: 'safe', source: 'long:carrier', categories: [] });
  });
  return out;
}

/** Refusal rates of the probe under each pooling, at the given thresholds (the union of the labels). */
export async function longProbe(
  model: LoadedModel,
  items: readonly CalItem[],
  thresholds: Record<string, number>,
  poolings: Record<string, Pooling>,
  gates: Gate[],
  opts: { maxChunks: number; cacheDir: string; precision: Precision },
): Promise<string> {
  const probe = longProbeItems(items);
  const scored = await scoreItems(model, probe, opts);
  const lines = [
    `Long-text probe: ${probe.length / 2} validation harmful requests buried after 200 words of ~450-word benign`,
    'carriers, and the carriers alone, refused at the balanced thresholds',
    '',
    `| pooling | buried requests refused | carriers refused |`,
    `|---|--:|--:|`,
  ];
  for (const [name, pooling] of Object.entries(poolings)) {
    const refused = (label: 'safe' | 'unsafe') => {
      const rows = scored.filter((s) => s.item.label === label);
      const hit = rows.filter((s) => {
        const scores = scoreUnder(s, model, pooling, gates);
        return Object.entries(thresholds).some(([l, t]) => (scores[l] ?? 0) >= t);
      });
      return `${((100 * hit.length) / Math.max(1, rows.length)).toFixed(1)}%`;
    };
    lines.push(`| ${name} | ${refused('unsafe')} | ${refused('safe')} |`);
  }
  return lines.join('\n') + '\n';
}
