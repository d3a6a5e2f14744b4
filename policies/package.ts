import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { policyFile } from './load.js';

/**
 * A policy bundle as files, to publish it once and load it on every replica with the same loader as a bundle on
 * disk: the JSON files of the bundle's folder (`policy.json`, `bindings.json`, the policies bindings name, the
 * `*.test.json` suites) and every file reached by `extends`, keyed by their paths relative to a common folder.
 * Unpacked into a fresh folder, the layout (and so each `extends` and binding path) is what it was; the bundle's
 * revision, a hash of its content, is the same as the original's.
 *
 * Classifier model files are not packed: a policy that names a model by a relative path (rather than a shipped
 * model or an absolute path present on every replica) does not load from a package.
 */
export const BundlePackageSchema = z.strictObject({
  /** The enforced policy file, relative to the package root. */
  main: z.string().min(1),
  /** Path relative to the package root (`/`-separated, no `..`) → the file's text. */
  files: z.record(z.string().min(1), z.string()),
});
export type BundlePackage = z.infer<typeof BundlePackageSchema>;

/** The `extends` of a JSON policy text, when it has one. */
function extendsOf(text: string): string | undefined {
  try {
    const doc: unknown = JSON.parse(text);
    const ref = typeof doc === 'object' && doc !== null ? (doc as { extends?: unknown }).extends : undefined;
    return typeof ref === 'string' ? ref : undefined;
  } catch {
    return undefined;
  }
}

/** The deepest folder holding every one of `files` (absolute paths). */
function commonFolder(files: string[]): string {
  let root = dirname(files[0] ?? '.');
  while (!files.every((f) => f.startsWith(root.endsWith(sep) ? root : root + sep))) root = dirname(root);
  return root;
}

/**
 * Packs the bundle at `path` (a policy file or a folder holding `policy.json`).
 *
 * @example packBundle('policies/default') // { main: 'default/policy.json', files: { 'default/policy.json': '…', 'rules-only/policy.json': '…', … } }
 */
export function packBundle(path: string): BundlePackage {
  const main = policyFile(path);
  const folder = dirname(main);
  const texts = new Map<string, string>();
  const queue = [
    main,
    ...readdirSync(folder)
      .filter((f) => f.endsWith('.json'))
      .map((f) => join(folder, f)),
  ];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (texts.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    texts.set(file, text);
    const ref = extendsOf(text);
    if (ref) queue.push(resolve(dirname(file), ref));
  }
  const root = commonFolder([...texts.keys()]);
  const rel = (f: string) => relative(root, f).split(sep).join('/');
  return { main: rel(main), files: Object.fromEntries([...texts].map(([f, text]) => [rel(f), text])) };
}

/** A package path that stays inside the folder it is unpacked into. */
const safePath = (p: string) =>
  !p.startsWith('/') && !p.includes('\\') && !p.split('/').some((part) => part === '..' || part === '' || part === '.');

/**
 * Writes a package's files under `dir` and returns the path of its main policy file, to load with loadBundle.
 * Throws on a path that would leave `dir`.
 */
export function unpackBundle(pkg: BundlePackage, dir: string): string {
  const bad = Object.keys(pkg.files).find((p) => !safePath(p)) ?? (safePath(pkg.main) ? undefined : pkg.main);
  if (bad !== undefined) throw new Error(`a packed policy path must stay inside the package: "${bad}"`);
  if (!(pkg.main in pkg.files)) throw new Error(`the package has no file "${pkg.main}" (its main policy)`);
  for (const [p, text] of Object.entries(pkg.files)) {
    const file = join(dir, ...p.split('/'));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return join(dir, ...pkg.main.split('/'));
}
