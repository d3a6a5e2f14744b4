"""Calibrates the fine-tuned heads on the validation split and compares them, per source, with the frozen-encoder
baselines: the shipped linear heads, and a one-hidden-layer MLP per head trained here on the frozen embeddings.
Every threshold and Platt constant comes from the validation split; figures are given for validation and test.
Reads the dump (frozen.f32 covers every text) and the run (ft.f32 + ft-index.json: the exported fine-tuned ONNX
encoder's embeddings of the validation and test texts, heads-raw.json). Writes run/calibration.json, run/metrics.json.
Usage: python3 evaluate.py --cache .cache/train-encoder --run .cache/train-encoder/run1
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from data import HARMFUL_REQUESTS, LOOKALIKES, PAIR_HEAD, Data, average_precision, load_embeddings, roc_auc  # noqa: E402

BENIGN_RATE = 0.02  # the balanced level: at most 2% of the validation negatives flagged
FPR_HEADS = {"unsafe": 0, "jailbreak": 0, "injection": 0, PAIR_HEAD: 1}  # head -> label index thresholded at 2%


def platt(z, y):
    """Fits p = sigmoid(a*z + c) by Newton's method on validation logits (unweighted, as calibrate.ts)."""
    a, c = 1.0, 0.0
    z, y = z.astype(np.float64), y.astype(np.float64)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(a * z + c)))
        g = np.array([((p - y) * z).sum(), (p - y).sum()])
        w = p * (1 - p) + 1e-9
        h = np.array([[(w * z * z).sum(), (w * z).sum()], [(w * z).sum(), w.sum()]]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, c = a - step[0], c - step[1]
        if np.abs(step).max() < 1e-9:
            break
    return float(a), float(c)


def threshold_at_rate(p, y, rate=BENIGN_RATE):
    """The lowest threshold that flags at most `rate` of the negatives."""
    neg = np.sort(p[y == 0])[::-1]
    k = int(np.floor(rate * len(neg)))
    return float(neg[k] + 1e-6) if k < len(neg) else -1e9


def threshold_youden(p, y):
    best, t = -1, 0.5
    for c in np.unique(p):
        f = p >= c
        j = f[y == 1].mean() - f[y == 0].mean()
        if j > best:
            best, t = j, float(c)
    return t


def per_source(p, y, src, t):
    out = {}
    for s in sorted(set(src)):
        m = src == s
        ys = y[m]
        out[s] = {"n": int(m.sum()), "positives": int((ys == 1).sum()), "flagged": float((p[m] >= t).mean())}
    return out


def lookalike_report(p, y, src):
    """Look-alike AUPRC: harmful requests (positives) vs safe look-alikes, pooled and per look-alike source."""
    harm = np.array([s in HARMFUL_REQUESTS for s in src]) & (y == 1)
    out = {}
    for name, look in [("all", None)] + [(s, s) for s in sorted(LOOKALIKES)]:
        neg = np.array([(s in LOOKALIKES if look is None else s == look) for s in src]) & (y == 0)
        if neg.sum() == 0 or harm.sum() == 0:
            continue
        m = harm | neg
        out[name] = {"ap_balanced": average_precision(p[m], y[m], balanced=True), "ap": average_precision(p[m], y[m]),
                     "auc": roc_auc(p[m], y[m]), "negatives": int(neg.sum()), "positives": int(harm.sum())}
    return out


def mlp_baseline(x_tr, y_tr, x_va, y_va, seed=7):
    """One hidden layer (256, ReLU, dropout 0.2), Adam, early stopping on validation loss: the best frozen head."""
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 1))
    opt = torch.optim.Adam(m.parameters(), 2e-3, weight_decay=1e-4)
    xt, yt, xv, yv = map(torch.tensor, (x_tr, y_tr, x_va, y_va))
    pos_w = torch.tensor((len(y_tr) - y_tr.sum()) / max(1.0, y_tr.sum()))
    best, state, bad = 1e9, None, 0
    for _ in range(40):
        m.train()
        for b in torch.randperm(len(xt)).split(512):
            loss = nn.functional.binary_cross_entropy_with_logits(m(xt[b])[:, 0], yt[b], pos_weight=pos_w)
            opt.zero_grad(), loss.backward(), opt.step()
        m.eval()
        with torch.no_grad():
            v = float(nn.functional.binary_cross_entropy_with_logits(m(xv)[:, 0], yv, pos_weight=pos_w))
        if v < best - 1e-4:
            best, state, bad = v, {k: t.clone() for k, t in m.state_dict().items()}, 0
        else:
            bad += 1
            if bad >= 4:
                break
    m.load_state_dict(state)
    return lambda x: m(torch.tensor(x))[:, 0].detach().numpy()


