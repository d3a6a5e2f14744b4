"""Fine-tunes the sentence encoder end to end (all but the token-embedding table) with linear heads on top,
multi-task: unsafe, categories, jailbreak, injection on the text; refusal and disallowed content on the
prompt+response features [p, r, p*r]. Early stopping on the validation split. Writes to --out:
  encoder.f16 + encoder.json   the fine-tuned tensors in the TF layout (float16) and their index
  heads-raw.json               raw linear heads (W, b) per head
  parity-ref.json              the fixed texts' embeddings and raw logits under the saved (float16) weights
  train-log.json               per-epoch loss, validation score, seconds
Usage: python3 train.py --cache .cache/train-encoder --out .cache/train-encoder/run [--epochs 8] [--texts 4000]
"""
import argparse
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from data import HARMFUL_REQUESTS, LOOKALIKES, PAIR_HEAD, TEXT_HEADS, Data, average_precision  # noqa: E402
from use_lite import TF_NAMES, UseLite, batch_ids, load_tf_weights  # noqa: E402

HEAD_WEIGHT = {"unsafe": 1.0, "categories": 0.5, "jailbreak": 0.5, "injection": 1.0, PAIR_HEAD: 1.0}
FROZEN = {"embeddings"}  # the 8002x256 token table: sparse updates, and keeping it keeps the artifact small


def parity(model, cache):
    ref = json.load(open(f"{cache}/parity.json"))
    ids, mask = batch_ids(ref["ids"])
    with torch.no_grad():
        e = model(ids, mask).numpy()
    r = np.array(ref["embeddings"], dtype=np.float32)
    cos = (e * r).sum(1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(r, axis=1) + 1e-12)
    return float(cos.min()), float(np.abs(e - r).max())


def make_heads(data, cache):
    shipped = json.load(open(f"{cache}/shipped-heads.json"))["heads"]
    heads = nn.ModuleDict()
    for h in TEXT_HEADS + [PAIR_HEAD]:
        k, dim = len(data.labels[h]), (1536 if h == PAIR_HEAD else 512)
        lin = nn.Linear(dim, k)
        nn.init.zeros_(lin.weight), nn.init.zeros_(lin.bias)
        s = shipped.get(h)
        if s:  # warm start from the shipped linear head, label by label
            w = np.array(s["weights"], dtype=np.float32).reshape(len(s["labels"]), s["dim"])
            with torch.no_grad():
                for j, label in enumerate(data.labels[h]):
                    if label in s["labels"]:
                        lin.weight[j] = torch.tensor(w[s["labels"].index(label)])
                        lin.bias[j] = float(s["bias"][s["labels"].index(label)])
        heads[h] = lin
    return heads


def masked_bce(logits, y):
    m = ~torch.isnan(y)
    if not m.any():
        return logits.sum() * 0
    return nn.functional.binary_cross_entropy_with_logits(logits[m], y[m])


def pair_features(p, r):
    return torch.cat([p, r, p * r], dim=1)


def length_batches(idx, ids, size, rng):
    """Batches of similar length (little padding), in random order."""
    idx = sorted(idx, key=lambda i: len(ids[i]))
    batches = [idx[k : k + size] for k in range(0, len(idx), size)]
    rng.shuffle(batches)
    return batches


def embed_many(model, ids, idx, size=64):
    out = np.zeros((len(idx), 512), dtype=np.float32)
    order = sorted(range(len(idx)), key=lambda k: len(ids[idx[k]]))
    with torch.no_grad():
        for k in range(0, len(order), size):
            chunk = order[k : k + size]
            e = model(*batch_ids([ids[idx[c]] for c in chunk])).numpy()
            out[chunk] = e
    return out


def validation_set(data, rng, per_source=100, pairs=300):
    """A fixed validation subset for early stopping: up to `per_source` rows per source of each text head."""
    picks = {}
    for h in ["unsafe", "jailbreak", "injection"]:
        t, s, y = data.head_rows(h, "val")
        keep = []
        for src in sorted(set(s)):
            where = np.nonzero(s == src)[0]
            keep.extend(rng.choice(where, min(per_source, len(where)), replace=False))
        keep = np.array(sorted(keep))
        picks[h] = (t[keep], s[keep], y[keep])
    pt, ps, py = data.pair_rows("val")
    keep = rng.choice(len(pt), min(pairs, len(pt)), replace=False)
    picks[PAIR_HEAD] = (pt[keep], ps[keep], py[keep])
    return picks


