/**
 * Fitting one head: train on the train split, Platt-calibrate and pick thresholds on the validation split.
 * Weights keep any one source from dominating: in training each source's rows weigh at most `cap` in total;
 * on validation every source carries the same weight within its class, and both classes weigh the same.
 */
import { chooseThreshold, fitPlatt } from '../../classifiers/heads/calibrate.js';
import { logits, sigmoid, type LinearHead, type Platt } from '../../classifiers/heads/linear.js';
import { trainLogistic, type TrainOptions } from '../../classifiers/heads/train.js';
import type { Item } from './heads-data.js';

/** An item's feature vectors: its windows (the first is what `first`-pooled heads read). */
export type Features = Map<Item, Float32Array[]>;

/** `map.get(key)` for a key the caller put there itself; a miss is a bug, and says so. */
function present<K, V>(map: ReadonlyMap<K, V>, key: K): V {
  const value = map.get(key);
  if (value === undefined) throw new Error(`no entry for ${String(key)}`);
  return value;
}

/** An item's windows; every item is embedded before fitting, so a missing one is a bug, and says so. */
export function windowsOf(features: Features, item: Item): Float32Array[] {
  const windows = features.get(item);
  if (!windows?.length) throw new Error(`no embedding for item ${item.source}/${item.text.slice(0, 40)}`);
  return windows;
}

export interface FittedHead {
  head: LinearHead;
  platt: Platt[];
  thresholds: number[];
}

export interface HeadSpec {
  labels: readonly string[];
  pooling: 'first' | 'max';
  train?: TrainOptions;
  /** Most total training weight one source gets. */
  cap?: number;
}

/** Per-label calibrated probability of an item: max over windows for `max` pooling. */
export function scoreItem(fit: FittedHead, pooling: 'first' | 'max', windows: Float32Array[]): number[] {
  const use = pooling === 'max' ? windows : windows.slice(0, 1);
  const out = fit.head.labels.map(() => 0);
  for (const w of use) {
    logits(fit.head, w).forEach((z, j) => {
      out[j] = Math.max(out[j], sigmoid(fit.platt[j].a * z + fit.platt[j].c));
    });
  }
  return out;
}

/** Raw logit per label, max over the windows used. */
function rawItem(head: LinearHead, pooling: 'first' | 'max', windows: Float32Array[]): number[] {
  const use = pooling === 'max' ? windows : windows.slice(0, 1);
  const out = head.labels.map(() => -Infinity);
  for (const w of use) logits(head, w).forEach((z, j) => (out[j] = Math.max(out[j], z)));
  return out;
}

/**
 * Weights that give each (source, class) cell of label `j` the same total (cells smaller than `minCell`
 * weigh proportionally less, so a source with 2 validation positives cannot swing a threshold), and each
 * class half of the total.
 */
export function balancedWeights(items: readonly Item[], j: number, minCell = 20): Float64Array {
  const count = new Map<string, number>();
  const key = (it: Item) => `${it.source}\0${it.y[j]}`;
  for (const it of items) count.set(key(it), (count.get(key(it)) ?? 0) + 1);
  const raw = Float64Array.from(items, (it) =>
    Number.isNaN(it.y[j]) ? 0 : 1 / Math.max(minCell, present(count, key(it))),
  );
  const total = [0, 0];
  items.forEach((it, i) => {
    if (raw[i] > 0) total[it.y[j]] += raw[i];
  });
  return raw.map((v, i) => (v > 0 ? v / (2 * total[items[i].y[j]]) : 0));
}

/**
 * Trains, calibrates and thresholds a head on `items` (their `split` decides the role).
 * @example
 * const fit = fitHead(spec, unsafeItems(records), features);
 */
export function fitHead(spec: HeadSpec, items: readonly Item[], features: Features): FittedHead {
  const { labels, cap = 400 } = spec;
  const k = labels.length;
  const train = items.filter((it) => it.split === 'train');
  const val = items.filter((it) => it.split === 'val');
  if (!train[0]) throw new Error(`head ${labels.join(', ')}: no training items`);
  const dim = windowsOf(features, train[0])[0].length;
  const perSource = new Map<string, number>();
  for (const it of train) perSource.set(it.source, (perSource.get(it.source) ?? 0) + 1);

  const x = new Float32Array(train.length * dim);
  const y = new Float32Array(train.length * k);
  const weight = new Float32Array(train.length);
  train.forEach((it, r) => {
    x.set(windowsOf(features, it)[0], r * dim);
    it.y.forEach((t, j) => (y[r * k + j] = t));
    weight[r] = Math.min(1, cap / present(perSource, it.source));
  });
  const head = trainLogistic({ x, dim, y, weight, labels }, spec.train);

  const raw = val.map((it) => rawItem(head, spec.pooling, windowsOf(features, it)));
  const sourceIndex = new Map([...new Set(val.map((it) => it.source))].map((s, i) => [s, i]));
  const platt: Platt[] = [];
  const thresholds: number[] = [];
  for (let j = 0; j < k; j++) {
    const w = balancedWeights(val, j);
    const keep = val.map((_, i) => i).filter((i) => w[i] > 0);
    const z = keep.map((i) => raw[i][j]);
    const t = keep.map((i) => val[i].y[j]);
    const ww = keep.map((i) => w[i]);
    const p = fitPlatt(z, t, ww);
    platt.push(p);
    const group = keep.map((i) => present(sourceIndex, val[i].source));
    thresholds.push(
      chooseThreshold(
        z.map((v) => sigmoid(p.a * v + p.c)),
        t,
        ww,
        group,
      ),
    );
  }
  return { head, platt, thresholds };
}
