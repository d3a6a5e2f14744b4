/**
 * The leak probes of bench:stream: secrets and PII the default pack redacts in answers, each streamed by the stub
 * (stream-stub.ts) in deltas of a few characters between ordinary words, for bench:stream to look for in what the
 * client got.
 */
export const PROBE_SECRETS = [
  'sk-proj-abcdefghijklmnopqrstuvwxyz012345',
  '4111 1111 1111 1111',
  'GB82 WEST 1234 5698 7654 32',
  '123-45-6789',
  'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
];
const SIZES = [1, 2, 3, 5, 8];
/** Every secret in deltas of every size. */
export const PROBE_COUNT = PROBE_SECRETS.length * SIZES.length;

/** Probe n: secret n % 5 in deltas of SIZES[n / 5] characters, after a few words and before a few more. */
export function probePieces(n: number, words: string[]): { secret: string; pieces: string[] } {
  const secret = PROBE_SECRETS[n % PROBE_SECRETS.length] ?? '';
  const size = SIZES[Math.floor(n / PROBE_SECRETS.length) % SIZES.length] ?? 1;
  const cut = Array.from({ length: Math.ceil(secret.length / size) }, (_, i) => secret.slice(i * size, (i + 1) * size));
  return { secret, pieces: [...words.slice(0, 4), 'key ', ...cut, ' ok ', ...words.slice(4, 8)] };
}

/** Whether any part of `secret` (8 characters of it, or all of a shorter one) reached the client in `text`. */
export function leaked(secret: string, text: string): boolean {
  const n = Math.min(8, secret.length);
  for (let i = 0; i + n <= secret.length; i++) if (text.includes(secret.slice(i, i + n))) return true;
  return false;
}
