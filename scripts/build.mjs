// Builds dist/ from the TypeScript sources, incrementally. Plain JavaScript because it must run before any build.
//
//   node scripts/build.mjs             build now (npm run build, npm test, and `prepare` at npm ci)
//   node scripts/build.mjs --if-stale  build only when a source is newer than the last build (npm start, the CLIs)
//
// A no-op `tsc --incremental` still costs 3-4 s here (it re-reads every file), while comparing modification
// times costs a few milliseconds, so the commands a newcomer runs check times first and pay for tsc only
// after an edit.
/* global process */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Written by tsc at each build; its time is the time of the last successful build. */
const stamp = join(root, 'dist', '.tsbuildinfo');
/** The folders tsconfig.json includes, plus the files that change what tsc emits. */
const SOURCE_DIRS = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')).include;
const CONFIG_FILES = ['tsconfig.json', 'package.json'];

/** The newest modification time of any .ts file (any file, with `all`) under `dir`, walked without following links. */
function newestTs(dir, all = false) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestTs(path, all));
    else if (entry.isFile() && (all || entry.name.endsWith('.ts'))) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** The browser console's sources (console/) and where they are bundled (dist/console, served at /console). */
const CONSOLE_SRC = join(root, 'console');
const CONSOLE_OUT = join(root, 'dist', 'console');

/**
 * Bundles the console with esbuild: one script and one stylesheet (no inline code, for its CSP), and the page.
 * Without esbuild (`npm ci --omit=dev`) the gateway answers /console with how to build it.
 */
async function bundleConsole() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    process.stderr.write('build: esbuild is not installed, so the console (dist/console) was not bundled\n');
    return;
  }
  mkdirSync(CONSOLE_OUT, { recursive: true });
  await esbuild.build({
    entryPoints: [
      { in: join(CONSOLE_SRC, 'src', 'main.ts'), out: 'app' },
      { in: join(CONSOLE_SRC, 'src', 'app.css'), out: 'app' },
    ],
    outdir: CONSOLE_OUT,
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    legalComments: 'none',
    logLevel: 'warning',
  });
  copyFileSync(join(CONSOLE_SRC, 'index.html'), join(CONSOLE_OUT, 'index.html'));
}

const consoleStale = () =>
  existsSync(CONSOLE_SRC) &&
  (!existsSync(join(CONSOLE_OUT, 'app.js')) ||
    newestTs(CONSOLE_SRC, true) > statSync(join(CONSOLE_OUT, 'app.js')).mtimeMs);

function isStale() {
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  const newest = Math.max(
    ...SOURCE_DIRS.map((d) => (existsSync(join(root, d)) ? newestTs(join(root, d)) : 0)),
    ...CONFIG_FILES.map((f) => (existsSync(join(root, f)) ? statSync(join(root, f)).mtimeMs : 0)),
  );
  return newest > built;
}

function build() {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    // `npm ci --omit=dev` runs `prepare` without TypeScript: such an install must bring its own dist/.
    process.stderr.write('build: typescript is not installed (npm ci --omit=dev?), so dist/ was not built\n');
    process.exit(process.env.npm_lifecycle_event === 'prepare' ? 0 : 1);
  }
  const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', stamp], {
    cwd: root,
    stdio: 'inherit',
  });
  if (run.status !== 0) {
    process.stderr.write('build: tsc failed; fix the errors above, then run the command again\n');
    process.exit(run.status ?? 1);
  }
  // tsc leaves its build info untouched when nothing needed emitting; touch it so the next check is cheap.
  const now = new Date();
  utimesSync(stamp, now, now);
}

if (!process.argv.includes('--if-stale')) {
  build();
  await bundleConsole();
} else {
  if (isStale()) {
    process.stderr.write('build: sources changed since the last build; rebuilding dist/ (tsc --incremental)\n');
    build();
  }
  if (consoleStale()) await bundleConsole();
}
