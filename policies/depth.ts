/**
 * The path of the first object or array nested deeper than `max` levels (the outermost value is level 1),
 * walked without recursion so that a hostile document cannot overflow the stack; undefined when none is.
 * The path keeps its first four steps, enough to find the place; `(root)` when the root itself is too deep.
 * Request bodies (gateway/http/body.ts) and policy files (load.ts) are both checked with it before anything
 * recursive (JSON.stringify, zod) walks them.
 *
 * @example depthPast({ a: [[1]] }, 2) // 'a[0]'
 */
export function depthPast(doc: unknown, max: number): string | undefined {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value: doc, depth: 0, path: '' }];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const { value, depth, path } = top;
    if (value === null || typeof value !== 'object') continue;
    if (depth >= max) return path || '(root)';
    const short = depth < 4;
    // for-in rather than Object.entries: this runs on every request body, and allocates nothing per object.
    if (Array.isArray(value))
      for (let i = 0; i < value.length; i++)
        stack.push({ value: value[i] as unknown, depth: depth + 1, path: short ? `${path}[${i}]` : path });
    else
      for (const key in value)
        stack.push({
          value: (value as Record<string, unknown>)[key],
          depth: depth + 1,
          path: short ? (path ? `${path}.${key}` : key) : path,
        });
  }
  return undefined;
}
