/**
 * The encoder model's interface: input and output names and the embedding width. The builder
 * (use-lite-graph.ts) writes them and the session reads them; they live apart so that serving never loads
 * the builder or onnx-proto.
 */
export const EMBEDDING_DIM = 512;
export const INPUT_IDS = 'input_ids';
export const ATTENTION_MASK = 'attention_mask';
export const OUTPUT = 'embeddings';
