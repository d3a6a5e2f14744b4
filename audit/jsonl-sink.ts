import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditSink, DecisionRecord } from './types.js';

/**
 * The simplest sink: one JSON line per decision in `<dir>/decisions.jsonl`, written in batches (one write for
 * all records that arrive while the previous write is in flight). No hash chain and no fsync: use the chained
 * log for compliance. Kept for development and as the baseline the audit benchmark compares against.
 */
export class JsonlSink implements AuditSink {
  private fh: Promise<FileHandle>;
  private queue: { line: string; done: () => void; fail: (e: Error) => void }[] = [];
  private writing: Promise<void> | null = null;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.fh = open(join(dir, 'decisions.jsonl'), 'a', 0o640);
  }

  append(record: DecisionRecord): Promise<void> {
    return new Promise((done, fail) => {
      this.queue.push({ line: `${JSON.stringify(record)}\n`, done, fail });
      this.writing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      try {
        await (await this.fh).write(batch.map((b) => b.line).join(''));
        for (const b of batch) b.done();
      } catch (e) {
        for (const b of batch) b.fail(e as Error);
      }
    }
    this.writing = null;
  }

  async close(): Promise<void> {
    await this.writing;
    await (await this.fh).close();
  }
}
