/**
 * What the chain log tells its operator: a new key, a repair, a lock takeover, checkpoints, retention, anchor
 * publishing, failures. The gateway forwards these to its operational log; the default prints one line each.
 */
import type { AnchorEvent } from './anchor-publisher.js';
import type { TornLineRepair } from './recovery.js';
import type { Checkpoint } from './types.js';

/** Things an operator should hear about; the gateway forwards them to its operational log. */
export type AuditEvent =
  | { type: 'key-generated'; fingerprint: string; publicKeyFile: string; publicPem: string }
  | { type: 'key-warning'; message: string }
  | { type: 'lock-taken-over'; pid: number; hostname: string }
  | { type: 'repaired'; repair: TornLineRepair }
  | { type: 'checkpoint'; checkpoint: Checkpoint }
  | { type: 'retention'; first_seq: number; last_seq: number; segments: string[] }
  | AnchorEvent
  | { type: 'error'; error: Error };

/**
 * The default event sink, one line on stderr for what an operator must see; the gateway passes its own.
 * @example ChainLog.open({ dir, onEvent: printEvent })
 */
export function printEvent(event: AuditEvent): void {
  const say = (text: string) => process.stderr.write(`audit: ${text}\n`);
  if (event.type === 'key-generated')
    say(`generated checkpoint signing key ${event.fingerprint}; public key in ${event.publicKeyFile}`);
  else if (event.type === 'repaired')
    say(
      `truncated a torn final line in ${event.repair.segment} (${event.repair.truncated_bytes} bytes at ${event.repair.truncated_at})`,
    );
  else if (event.type === 'lock-taken-over') say(`took over a stale lock of pid ${event.pid} on ${event.hostname}`);
  else if (event.type === 'key-warning') say(event.message);
  else if (event.type === 'error') say(`error: ${event.error.message}`);
}

/**
 * Passes every anchor event on (the metrics hook), and each failed or unsent one also as an `error` event, so that
 * a listener that logs only errors (the gateway's) reports a failing anchor without knowing about anchors.
 * @example AnchorPublisher.open({ …, onEvent: anchorEventReporter(onEvent) }, checkpoints)
 */
export function anchorEventReporter(onEvent: (e: AuditEvent) => void): (e: AnchorEvent) => void {
  return (e) => {
    onEvent(e);
    if (e.outcome === 'published') return;
    const what =
      e.outcome === 'failed'
        ? `could not take the checkpoint up to seq ${e.last_seq} (attempt ${e.attempts}, retrying; ${e.pending} waiting)`
        : `still had ${e.pending} checkpoints (up to seq ${e.last_seq}) to take at close; they are sent on the next start`;
    onEvent({
      type: 'error',
      error: new Error(`audit anchor ${e.sink} ${what}${e.error ? `: ${e.error.message}` : ''}`),
    });
  };
}
