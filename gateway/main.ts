import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { PolicyError } from '../policies/load.js';
import { startGateway } from './server.js';

/** `npm start [-- --config gateway.json]`: serve until SIGINT or SIGTERM. */
async function main() {
  const { values } = parseArgs({ options: { config: { type: 'string' } }, allowPositionals: false });
  const config = loadConfig({ file: values.config ?? process.env.GATEWAY_CONFIG, env: process.env });
  const gw = await startGateway(config);
  if (config.auth.mode === 'off') {
    gw.logger.warn('authentication is off: every request is accepted (set GATEWAY_API_KEYS to require keys)');
  }
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) return;
    closing = true;
    gw.logger.info('shutting down', { signal });
    await gw.close();
    process.exit(0);
  };
  process.on('SIGHUP', () => void gw.policies.store.reload('SIGHUP'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((e) => {
  if (e instanceof ConfigError || e instanceof PolicyError) {
    process.stderr.write(`gateway: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`gateway: failed to start: ${e?.stack ?? e}\n`);
  process.exit(1);
});