def val_score(model, heads, data, vs):
    """Validation APs; the score is the mean of look-alike AP (balanced, counted twice), jailbreak and injection AP."""
    texts = sorted(set(np.concatenate([vs[h][0] for h in ["unsafe", "jailbreak", "injection"]]).tolist()) | set(
        vs[PAIR_HEAD][0].reshape(-1).tolist()))
    pos = {t: k for k, t in enumerate(texts)}
    emb = torch.tensor(embed_many(model, data.ids, texts))
    out = {}
    with torch.no_grad():
        t, s, y = vs["unsafe"]
        z = heads["unsafe"](emb[[pos[i] for i in t]])[:, 0].numpy()
        m = np.array([(src in HARMFUL_REQUESTS and yy[0] == 1) or (src in LOOKALIKES and yy[0] == 0) for src, yy in zip(s, y)])
        out["lookalike_ap"] = average_precision(z[m], y[m, 0], balanced=True)
        for h in ["jailbreak", "injection"]:
            t, s, y = vs[h]
            out[f"{h}_ap"] = average_precision(heads[h](emb[[pos[i] for i in t]])[:, 0].numpy(), y[:, 0])
        t, s, y = vs[PAIR_HEAD]
        f = pair_features(emb[[pos[i] for i in t[:, 1]]], emb[[pos[i] for i in t[:, 0]]])
        z = heads[PAIR_HEAD](f).numpy()
        for j, label in enumerate(data.labels[PAIR_HEAD]):
            ok = ~np.isnan(y[:, j])
            out[f"{label}_ap"] = average_precision(z[ok, j], y[ok, j])
    # The output-stage APs are reported but not selected on: the validation sample of pairs is small and noisy.
    vals = [out["lookalike_ap"]] * 2 + [out["jailbreak_ap"], out["injection_ap"]]
    out["score"] = float(np.mean(vals))
    return out


