import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** One command of a shell block: its lines (continuations joined by the shell) and what the README says it prints. */
export interface ShellStep {
  /** 1-based line in the README where the command starts. */
  line: number;
  command: string;
  /** `# x-gateway-…: value` comment lines right after the command, e.g. `{ 'x-gateway-decision': 'refuse' }`. */
  expectedHeaders: Record<string, string>;
}

/** A fenced `sh` / `bash` / `shell` block of a README. */
export interface ShellBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  steps: ShellStep[];
  /** Set when the line above the fence is `<!-- not run: <reason> -->`. */
  notRun?: string;
}

const SHELL_FENCE = /^```(?:sh|bash|shell)\s*$/;
/** A closing fence has no info string, so ```sh inside a ```json block is text. */
const CLOSING_FENCE = /^```\s*$/;
const NOT_RUN = /^<!--\s*not run:\s*(.+?)\s*-->\s*$/;
const HEADER_COMMENT = /^#\s*(x-gateway-[a-z-]+):\s*(\S+)\s*$/i;

/**
 * The shell blocks of one README, each split into commands. A value shown as `dec_…` (elided) is not an
 * expectation; an exact one such as `refuse` is.
 *
 * @example
 * shellBlocks('README.md', '```sh\ncurl -si http://x \\\n  -d "{}"\n# x-gateway-decision: allow\n```\n');
 * // [{ file: 'README.md', line: 1, steps: [{ line: 2, command: 'curl -si http://x \\\n  -d "{}"', expectedHeaders: { 'x-gateway-decision': 'allow' } }] }]
 */
export function shellBlocks(file: string, text: string): ShellBlock[] {
  const lines = text.split('\n');
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = lines[i];
    if (fence.startsWith('```') && !SHELL_FENCE.test(fence)) {
      // Skip any other fenced block whole, so a ```sh inside it is not read as a fence.
      while (++i < lines.length && !CLOSING_FENCE.test(lines[i]));
      continue;
    }
    if (!SHELL_FENCE.test(fence)) continue;
    const notRun = i > 0 ? NOT_RUN.exec(lines[i - 1])?.[1] : undefined;
    const start = i;
    const body: { n: number; text: string }[] = [];
    while (++i < lines.length && !CLOSING_FENCE.test(lines[i])) body.push({ n: i + 1, text: lines[i] });
    blocks.push({ file, line: start + 1, steps: stepsOf(body), ...(notRun ? { notRun } : {}) });
  }
  return blocks;
}

function stepsOf(body: { n: number; text: string }[]): ShellStep[] {
  const steps: ShellStep[] = [];
  for (let k = 0; k < body.length; k++) {
    const { n, text } = body[k];
    const trimmed = text.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      const header = HEADER_COMMENT.exec(trimmed);
      const last = steps.at(-1);
      if (header && last && !header[2].includes('…')) last.expectedHeaders[header[1].toLowerCase()] = header[2];
      continue;
    }
    const parts = [text];
    while (parts[parts.length - 1].trimEnd().endsWith('\\') && k + 1 < body.length) parts.push(body[++k].text);
    steps.push({ line: n, command: parts.join('\n'), expectedHeaders: {} });
  }
  return steps;
}

/**
 * Every README.md under `root` (node_modules, dist, .git and other dot folders left out), as paths relative
 * to `root`, top-level first.
 */
export function readmeFiles(root: string, dir = root): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules' || entry.name === 'dist') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...readmeFiles(root, path));
    else if (entry.name === 'README.md') found.push(relative(root, path));
  }
  return found.sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
}

/** The shell blocks of every README under `root`. */
export const allShellBlocks = (root: string): ShellBlock[] =>
  readmeFiles(root).flatMap((f) => shellBlocks(f, readFileSync(join(root, f), 'utf8')));
