/**
 * Anchors: every signed checkpoint is also sent somewhere the log's writer cannot rewrite, so that cutting the
 * log back, or replacing its checkpoints with re-signed ones, shows against a witness outside the directory.
 *
 * One contract, `AnchorSink.publish(checkpoint)`, with three implementations: an append-only file on another
 * path, the operational log (one structured line per checkpoint), and an HTTP endpoint. `fileAnchorReader`
 * reads the file anchor, and the operational log's lines, back for `audit verify --anchor`. Publishing is
 * retried off the request path by audit/anchor-publisher.ts.
 */
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import winston from 'winston';
import type { AnchorReader, AnchorRead } from './anchor-check.js';
import { canonicalJson } from './canonical.js';
import { parseCheckpoint } from './checkpoints.js';
import { readLines, syncDir } from './segments.js';
import type { Checkpoint } from './types.js';
import { assertVersion } from './version.js';

/** Somewhere checkpoints are sent to be witnessed. `publish` resolves once the checkpoint is durable there. */
export interface AnchorSink {
  /** Names the sink in events and in the publisher's cursor: `file:/path`, `log`, `http:https://host/path`. */
  readonly name: string;
  publish(checkpoint: Checkpoint): Promise<void>;
  /** Gives up what is in flight (the publisher calls it once it stops waiting at close). */
  close?(): void;
}

/** The message of the operational log line that carries a checkpoint (what `fileAnchorReader` looks for). */
export const ANCHOR_LOG_MESSAGE = 'audit checkpoint';

/**
 * Appends each checkpoint as one canonical JSON line (the same bytes as in `checkpoints.ndjson`) to a file on
 * another path, opened with O_APPEND and fsynced before `publish` resolves. Make the file append-only for the
 * gateway's user where the platform allows (`chattr +a`), or put it on storage the log's writers cannot reach.
 * @example await new FileAnchor('/var/lib/gateway-anchor/audit.ndjson').publish(checkpoint);
 */
export class FileAnchor implements AnchorSink {
  readonly name: string;
  readonly path: string;

  constructor(path: string) {
    this.path = resolve(path);
    this.name = `file:${this.path}`;
  }

  async publish(checkpoint: Checkpoint): Promise<void> {
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;
    const existed = await stat(this.path).then(
      (s) => s.size,
      () => null,
    );
    const fh = await open(this.path, flags, 0o644);
    try {
      // A crash mid-write leaves a torn last line: start on a fresh line so that it stays one unreadable line
      // (reported by verify) instead of corrupting this one. The witness is never truncated.
      const torn = existed !== null && existed > 0 && !(await endsWithNewline(this.path, existed));
      await fh.write(`${torn ? '\n' : ''}${canonicalJson(checkpoint)}\n`);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    if (existed === null) await syncDir(dirname(this.path));
  }
}

async function endsWithNewline(path: string, size: number): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1);
    await fh.read(buf, 0, 1, size - 1);
    return buf[0] === 0x0a;
  } finally {
    await fh.close();
  }
}

/** The part of a winston logger the log anchor uses. */
export interface AnchorLogger {
  info(message: string, meta: Record<string, unknown>): unknown;
}

/** JSON lines on stdout, like the gateway's operational log (gateway/http/logger.ts), for when none is passed. */
export function defaultAnchorLogger(): AnchorLogger {
  return winston.createLogger({
    level: 'info',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}

/**
 * Writes one structured line per checkpoint to the operational log, which is usually shipped off the host as it
 * is written: `{"message":"audit checkpoint","event":"audit.checkpoint","instance":…,"checkpoint":{…}}`.
 * @example new LogAnchor(logger, 'gw-1').publish(checkpoint);
 */
export class LogAnchor implements AnchorSink {
  readonly name = 'log';

  constructor(
    private readonly logger: AnchorLogger,
    private readonly instance: string,
  ) {}

  publish(checkpoint: Checkpoint): Promise<void> {
    this.logger.info(ANCHOR_LOG_MESSAGE, { event: 'audit.checkpoint', instance: this.instance, checkpoint });
    return Promise.resolve();
  }
}

/**
 * POSTs each checkpoint as JSON to a URL (a transparency service, a SIEM's intake, a colleague's server); any
 * 2xx answer means it is held. `timeoutMs` bounds one attempt; the publisher retries.
 * @example new HttpAnchor('https://witness.example/v1/checkpoints', { authorization: 'Bearer …' })
 */
export class HttpAnchor implements AnchorSink {
  readonly name: string;
  private readonly closing = new AbortController();

  constructor(
    private readonly url: string,
    private readonly headers: Record<string, string> = {},
    private readonly timeoutMs = 10_000,
  ) {
    const u = new URL(url);
    this.name = `http:${u.origin}${u.pathname}`; // no query string: it may hold a token
  }

  async publish(checkpoint: Checkpoint): Promise<void> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.headers },
      body: canonicalJson(checkpoint),
      signal: AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.closing.signal]),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`${this.name} answered ${res.status}`);
  }

  /** Aborts a request still waiting for its answer, so that it does not keep the process alive after close. */
  close(): void {
    this.closing.abort();
  }
}

/**
 * Reads checkpoints back from a file anchor, or from an operational log holding the log anchor's lines (other
 * lines are skipped). Throws RecordVersionError for a checkpoint of a format version this code does not read.
 * @example const report = await verifyLog({ dir, publicKeys, anchor: fileAnchorReader('/mnt/witness/audit.ndjson') });
 */
export function fileAnchorReader(path: string): AnchorReader {
  const full = resolve(path);
  return {
    name: full,
    async read(): Promise<AnchorRead> {
      const out: AnchorRead = { source: full, entries: [], skipped: 0 };
      let n = 0;
      for await (const line of readLines(full)) {
        n++;
        const cp = line.terminated ? anchoredCheckpoint(line.text) : null;
        if (!cp) {
          out.skipped++;
          continue;
        }
        assertVersion(cp, `${full}:${n}`);
        out.entries.push({ checkpoint: cp, at: `${full}:${n}` });
      }
      return out;
    },
  };
}

/** A checkpoint line, or an operational log line carrying one; null for anything else. */
function anchoredCheckpoint(text: string): Checkpoint | null {
  const direct = parseCheckpoint(text);
  if (typeof direct !== 'string') return direct;
  try {
    const v = JSON.parse(text) as { event?: unknown; checkpoint?: unknown };
    if (v.event !== 'audit.checkpoint' || typeof v.checkpoint !== 'object') return null;
    const cp = parseCheckpoint(JSON.stringify(v.checkpoint));
    return typeof cp === 'string' ? null : cp;
  } catch {
    return null;
  }
}
