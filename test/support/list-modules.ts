/**
 * Child process for test/heads/server-modules.test.ts: `node list-modules.js <module path> <log file>` imports
 * the module and leaves in the log file every ES module the loader resolved, then every CommonJS module in
 * require's cache (onnx-proto is CommonJS and can be reached through createRequire, which the ESM hook misses).
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const [target, logFile] = process.argv.slice(2);
if (!target || !logFile) throw new Error('usage: list-modules.js <module path> <log file>');
register(new URL('./module-log-hook.js', import.meta.url), { data: { logFile } });
await import(pathToFileURL(target).href);
const cjs = Object.keys(createRequire(import.meta.url).cache).map((path) => pathToFileURL(path).href);
appendFileSync(logFile, cjs.map((url) => `${url}\n`).join(''));
