import winston from 'winston';

const SECRET_KEY = /^(authorization|api[-_]?key|apikey|key|token|secret|password|x-api-key)$/i;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/g;

/** Drops fields whose name says they hold a secret, and masks bearer tokens inside strings. */
const scrub = winston.format((info) => {
  for (const k of Object.keys(info)) {
    if (SECRET_KEY.test(k)) info[k] = '[hidden]';
    else if (typeof info[k] === 'string') info[k] = (info[k] as string).replace(BEARER, '$1[hidden]');
  }
  if (typeof info.message === 'string') info.message = info.message.replace(BEARER, '$1[hidden]');
  return info;
});

/**
 * Operational logs: JSON lines on stdout, separate from decision records, never holding keys.
 *
 * @example
 * const log = createLogger('info'); log.info('listening', { port: 8080 });
 */
export function createLogger(level: string, stream?: NodeJS.WritableStream): winston.Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(scrub(), winston.format.timestamp(), winston.format.json()),
    transports: [stream ? new winston.transports.Stream({ stream }) : new winston.transports.Console()],
  });
}
