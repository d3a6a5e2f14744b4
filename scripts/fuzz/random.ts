import { prng } from '../evasion/transforms.js';

/**
 * A seeded source of random choices: every fuzz case is a function of (seed, case number), so any failure can
 * be replayed alone.
 *
 * @example
 * const r = Rand.for(42, 7);
 * r.pick(['a', 'b']); r.int(0, 10); r.chance(0.1);
 */
export class Rand {
  private constructor(private readonly next: () => number) {}

  /** The generator for case `i` of a run with `seed`. */
  static for(seed: number, i: number): Rand {
    return new Rand(prng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0));
  }

  float(): number {
    return this.next();
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  /** Random bytes. */
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }
  /** A short string mixing ASCII, accents, emoji, controls, zero-width characters and lone surrogates. */
  text(max = 40): string {
    const pool = [
      'a',
      'Z',
      ' ',
      '"',
      '\\',
      '\n',
      '\t',
      '\u0000',
      '\u001f',
      'é',
      '中',
      '😀',
      '\u200b',
      '\u202e',
      '\ud800',
      '\udfff',
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '<',
      '%',
      '$',
      '0',
    ];
    let s = '';
    const n = this.int(0, max);
    for (let i = 0; i < n; i++) s += this.pick(pool);
    return s;
  }
  /** Any JSON value, nested at most `depth` levels. */
  json(depth = 3): unknown {
    const k = this.int(0, depth > 0 ? 7 : 4);
    switch (k) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([0, -1, 1.5, 1e308, -0, 2 ** 53 + 1, 8, 9]);
      case 3:
        return this.text();
      case 4:
        return '';
      case 5:
        return Array.from({ length: this.int(0, 4) }, () => this.json(depth - 1));
      default:
        return Object.fromEntries(
          Array.from({ length: this.int(0, 4) }, () => [
            this.pick(['role', 'content', 'type', 'text', 'model', 'x', '__proto__', 'constructor']),
            this.json(depth - 1),
          ]),
        );
    }
  }
}
