/**
 * Where a JSON path (`rules[2].when.threshold`, the form policy issues name) sits in a JSON text: the 1-based
 * line and column of the value, or of its nearest existing parent when the value is missing. The playground
 * pins each policy fault to its line with this. The text has already passed JSON.parse.
 */

/** `rules[2].when.threshold` → ['rules', 2, 'when', 'threshold']. */
export function pathSteps(path: string): (string | number)[] {
  const steps: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) steps.push(Number(m[2]));
    else if (m[1] !== undefined && m[1] !== '(root)') steps.push(m[1]);
  }
  return steps;
}

/** The offset of every value in `text`, keyed by its steps joined with NUL. */
function valueOffsets(text: string): Map<string, number> {
  const at = new Map<string, number>();
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (key: string, depth: number): void => {
    ws();
    at.set(key, i);
    if (depth > 200) throw new Error('too deep');
    const c = text[i];
    if (c === '"') return void str();
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      for (let n = 0; ; n++) {
        ws();
        if (text[i] === close) return void i++;
        let name = String(n);
        if (c === '{') {
          name = str();
          ws();
          i++; // ':'
        }
        value(`${key}\0${name}`, depth + 1);
        ws();
        if (text[i] === ',') i++;
      }
    }
    while (i < text.length && !/[\s,\]}]/.test(text[i] ?? '')) i++;
  };
  try {
    value('', 0);
  } catch {
    // A locator only: what was found before the problem still serves.
  }
  return at;
}

/** Line and column (1-based) of the value at `path`, or of its deepest parent present in the text. */
export function locatePath(text: string, path: string): { line: number; column: number } {
  const offsets = valueOffsets(text);
  const steps = pathSteps(path);
  let offset = 0;
  for (let n = steps.length; n >= 0; n--) {
    const key = ['', ...steps.slice(0, n).map(String)].join('\0');
    const found = offsets.get(key);
    if (found !== undefined) {
      offset = found;
      break;
    }
  }
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}
