/** The local sentence encoder (Universal Sentence Encoder lite on onnxruntime-node). See README.md. */
export { Encoder } from './runtime.js';
export type { ChunkOptions, EncoderOptions, EncoderStats } from './runtime.js';
export { EncoderError, ENCODER_ERROR_CODES } from './errors.js';
export type { EncoderErrorCode } from './errors.js';
export { ensureEncoderModel, BUILDER_VERSION, DEFAULT_CACHE_DIR } from './build.js';
export type { EncoderArtifact, EnsureEncoderOptions } from './build.js';
export { Tokenizer } from './tokenizer.js';
export { loadVocabulary } from './weights.js';
export { EMBEDDING_DIM } from './model-io.js';
export { DEFAULT_PRECISION, PRECISIONS, QUANTIZER_VERSION, modelAtPrecision } from './precision.js';
export type { Precision } from './precision.js';
