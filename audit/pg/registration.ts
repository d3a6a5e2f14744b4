/**
 * A chain's registration: one signed row in `audit_chains`, written when a replica first starts its chain. A
 * chain that verify finds without a registration signed by a trusted key was made up in SQL.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../canonical.js';
import type { SigningKey } from '../keys.js';
import { RECORD_VERSION } from '../types.js';

export interface ChainRegistration {
  v: 1;
  chain: string;
  instance: string;
  time: string;
  key_fingerprint: string;
  signature: string;
}

type Body = Omit<ChainRegistration, 'signature'>;

const signedBytes = ({ v, chain, instance, time, key_fingerprint }: Body): Buffer =>
  Buffer.from(canonicalJson({ v, chain, instance, time, key_fingerprint }));

/** @example const line = canonicalJson(signRegistration('gw-1', 'gw-1', key)); */
export function signRegistration(chain: string, instance: string, key: SigningKey): ChainRegistration {
  const body: Body = {
    v: RECORD_VERSION,
    chain,
    instance,
    time: new Date().toISOString(),
    key_fingerprint: key.fingerprint,
  };
  return { ...body, signature: sign(null, signedBytes(body), key.privateKey).toString('base64') };
}

/** Why the registration line does not hold for `chain`, or null when it does. */
export function registrationProblem(
  line: string | undefined,
  chain: string,
  fingerprints: Map<string, KeyObject>,
): string | null {
  if (line === undefined) return `chain ${JSON.stringify(chain)} has no registration in audit_chains`;
  let reg: ChainRegistration;
  try {
    reg = JSON.parse(line) as ChainRegistration;
  } catch {
    return 'the registration is not JSON';
  }
  if (reg.chain !== chain) return `the registration names chain ${JSON.stringify(reg.chain)}`;
  const key = fingerprints.get(reg.key_fingerprint);
  if (!key) return `the registration is signed by unknown key ${reg.key_fingerprint}`;
  try {
    if (verify(null, signedBytes(reg), key, Buffer.from(reg.signature, 'base64'))) return null;
  } catch {
    // a malformed signature
  }
  return 'the registration signature does not verify';
}
