import { canonicalJson, sha256Hex } from '../audit/canonical.js';

export { canonicalJson };

/** A policy's revision: the sha256 of its canonical JSON (keys sorted at every level). */
export const revisionOf = (doc: unknown) => sha256Hex(canonicalJson(doc));
