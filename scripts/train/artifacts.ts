/**
 * Writes a trained model directory: one `.onnx` per head, `heads.json` (the manifest the runtime loads:
 * labels, Platt constants, thresholds, file hashes), `metrics.json` (every reported figure) and the model
 * card. Heads not retrained in this run keep their previous entries.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { ManifestSchema, MANIFEST_FORMAT, type HeadEntry, type Manifest } from '../../classifiers/heads/model.js';
import { exportHead } from '../../classifiers/heads/export-head.js';
import { renderCard, type DataFile } from './card.js';
import { fileHash } from './data.js';
import type { HeldOutReport, LabelReport } from './evaluate.js';
import type { FittedHead } from './fit.js';
import type { HeadPlan } from './specs.js';

export interface HeadResult {
  plan: HeadPlan;
  fit: FittedHead;
  test: LabelReport[];
  heldOut: HeldOutReport[];
  counts: Record<'train' | 'val' | 'test', number>;
}

export interface HeadMetrics {
  items: Record<'train' | 'val' | 'test', number>;
  sources: Record<string, { positives: number; negatives: number }>;
  test: LabelReport[];
  heldOut: HeldOutReport[];
}

const round = (_: string, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v);

export async function writeArtifacts(o: {
  out: string;
  root: string;
  dataDir: string;
  seed: number;
  encoderVersion: string;
  results: HeadResult[];
  heldOutRun: boolean;
}): Promise<void> {
  mkdirSync(o.out, { recursive: true });
  const manifestPath = join(o.out, 'heads.json');
  const metricsPath = join(o.out, 'metrics.json');
  const previous: Manifest | undefined = existsSync(manifestPath)
    ? ManifestSchema.parse(JSON.parse(readFileSync(manifestPath, 'utf8')))
    : undefined;
  const keep = previous && previous.encoder === o.encoderVersion && previous.seed === o.seed;
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    encoder: o.encoderVersion,
    seed: o.seed,
    heads: keep ? { ...previous.heads } : {},
  };
  const metrics: Record<string, HeadMetrics> =
    keep && existsSync(metricsPath) ? JSON.parse(readFileSync(metricsPath, 'utf8')) : {};

  for (const { plan, fit, test, heldOut, counts } of o.results) {
    const file = `${plan.name}.onnx`;
    const bytes = exportHead(plan.name, fit.head, fit.platt);
    writeFileSync(join(o.out, file), bytes);
    const entry: HeadEntry = {
      file,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      input: plan.input,
      pooling: plan.pooling,
      labels: [...plan.labels],
      calibration: Object.fromEntries(
        plan.labels.map((l, j) => [l, { a: Math.fround(fit.platt[j].a), c: Math.fround(fit.platt[j].c) }]),
      ),
      thresholds: Object.fromEntries(plan.labels.map((l, j) => [l, Number(fit.thresholds[j].toFixed(6))])),
    };
    manifest.heads[plan.name] = entry;
    const sources: HeadMetrics['sources'] = {};
    for (const it of plan.items) {
      const s = (sources[it.source] ??= { positives: 0, negatives: 0 });
      if (it.y.some((v) => v === 1)) s.positives++;
      else s.negatives++;
    }
    const old = metrics[plan.name] as HeadMetrics | undefined;
    metrics[plan.name] = { items: counts, sources, test, heldOut: o.heldOutRun ? heldOut : (old?.heldOut ?? []) };
  }

  writeFileSync(manifestPath, `${JSON.stringify(ManifestSchema.parse(manifest), null, 2)}\n`);
  writeFileSync(metricsPath, `${JSON.stringify(metrics, round, 1)}\n`);
  const files = readDataFiles(o.dataDir);
  const cardPath = basename(o.out) === 'default' ? join(o.out, '..', 'MODEL_CARD.md') : join(o.out, 'MODEL_CARD.md');
  writeFileSync(cardPath, renderCard({ manifest, metrics, files, modelDir: relative(o.root, o.out) }));
}

/** Re-renders the model card from a model directory's heads.json and metrics.json (after prose edits). */
export function rewriteCard(out: string, root: string, dataDir: string): string {
  const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(out, 'heads.json'), 'utf8')));
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as Record<string, HeadMetrics>;
  const cardPath = basename(out) === 'default' ? join(out, '..', 'MODEL_CARD.md') : join(out, 'MODEL_CARD.md');
  writeFileSync(
    cardPath,
    renderCard({ manifest, metrics, files: readDataFiles(dataDir), modelDir: relative(root, out) }),
  );
  return cardPath;
}

function readDataFiles(dir: string): DataFile[] {
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  const rows = readme.split('\n').filter((l) => /^\| [\w/]+(\.jsonl|\/) \|/.test(l));
  return rows.map((l) => {
    const cells = l.split('|').map((c) => c.trim());
    const name = cells[1];
    const path = join(dir, name);
    return {
      name,
      what: cells[3],
      license: cells[5],
      sha256: name.endsWith('.jsonl') && existsSync(path) ? fileHash(path).slice(0, 16) : '—',
    };
  });
}