def report_head(rows, label_j, score_fn, rule, extra=None):
    """Calibrates one label on validation (Platt, threshold); returns (calibration, {split: metrics}).
    rows(split) -> (keys, sources, targets); score_fn(keys) -> raw logits."""
    k_va, _, y_va = rows("val")
    m = ~np.isnan(y_va[:, label_j])
    z_va, y = score_fn(k_va[m]), y_va[m, label_j]
    a, c = platt(z_va, y)
    # Ranked and thresholded on the calibrated logit a*z + c: the probability saturates at 1.0 in float64
    # for confident texts, and ties there would hide the ranking.
    s_va = a * z_va + c
    t = threshold_at_rate(s_va, y) if rule == "rate" else threshold_youden(s_va, y)
    res = {}
    for split in ["val", "test"]:
        kk, ss, yy = rows(split)
        mm = ~np.isnan(yy[:, label_j])
        kk, ss, yy = kk[mm], ss[mm], yy[mm, label_j]
        if len(kk) == 0:
            continue
        p = a * score_fn(kk) + c
        r = {"n": int(len(kk)), "ap": average_precision(p, yy), "auc": roc_auc(p, yy), "threshold": t,
             "recall": float((p[yy == 1] >= t).mean()) if (yy == 1).any() else None,
             "flagged_negatives": float((p[yy == 0] >= t).mean()) if (yy == 0).any() else None,
             "per_source": per_source(p, yy, ss, t)}
        if extra:
            r.update(extra(p, yy, ss))
        res[split] = r
    prob = lambda v: float(1 / (1 + np.exp(-v)))  # noqa: E731
    for r in res.values():
        r["threshold"] = prob(t)
    return {"a": a, "c": c, "threshold": prob(t)}, res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=".cache/train-encoder")
    ap.add_argument("--run", default=".cache/train-encoder/run1")
    args = ap.parse_args()
    torch.set_num_threads(1)  # tiny models: OpenMP threads only wait for each other on a busy box
    data = Data(args.cache)
    print(f'loaded {len(data.ids)} texts', flush=True)
    n = len(data.ids)
    frozen = load_embeddings(f"{args.cache}/frozen.f32", n)
    ft_index = np.array(json.load(open(f"{args.run}/ft-index.json")), dtype=np.int64)
    ft = np.zeros((n, 512), dtype=np.float32)
    ft[ft_index] = np.fromfile(f"{args.run}/ft.f32", dtype=np.float32).reshape(len(ft_index), 512)
    raw = json.load(open(f"{args.run}/heads-raw.json"))
    shipped = json.load(open(f"{args.cache}/shipped-heads.json"))["heads"]

    def text_rows(head):
        return lambda split: data.head_rows(head, split)

    def pair_rows(split):
        return data.pair_rows(split)

    def linear(weights, bias, j, emb, pair=False):
        w, b = np.array(weights, dtype=np.float32).reshape(len(bias), -1)[j], float(bias[j])
        if pair:
            return lambda k: np.concatenate([emb[k[:, 1]], emb[k[:, 0]], emb[k[:, 1]] * emb[k[:, 0]]], 1) @ w + b
        return lambda k: emb[k] @ w + b

    calibration, metrics = {}, {"fine_tuned": {}, "shipped_linear": {}, "frozen_mlp": {}}
    # The baselines depend on the dump only: computed once, reused by later runs.
    cached = f"{args.cache}/baselines.json"
    baselines = json.load(open(cached)) if os.path.exists(cached) else None
    if baselines:
        metrics.update(baselines)
    lookalike = lambda p, y, s: {"lookalike": lookalike_report(p, y, s)}  # noqa: E731
    for head, info in raw.items():
        pair = head == PAIR_HEAD
        rows = pair_rows if pair else text_rows(head)
        calibration[head] = {}
        for j, label in enumerate(info["labels"]):
            rule = "rate" if FPR_HEADS.get(head) == j else "youden"
            extra = lookalike if head == "unsafe" else None
            cal, res = report_head(rows, j, linear(info["weights"], info["bias"], j, ft, pair), rule, extra)
            calibration[head][label] = cal
            metrics["fine_tuned"][f"{head}/{label}"] = res
            s = shipped.get(head)
            if not baselines and s and label in s["labels"]:
                js = s["labels"].index(label)
                _, res = report_head(rows, j, linear(s["weights"], s["bias"], js, frozen, pair), rule, extra)
                metrics["shipped_linear"][f"{head}/{label}"] = res
            if not baselines and head in ("unsafe", "jailbreak", "injection"):
                k_tr, _, y_tr = data.head_rows(head, "train")
                k_va, _, y_va = data.head_rows(head, "val")
                f = mlp_baseline(frozen[k_tr], y_tr[:, 0], frozen[k_va], y_va[:, 0])
                _, res = report_head(rows, j, lambda k: f(frozen[k]), rule, extra)
                metrics["frozen_mlp"][f"{head}/{label}"] = res
            print(f"{head}/{label}: " + ", ".join(
                f"{m} val AP {metrics[m][f'{head}/{label}']['val']['ap']:.3f} R {metrics[m][f'{head}/{label}']['val']['recall']}"
                for m in metrics if f"{head}/{label}" in metrics[m]), flush=True)
    if not baselines:
        json.dump({k: metrics[k] for k in ("shipped_linear", "frozen_mlp")}, open(cached, "w"))
    json.dump(calibration, open(f"{args.run}/calibration.json", "w"), indent=1)
    json.dump(metrics, open(f"{args.run}/metrics.json", "w"), indent=1)


if __name__ == "__main__":
    main()
