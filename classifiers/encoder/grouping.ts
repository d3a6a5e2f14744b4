/**
 * Splits one micro-batch into padded sub-batches so that a few long texts do not make every short text
 * pay for their length. The model's cost grows with batch × padded length, plus a fixed cost per run;
 * sorting by length and cutting where it pays is an exact, tiny dynamic programme (n ≤ maxBatchSize).
 */

/**
 * Returns groups of indices into `lengths`, each group to be run as one padded batch, minimising
 * Σ (groupSize × longestInGroup + runCost). `runCost` is the fixed cost of a run in token-slots. A group of more than
 * one text holds at most `maxSlots` token-slots (groupSize × longest): past a few hundred, the run's intermediates
 * outgrow the caches and a text costs more in a big batch than in a small one (classifiers/encoder/README.md).
 * @example
 * planGroups([20, 18, 128, 22]); // [[1, 0, 3], [2]]: 3×22 + 1×128 slots instead of 4×128
 */
export function planGroups(lengths: readonly number[], runCost = 64, maxSlots = Infinity): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const n = order.length;
  // best[j]: least cost of running the j shortest texts; cut[j]: where the last group starts.
  const best = new Array<number>(n + 1).fill(Infinity);
  const cut = new Array<number>(n + 1).fill(0);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    const longest = Math.max(1, lengths[order[j - 1]]);
    for (let i = 0; i < j; i++) {
      if (j - i > 1 && (j - i) * longest > maxSlots) continue;
      const cost = best[i] + (j - i) * longest + runCost;
      if (cost < best[j]) {
        best[j] = cost;
        cut[j] = i;
      }
    }
  }
  const groups: number[][] = [];
  for (let j = n; j > 0; j = cut[j]) groups.unshift(order.slice(cut[j], j));
  return groups;
}
