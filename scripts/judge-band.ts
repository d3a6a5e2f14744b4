/**
 * How many judge calls an `escalate` band saves: runs the ML pack's local classifier (`heads`, policies/ml) on the
 * input-stage requests of the TEST split of ../shared/data (the seeded 70/15/15 hash split of scripts/train/data.ts,
 * never used to fit the heads or their thresholds), at most `--per-source` per source, and counts the scores
 * inside each band: those are the requests the judge would be asked about; the rest it never sees.
 *
 *   node dist/scripts/judge-band.js [--per-source 60] [--label unsafe] [--band 0.3,0.9 ...]
 *
 * Exits 0 with a note when ../shared/data or the ML model is absent.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runClassifier } from '../classifiers/run.js';
import { loadPolicy } from '../policies/load.js';
import { loadRecords, type DataRecord } from './train/data.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DATA = join(ROOT, '..', 'shared', 'data');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'per-source': { type: 'string', default: '60' },
      label: { type: 'string', default: 'unsafe' },
      band: { type: 'string', multiple: true, default: ['0.3,0.9', '0.2,0.95', '0.5,0.9'] },
    },
  });
  if (!existsSync(DATA)) return void console.log(`skipped: ${DATA} is absent`);
  const policy = loadPolicy(join(ROOT, 'policies', 'ml'));
  const heads = policy.classifiers.get('heads');
  if (!heads) throw new Error('policies/ml declares no classifier "heads"');
  await heads.ready?.();
  const perSource = Number(values['per-source']);
  const bySource = new Map<string, DataRecord[]>();
  for (const r of loadRecords(DATA, 7)) {
    if (r.split !== 'test' || r.stage !== 'input') continue;
    const list = bySource.get(r.source ?? r.file) ?? [];
    if (list.length < perSource) list.push(r);
    bySource.set(r.source ?? r.file, list);
  }
  const sample = [...bySource.values()].flat();
  const scores: { score: number; unsafe: boolean }[] = [];
  for (const r of sample) {
    const res = await runClassifier(heads, { stage: 'input', text: r.text });
    if (res.error) throw new Error(`heads failed on ${r.id}: ${res.error.message}`);
    scores.push({ score: res.scores[values.label] ?? 0, unsafe: r.label !== 'safe' });
  }
  console.log(`test split of ../shared/data, input stage: ${sample.length} requests from ${bySource.size} sources`);
  console.log(`(at most ${perSource} per source; ${scores.filter((s) => s.unsafe).length} labelled unsafe)`);
  // Outside the band the local verdict stands: above it refuses, below it passes. Its mistakes there are the
  // judge's missed chances: unsafe requests below the band, safe ones above it.
  console.log('band         judge calls   saved   unsafe inside   safe inside   unsafe below   safe above');
  for (const b of values.band) {
    const [low = 0, high = 1] = b.split(',').map(Number);
    const inside = scores.filter((s) => s.score >= low && s.score <= high);
    const pct = (n: number) => `${((100 * n) / scores.length).toFixed(1)}%`;
    console.log(
      `[${low}, ${high}]`.padEnd(13) +
        `${inside.length} (${pct(inside.length)})`.padEnd(14) +
        pct(scores.length - inside.length).padEnd(8) +
        String(inside.filter((s) => s.unsafe).length).padEnd(16) +
        String(inside.filter((s) => !s.unsafe).length).padEnd(14) +
        String(scores.filter((s) => s.unsafe && s.score < low).length).padEnd(15) +
        String(scores.filter((s) => !s.unsafe && s.score > high).length),
    );
  }
  await heads.close?.();
}

await main();
