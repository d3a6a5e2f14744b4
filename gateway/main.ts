import { ConfigError, loadConfig } from './config.js';
import { PolicyError, DEFAULT_POLICY_PATH } from '../policies/load.js';
import { parseCli, reportCliError } from '../cli/args.js';
import { createLogger } from './http/logger.js';
import { writePidFile, type PidFile } from './pid-file.js';
import { startGateway } from './server.js';
import { openConfiguredGenerator } from '../generator/local/open.js';
import { LocalModelError } from '../generator/local/runtime.js';

const USAGE = `usage: npm start [-- --config gateway.json]

  Serves the gateway until SIGINT or SIGTERM; SIGHUP reloads the policy:
    kill -HUP "$(cat .data/gateway.pid)"
  --config FILE  a JSON configuration file (default: $GATEWAY_CONFIG); environment variables override it
  The process id goes to .data/gateway.pid (pidFile, $GATEWAY_PID_FILE; off: no file), removed on exit.
  exit codes: 0 stopped, 1 failed to start, 2 invalid configuration or policy`;

/** `npm start [-- --config gateway.json]`: serve until SIGINT or SIGTERM. */
async function main(): Promise<void> {
  const { values } = parseCli(process.argv.slice(2), { config: { type: 'string' } });
  const config = loadConfig({ file: values.config ?? process.env.GATEWAY_CONFIG, env: process.env });
  const logger = createLogger(config.log.level);
  // Loading classifiers can take seconds (the default pack's encoder); say so rather than stay silent.
  const started = performance.now();
  logger.info('loading the policy and its classifiers', { policy: config.policy ?? DEFAULT_POLICY_PATH });
  // A local model loads before the server listens, so /readyz is never ready without it (generator/README.md).
  const generator = await openConfiguredGenerator(config, logger);
  const gw = await startGateway(config, { logger, generator });
  logger.info('ready', {
    classifiers: gw.policies.classifiers().length,
    startup_ms: Math.round(performance.now() - started),
  });
  if (config.auth.mode === 'off') {
    logger.warn('authentication is off: every request is accepted (set GATEWAY_API_KEYS to require keys)');
  }
  // Handlers first: whoever reads the pid file may signal at once.
  let pidFile: PidFile | undefined;
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info('shutting down', { signal });
    await gw.close();
    pidFile?.remove();
    process.exit(0);
  };
  process.on('SIGHUP', () => void gw.policies.store.reload('SIGHUP'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  if (config.pidFile !== false) {
    pidFile = writePidFile(config.pidFile);
    if (pidFile.replaced !== undefined)
      logger.warn('replaced a pid file that named a running process; SIGHUP via the file now reaches this one', {
        pid_file: pidFile.path,
        previous_pid: pidFile.replaced,
      });
    logger.info('pid file written; reload the policy with kill -HUP', { pid_file: pidFile.path, pid: process.pid });
  }
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError || e instanceof PolicyError) {
    process.stderr.write(`gateway: ${e.message}\n`);
    process.exit(2);
  }
  if (e instanceof LocalModelError) {
    process.stderr.write(`gateway: ${e.message}\n`);
    process.exit(1);
  }
  process.exit(reportCliError(e, { name: 'gateway', usage: USAGE }));
});
