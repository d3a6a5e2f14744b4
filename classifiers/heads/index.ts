/**
 * Trained heads over the local sentence encoder, and the `onnx` classifier type that runs them: the serving side
 * only (reading a trained head and scoring with it). Training and writing heads import their own files
 * (train.ts, calibrate.ts, metrics.ts, export-head.ts) so the server never loads them or the ONNX graph builder;
 * test/heads/server-modules.test.ts holds that line. See classifiers/models/MODEL_CARD.md.
 */
export { OnnxHeadsClassifier, OnnxParamsSchema, onnxClassifierType } from './classifier.js';
export type { OnnxParams } from './classifier.js';
export { HEAD_NAMES, MANIFEST_FORMAT, ManifestSchema, headOf, loadModel, modelDir, modelsRoot } from './model.js';
export type { HeadName, LoadedHead, LoadedModel, Manifest } from './model.js';
export { readHead } from './read-head.js';
export { logits, pairFeatures, probabilities, sigmoid } from './linear.js';
export type { LinearHead, Platt } from './linear.js';
export { EncoderLease, SHARED_ENCODER, acquireEncoder, releaseEncoder } from './shared-encoder.js';
export type { EncoderSource } from './shared-encoder.js';
