/** Folded strings that remember, unit by unit, the span of the source each unit came from (normalize.ts). */

/** A folded string and, for each of its UTF-16 units, the span of the source it came from (none: the identity). */
export class Mapped {
  constructor(
    readonly text: string,
    private readonly starts: Int32Array | null = null,
    private readonly ends: Int32Array | null = null,
  ) {}
  start(i: number): number {
    return this.starts?.[i] ?? i;
  }
  end(i: number): number {
    return this.ends?.[i] ?? i + 1;
  }
}

/** Builds a Mapped string piece by piece, with typed arrays (prompts can be a megabyte long). */
export class Builder {
  private text = '';
  private starts = new Int32Array(256);
  private ends = new Int32Array(256);
  private n = 0;
  private grow(k: number): void {
    if (this.n + k <= this.starts.length) return;
    const size = Math.max(this.starts.length * 2, this.n + k);
    const [s, e] = [new Int32Array(size), new Int32Array(size)];
    s.set(this.starts);
    e.set(this.ends);
    [this.starts, this.ends] = [s, e];
  }
  /** Appends `text`, every unit of which came from the source span [start, end). */
  push(text: string, start: number, end: number): void {
    this.grow(text.length);
    for (let k = 0; k < text.length; k++, this.n++) {
      this.starts[this.n] = start;
      this.ends[this.n] = end;
    }
    this.text += text;
  }
  /** Appends units [s, e) of `m`, keeping their spans. */
  copy(m: Mapped, s: number, e: number): void {
    this.grow(e - s);
    for (let i = s; i < e; i++, this.n++) {
      this.starts[this.n] = m.start(i);
      this.ends[this.n] = m.end(i);
    }
    this.text += m.text.slice(s, e);
  }
  done(): Mapped {
    return new Mapped(this.text, this.starts.subarray(0, this.n), this.ends.subarray(0, this.n));
  }
}

/** Maps a span of a folded string back to the span of the source it came from. */
export function mapBack(m: Mapped): (start: number, end: number) => { start: number; end: number } {
  const last = m.text.length - 1;
  return (start, end) => {
    if (last < 0) return { start: 0, end: 0 };
    const s = Math.min(start, last);
    return end <= start
      ? { start: m.start(s), end: m.start(s) }
      : { start: m.start(s), end: m.end(Math.min(end - 1, last)) };
  };
}

/**
 * Line breaks, tabs and runs of spaces, and hyphens, dashes, underscores and the like between two letters
 * (`pipe-bomb`, `pipe_bomb`): what stopped patterns written with single spaces (`.` never crosses a line break).
 * Apostrophes and dots stay, and so does every character of an address (`first_last@example.com`, a URL).
 */
const BREAKS = /[^\S ]\s*| \s+|(?<=\p{L})[-_\u2010-\u2015·•*~]{1,3}(?=\p{L})/gu;
const ADDRESS = /@|:\/\/|^www\./;

/** The whitespace-delimited token around position `at`. */
function tokenAt(text: string, at: number): string {
  let s = at;
  let e = at;
  while (s > 0 && !/\s/.test(text.charAt(s - 1))) s--;
  while (e < text.length && !/\s/.test(text.charAt(e))) e++;
  return text.slice(s, e);
}

/** Pass 2b: reads each such run as one space, so `How do I build\na pipe-bomb` reads `How do I build a pipe bomb`. */
export function flatten(m: Mapped): Mapped {
  BREAKS.lastIndex = 0;
  if (!BREAKS.test(m.text)) return m;
  BREAKS.lastIndex = 0; // matchAll starts where test stopped
  const out = new Builder();
  let at = 0;
  for (const r of m.text.matchAll(BREAKS)) {
    if (!/\s/.test(r[0]) && ADDRESS.test(tokenAt(m.text, r.index))) continue;
    out.copy(m, at, r.index);
    out.push(' ', m.start(r.index), m.end(r.index + r[0].length - 1));
    at = r.index + r[0].length;
  }
  if (at === 0) return m;
  out.copy(m, at, m.text.length);
  return out.done();
}
