"""The dump's data (see ../dump.ts) as arrays: per text, the targets of the text heads (NaN = not labelled for
that head); per pair, the output stage's targets. Splits come from the dump (scripts/train/data.ts's hash splits)."""
import json
import math

import numpy as np

TEXT_HEADS = ["unsafe", "categories", "jailbreak", "injection"]
PAIR_HEAD = "refusal"

# Harmful requests and their safe look-alikes: the look-alike AUPRC pits the second against the first.
HARMFUL_REQUESTS = {
    "advbench", "ailuminate", "coconot_eval", "cse_interpreter", "donotanswer", "forbidden_q", "jbb_goal", "tense",
    "contrast_harmful",
}
LOOKALIKES = {"cse_frr", "coconot_pref", "coconot_eval", "contrast_benign"}
# How much more often than its size says a source is drawn during fine-tuning.
SOURCE_BOOST = {"contrast_benign": 4.0, "contrast_harmful": 4.0, "cse_frr": 2.0, "coconot_pref": 2.0}


class Data:
    def __init__(self, cache_dir):
        d = json.load(open(f"{cache_dir}/data.json"))
        self.ids = d["ids"]
        self.sources = d["sources"]
        self.labels = {h: d["heads"][h]["labels"] for h in d["heads"]}
        n = len(self.ids)
        self.y = {h: np.full((n, len(self.labels[h])), np.nan, dtype=np.float32) for h in TEXT_HEADS}
        self.split = np.array([""] * n, dtype=object)
        self.source = np.array([""] * n, dtype=object)
        # Per head, its rows for evaluation: (text, source, split, targets).
        self.rows = {}
        for h in TEXT_HEADS:
            rows = d["heads"][h]["rows"]
            self.rows[h] = rows
            for t, _, y, s, sp in rows:
                self.y[h][t] = [math.nan if v is None else v for v in y]
                if not self.split[t]:
                    self.split[t], self.source[t] = sp, self.sources[s]
                if h == "unsafe":
                    self.source[t] = self.sources[s]
        pr = d["heads"][PAIR_HEAD]["rows"]
        self.pairs = np.array([[t, p] for t, p, _, _, _ in pr], dtype=np.int64)
        self.pair_y = np.array([[math.nan if v is None else v for v in y] for _, _, y, _, _ in pr], dtype=np.float32)
        self.pair_split = np.array([r[4] for r in pr], dtype=object)
        self.pair_source = np.array([self.sources[r[3]] for r in pr], dtype=object)

    def train_texts(self):
        """Training-split texts and their sampling weights (a source's share grows with the square root of its size)."""
        idx = np.array([i for i in range(len(self.ids)) if self.split[i] == "train"])
        counts = {}
        for i in idx:
            counts[self.source[i]] = counts.get(self.source[i], 0) + 1
        w = np.array([SOURCE_BOOST.get(self.source[i], 1.0) / math.sqrt(counts[self.source[i]]) for i in idx])
        return idx, w / w.sum()

    def head_rows(self, head, split):
        """(text indices, sources, targets) of one text head's rows in a split."""
        rows = [r for r in self.rows[head] if r[4] == split]
        y = np.array([[math.nan if v is None else v for v in r[2]] for r in rows], dtype=np.float32)
        return np.array([r[0] for r in rows], dtype=np.int64), np.array([self.sources[r[3]] for r in rows]), y

    def pair_rows(self, split):
        m = self.pair_split == split
        return self.pairs[m], self.pair_source[m], self.pair_y[m]


def load_embeddings(path, n):
    return np.fromfile(path, dtype=np.float32).reshape(n, 512)


def average_precision(score, y, balanced=False):
    """Average precision (area under the precision-recall curve, step-wise), as classifiers/heads/metrics.ts.
    balanced: negatives weighted so both classes count equally (the AP at 50% prevalence), which makes figures
    comparable across sources whose harmful/look-alike ratios differ."""
    order = np.argsort(-score, kind="stable")
    y = np.asarray(y)[order]
    pos = y.sum()
    if pos == 0:
        return float("nan")
    neg_w = pos / max(1.0, (1 - y).sum()) if balanced else 1.0
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y) * neg_w
    prec = tp / (tp + fp)
    return float((prec * y).sum() / pos)


def roc_auc(score, y):
    y = np.asarray(y)
    pos, neg = score[y == 1], score[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]), kind="stable"), kind="stable") + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))
