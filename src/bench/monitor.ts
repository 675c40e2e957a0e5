/**
 * Resource monitor for long benchmark runs (e.g. the 1,000-image localize run): samples resident memory, the JS heap,
 * TF.js's live tensor count and bytes, and (on wasm) the size of the WebAssembly heap, and summarises the curve so a
 * benchmark can show that memory is bounded and tensors do not grow per item.
 *
 * Sample at item boundaries with {@link ResourceMonitor.sample} (timers do not fire while synchronous wasm kernels run,
 * so interval sampling alone under-samples busy phases); {@link ResourceMonitor.start} adds timer samples between.
 */
import * as tf from '@tensorflow/tfjs-core';

/** One sample. Bytes are bytes; `item` is the caller's progress counter (images done) when given. */
export interface ResourceSample {
  /** Milliseconds since the monitor was created. */
  t: number;
  /** Items done when sampled (undefined for timer samples). */
  item?: number;
  /** Resident set size of the process. */
  rss: number;
  /** V8 heap in use. */
  heapUsed: number;
  /** Memory of ArrayBuffers and other external allocations (includes the wasm heap). */
  external: number;
  /** tf.memory().numTensors */
  numTensors: number;
  /** tf.memory().numBytes */
  numBytes: number;
  /** Size of the wasm backend's WebAssembly memory (it never shrinks), when the backend is wasm. */
  wasmHeap?: number;
}

/** What {@link summarize} concludes from a run. */
export interface ResourceSummary {
  samples: number;
  /** Largest RSS seen (bytes). */
  peakRss: number;
  /** RSS at the first and last item samples (bytes). */
  firstRss: number;
  lastRss: number;
  /**
   * Least-squares slope of RSS against the item counter over the second half of the item samples, in bytes per item
   * (≈ 0 when memory is bounded after warm-up; undefined with fewer than 4 item samples).
   */
  rssSlopePerItem?: number;
  /** Live tensors at the first and last item samples, and the most seen. */
  tensorsFirst: number;
  tensorsLast: number;
  tensorsMax: number;
  /** True when the tensor count at the last item sample equals the first one. */
  tensorsFlat: boolean;
  /** Largest wasm heap seen (bytes), when on wasm. */
  peakWasmHeap?: number;
}

function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.byteLength;
}

/** Takes one sample now. */
export function takeSample(t0: number, item?: number): ResourceSample {
  const m = process.memoryUsage();
  const tm = tf.memory();
  const s: ResourceSample = { t: performance.now() - t0, rss: m.rss, heapUsed: m.heapUsed, external: m.external, numTensors: tm.numTensors, numBytes: tm.numBytes };
  if (item !== undefined) s.item = item;
  const w = wasmHeapBytes();
  if (w !== undefined) s.wasmHeap = w;
  return s;
}

/** Collects samples over a run. */
export class ResourceMonitor {
  readonly samples: ResourceSample[] = [];
  private readonly t0 = performance.now();
  private timer: NodeJS.Timeout | undefined;

  /** Also samples every `intervalMs` on a timer (unref'd, so it never keeps the process alive). */
  start(intervalMs = 250): this {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.samples.push(takeSample(this.t0)), intervalMs);
    this.timer.unref();
    return this;
  }

  /** Records a sample, tagged with the number of items done. */
  sample(item?: number): ResourceSample {
    const s = takeSample(this.t0, item);
    this.samples.push(s);
    return s;
  }

  /** Stops timer sampling and returns the summary. */
  stop(): ResourceSummary {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return summarize(this.samples);
  }
}

/** Least-squares slope of y on x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Summarises samples (item samples drive first/last/slope; all samples count for peaks). */
export function summarize(samples: readonly ResourceSample[]): ResourceSummary {
  if (samples.length === 0) throw new Error('summarize: no samples');
  const items = samples.filter((s) => s.item !== undefined).sort((a, b) => a.item! - b.item!);
  const base = items.length ? items : [...samples].sort((a, b) => a.t - b.t);
  const first = base[0]!;
  const last = base[base.length - 1]!;
  const out: ResourceSummary = {
    samples: samples.length,
    peakRss: Math.max(...samples.map((s) => s.rss)),
    firstRss: first.rss,
    lastRss: last.rss,
    tensorsFirst: first.numTensors,
    tensorsLast: last.numTensors,
    tensorsMax: Math.max(...samples.map((s) => s.numTensors)),
    tensorsFlat: first.numTensors === last.numTensors,
  };
  if (items.length >= 4) {
    const half = items.slice(Math.floor(items.length / 2));
    out.rssSlopePerItem = slope(half.map((s) => s.item!), half.map((s) => s.rss));
  }
  const w = samples.map((s) => s.wasmHeap).filter((v): v is number => v !== undefined);
  if (w.length) out.peakWasmHeap = Math.max(...w);
  return out;
}
