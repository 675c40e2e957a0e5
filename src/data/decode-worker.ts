/**
 * Decode worker thread: runs {@link prepareItem} for the loader off the main thread, so that decoding keeps going
 * while the model computes (each decode takes several async steps; on the main thread each step would wait for the
 * model's synchronous compute to finish). Messages: {id, task} in; {id, ok, item} or {id, ok:false, message, usage, options} out.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isUsageError } from '../util/errors.js';
import { prepareItem, type PrepareTask } from './prepare-item.js';

function owned(a: Uint8Array): Uint8Array {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}

const port = parentPort;
const limit = Math.max(1, Number((workerData as { concurrency?: number } | undefined)?.concurrency ?? 4));
let active = 0;
const queue: { id: number; task: PrepareTask }[] = [];

function pump(): void {
  while (port && active < limit && queue.length) {
    const m = queue.shift()!;
    active++;
    run(m).finally(() => {
      active--;
      pump();
    });
  }
}

async function run(m: { id: number; task: PrepareTask }): Promise<void> {
  if (!port) return;
  await prepareItem(m.task).then(
      (item) => {
        item.image.data = owned(item.image.data);
        const transfer: ArrayBuffer[] = [item.image.data.buffer as ArrayBuffer];
        if (item.mask) {
          item.mask.data = owned(item.mask.data);
          transfer.push(item.mask.data.buffer as ArrayBuffer);
        }
        port.postMessage({ id: m.id, ok: true, item }, transfer);
      },
      (e: unknown) => port.postMessage({ id: m.id, ok: false, message: e instanceof Error ? e.message : String(e), usage: isUsageError(e), options: isUsageError(e) ? [...(e.options ?? [])] : [] }),
    );
}

port?.on('message', (m: { id: number; task: PrepareTask }) => {
  queue.push(m);
  pump();
});