def save(model, heads, data, cache, out):
    """Writes the trained tensors (float16, TF layout), the raw heads, and parity references under the saved weights."""
    model = copy.deepcopy(model)
    state = model.tf_state(np.float16)
    index, blobs, offset = [], [], 0
    for key, name in TF_NAMES.items():
        if key in FROZEN:
            continue
        arr = np.ascontiguousarray(state[name])
        index.append({"name": name, "shape": list(arr.shape), "dtype": "float16", "offset": offset})
        blobs.append(arr.tobytes())
        offset += arr.nbytes
    with open(f"{out}/encoder.f16", "wb") as f:
        f.write(b"".join(blobs))
    json.dump(index, open(f"{out}/encoder.json", "w"))
    # Reload the rounded weights so the references describe exactly what is shipped.
    with torch.no_grad():
        for key, name in TF_NAMES.items():
            if key not in FROZEN:
                model.w(key).copy_(torch.tensor(state[name].astype(np.float32)))
    raw = {h: {"labels": data.labels[h], "weights": heads[h].weight.detach().numpy().tolist(),
               "bias": heads[h].bias.detach().numpy().tolist()} for h in heads}
    json.dump(raw, open(f"{out}/heads-raw.json", "w"))
    ref = json.load(open(f"{cache}/parity.json"))
    ids, mask = batch_ids(ref["ids"])
    with torch.no_grad():
        e = model(ids, mask)
        logits = {h: heads[h](e).numpy().tolist() for h in TEXT_HEADS}
        logits[PAIR_HEAD] = heads[PAIR_HEAD](pair_features(e[:1].expand_as(e), e)).numpy().tolist()
    json.dump({"texts": ref["texts"], "embeddings": e.numpy().tolist(), "logits": logits,
               "pair_prompt": ref["texts"][0]}, open(f"{out}/parity-ref.json", "w"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=".cache/train-encoder")
    ap.add_argument("--out", default=".cache/train-encoder/run")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--texts", type=int, default=5000, help="texts sampled per epoch")
    ap.add_argument("--pairs", type=int, default=400, help="prompt+response pairs per epoch")
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--val-per-source", type=int, default=40, help="validation rows per source for early stopping")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-train-tokens", type=int, default=128, help="training reads the first N tokens (eval: 128)")
    ap.add_argument("--freeze-layer0", action="store_true", help="also freeze layer 0 (cheaper steps)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-initial-val", action="store_true", help="no validation pass before the first epoch")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)

    data = Data(args.cache)
    model = UseLite(load_tf_weights(f"{args.cache}/weights.json", f"{args.cache}/weights.bin"))
    cos, diff = parity(model, args.cache)
    print(f"parity with the ONNX encoder: min cosine {cos:.9f}, max |diff| {diff:.2e}", flush=True)
    if cos < 0.9999:
        raise SystemExit("the PyTorch port does not match the ONNX encoder; not training")
    if args.freeze_layer0:
        FROZEN.update(k for k in TF_NAMES if k.startswith("l0.") or k.startswith("res_"))
    for key in FROZEN:
        model.w(key).requires_grad_(False)
    clip = lambda seqs: [s[: args.max_train_tokens] for s in seqs]  # noqa: E731
    heads = make_heads(data, args.cache)
    opt = torch.optim.AdamW([
        {"params": [p for p in model.parameters() if p.requires_grad], "lr": args.lr},
        {"params": heads.parameters(), "lr": 1e-3},
    ], weight_decay=0.01)
    train_idx, train_w = data.train_texts()
    pt, _, py = data.pair_rows("train")
    vs = validation_set(data, rng, args.val_per_source, pairs=4 * args.val_per_source)
    ys = {h: torch.tensor(data.y[h]) for h in TEXT_HEADS}
    log = []
    if args.skip_initial_val:  # saves time on a slow box; the first epoch is then kept whatever it scores
        best = {"score": -1.0}
    else:
        best = val_score(model, heads, data, vs)
        print(f"epoch 0 (warm-started heads on the shipped encoder): {json.dumps(best)}", flush=True)
        log.append({"epoch": 0, **best})
        save(model, heads, data, args.cache, args.out)
    best_epoch, step = 0, 0
    planned_steps = args.epochs * (math.ceil(args.texts / 32) + math.ceil(args.pairs / 16))
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        model.train()
        texts = rng.choice(train_idx, args.texts, replace=True, p=train_w)
        pairs = rng.choice(len(pt), args.pairs, replace=False)
        batches = [("t", b) for b in length_batches(list(texts), data.ids, 32, rng)]
        batches += [("p", pairs[k : k + 16]) for k in range(0, len(pairs), 16)]
        order = rng.permutation(len(batches))
        total = 0.0
        for n, bi in enumerate(order):
            kind, b = batches[bi]
            # Warm-up over 50 steps, then linear decay to a tenth of the rate by the last planned step.
            lr_scale = min((step + 1) / 50, max(0.1, 1 - step / planned_steps))
            for g, base in zip(opt.param_groups, [args.lr, 1e-3]):
                g["lr"] = base * lr_scale
            if kind == "t":
                e = model(*batch_ids(clip([data.ids[i] for i in b])))
                loss = sum(HEAD_WEIGHT[h] * masked_bce(heads[h](e), ys[h][list(b)]) for h in TEXT_HEADS)
            else:
                e = model(*batch_ids(clip([data.ids[i] for i in np.concatenate([pt[b, 0], pt[b, 1]])])))
                r, p = e[: len(b)], e[len(b) :]
                loss = HEAD_WEIGHT[PAIR_HEAD] * masked_bce(heads[PAIR_HEAD](pair_features(p, r)), torch.tensor(py[b]))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(list(model.parameters()) + list(heads.parameters()), 1.0)
            opt.step()
            step += 1
            total += float(loss)
            if n % 20 == 0:
                print(f"  epoch {epoch} batch {n}/{len(order)} loss {total / (n + 1):.4f} "
                      f"({time.time() - t0:.0f} s)", flush=True)
        train_s = time.time() - t0
        model.eval()
        score = val_score(model, heads, data, vs)
        entry = {"epoch": epoch, "loss": total / len(order), "train_s": train_s, "val_s": time.time() - t0 - train_s, **score}
        log.append(entry)
        print(f"epoch {epoch}: {json.dumps(entry)}", flush=True)
        if score["score"] > best["score"]:
            best, best_epoch = score, epoch
            save(model, heads, data, args.cache, args.out)
            print(f"  saved (best so far)", flush=True)
        elif epoch - best_epoch >= args.patience:
            print(f"early stop: no validation gain for {args.patience} epochs", flush=True)
            break
        json.dump({"best_epoch": best_epoch, "epochs": log, "args": vars(args)}, open(f"{args.out}/train-log.json", "w"))
    json.dump({"best_epoch": best_epoch, "epochs": log, "args": vars(args)}, open(f"{args.out}/train-log.json", "w"))
    print(f"best epoch {best_epoch}: {json.dumps(best)}", flush=True)


if __name__ == "__main__":
    main()
