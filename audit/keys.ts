/**
 * The Ed25519 checkpoint signing key. A configured PKCS#8 PEM file is used as is; with none configured, a key is
 * generated on first start (private half 0600, public half as SPKI PEM beside it) and reused afterwards.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { sha256Hex } from './canonical.js';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicPem: string;
  /** sha256 (hex) of the SPKI DER encoding of the public key. */
  fingerprint: string;
  /** True when this call created the key pair. */
  generated: boolean;
  /** Where the public half was written (or found), for operators to pin elsewhere. */
  publicKeyFile: string;
  /** Set when the private key file is readable by group or others. */
  warning?: string;
}

/** The public key file that goes with a private key file: `key.pem` → `key.pub.pem`. */
export function publicKeyPathFor(privateKeyFile: string): string {
  return privateKeyFile.replace(/(\.pem)?$/, '.pub.pem');
}

/**
 * sha256 (hex) of a public key's SPKI DER encoding; checkpoints name their key by it.
 * @example keyFingerprint(await loadPublicKey('audit-key.pub.pem')) // '4f4e2f…'
 */
export function keyFingerprint(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' }));
}

/**
 * Reads an SPKI PEM public key and checks that it is Ed25519.
 * @example const key = await loadPublicKey('audit-key.pub.pem');
 */
export async function loadPublicKey(file: string): Promise<KeyObject> {
  const key = createPublicKey(await readFile(file, 'utf8'));
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`${file}: expected an Ed25519 public key, got ${key.asymmetricKeyType}`);
  return key;
}

/**
 * Loads the signing key, generating it when the file does not exist yet.
 * @example const key = await loadOrCreateSigningKey('/var/lib/gateway/audit-key.pem');
 */
export async function loadOrCreateSigningKey(keyFile: string): Promise<SigningKey> {
  const publicKeyFile = publicKeyPathFor(keyFile);
  let pem: string | null = null;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (pem === null) {
    const pair = generateKeyPairSync('ed25519');
    const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    await mkdir(dirname(keyFile), { recursive: true });
    // 'wx' fails rather than overwrite a key another process created in the meantime.
    await writeFile(keyFile, privatePem, { mode: 0o600, flag: 'wx' });
    await chmod(keyFile, 0o600);
    await writeFile(publicKeyFile, publicPem, { mode: 0o644 });
    return {
      privateKey: pair.privateKey,
      publicKey: pair.publicKey,
      publicPem,
      fingerprint: keyFingerprint(pair.publicKey),
      generated: true,
      publicKeyFile,
    };
  }
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`${keyFile}: expected an Ed25519 private key, got ${privateKey.asymmetricKeyType}`);
  const publicKey = createPublicKey(privateKey);
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  try {
    await stat(publicKeyFile);
  } catch {
    await writeFile(publicKeyFile, publicPem, { mode: 0o644 });
  }
  const mode = (await stat(keyFile)).mode & 0o777;
  const warning =
    mode & 0o077 ? `${keyFile} is readable by group or others (mode ${mode.toString(8)}); use chmod 600` : undefined;
  return {
    privateKey,
    publicKey,
    publicPem,
    fingerprint: keyFingerprint(publicKey),
    generated: false,
    publicKeyFile,
    warning,
  };
}
