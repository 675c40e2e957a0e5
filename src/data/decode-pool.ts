/**
 * A small pool of decode worker threads (decode-worker.ts) used by the loader. Tasks are dispatched round-robin; each
 * worker runs its tasks concurrently (sharp's native work goes to the libuv thread pool). `close()` terminates them.
 */
import { Worker } from 'node:worker_threads';
import { UsageError } from '../util/errors.js';
import type { PrepareTask, PreparedItem } from './prepare-item.js';

type Reply = { id: number; ok: true; item: PreparedItem } | { id: number; ok: false; message: string; usage: boolean; options?: string[] };

function spawn(concurrency: number): Worker {
  // Built code runs decode-worker.js directly; from TypeScript sources (tests, tsx) the worker registers tsx first.
  const ts = import.meta.url.endsWith('.ts');
  const entry = new URL(ts ? './decode-worker.ts' : './decode-worker.js', import.meta.url);
  const workerData = { concurrency };
  if (!ts) return new Worker(entry, { workerData });
  return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`, { eval: true, workerData });
}

/** Worker pool for {@link PrepareTask}s. */
export class DecodePool {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve: (v: PreparedItem) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private turn = 0;
  private closed = false;

  /** @param concurrency tasks each worker runs at once (more are queued in the worker). */
  constructor(size: number, concurrency = 4) {
    this.workers = Array.from({ length: Math.max(1, size) }, () => {
      const w = spawn(concurrency);
      w.on('message', (r: Reply) => {
        const h = this.waiting.get(r.id);
        if (!h) return;
        this.waiting.delete(r.id);
        if (r.ok) h.resolve(r.item);
        else h.reject(r.usage ? new UsageError(r.message, { options: r.options ?? [] }) : new Error(r.message));
      });
      w.on('error', (e) => this.failAll(e));
      return w;
    });
  }

  private failAll(e: Error): void {
    for (const h of this.waiting.values()) h.reject(new Error(`decode worker failed: ${e.message}`));
    this.waiting.clear();
  }

  /** Runs one task on the next worker. */
  run(task: PrepareTask): Promise<PreparedItem> {
    if (this.closed) return Promise.reject(new Error('decode pool closed'));
    const id = this.nextId++;
    const w = this.workers[this.turn++ % this.workers.length]!;
    return new Promise<PreparedItem>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, task });
    });
  }

  /** Terminates the workers; pending tasks reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('pool closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
