/** Trained heads over the local sentence encoder, and the `onnx` classifier type that runs them. See classifiers/models/MODEL_CARD.md. */
export { OnnxHeadsClassifier, OnnxParamsSchema, onnxClassifierType } from './classifier.js';
export type { OnnxParams } from './classifier.js';
export { HEAD_NAMES, MANIFEST_FORMAT, ManifestSchema, loadModel, modelDir, modelsRoot } from './model.js';
export type { HeadName, LoadedModel, Manifest } from './model.js';
export { exportHead, readHead } from './onnx-head.js';
export { logits, pairFeatures, probabilities, sigmoid } from './linear.js';
export type { LinearHead, Platt } from './linear.js';
export { trainLogistic, rng } from './train.js';
export type { TrainOptions, TrainSet } from './train.js';
export { chooseThreshold, fitPlatt } from './calibrate.js';
export { averagePrecision, countsAt, rocAuc } from './metrics.js';
export type { Counts } from './metrics.js';
export { EncoderLease, SHARED_ENCODER, acquireEncoder, releaseEncoder } from './shared-encoder.js';
export type { EncoderSource } from './shared-encoder.js';
