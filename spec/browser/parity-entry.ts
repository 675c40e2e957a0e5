// Browser entry of the parity specs (bundled by spec/helpers/bundle.ts, served on 127.0.0.1, driven by puppeteer):
// registers TF.js's GPU backends and exposes `uolParity` to the page. The program itself is parity-program.ts.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { runParity, toWire, type ParityPayload, type WireArray } from './parity-program.js';

interface GpuLike {
  requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; description?: string } } | null>;
}

/** What the page offers the spec. */
export interface ParityPage {
  /** The GPU backends this browser can start, and what it runs them on. */
  probe(): Promise<{ webgl: string | null; webgpu: string | null; webgpuWhyNot?: string }>;
  /** Runs the program on `backend` with the payload at `url`; arrays come back as base64. */
  run(backend: string, url: string): Promise<unknown>;
}

/**
 * Wraps every kernel registered for `backend` to record, per stage, which kernels ran and which of them read tensor
 * data back to the CPU while running (a kernel computed on the CPU inside a GPU backend). Test-only instrumentation.
 */
function traceKernels(backend: string): { stage(name: string): void; ran: Record<string, string[]>; downloads: Record<string, string[]> } {
  let stage = 'setup';
  let current: string | undefined;
  const ran: Record<string, Set<string>> = {};
  const downloads: Record<string, Set<string>> = {};
  const note = (m: Record<string, Set<string>>, k: string): void => void (m[stage] ??= new Set()).add(k);
  for (const k of tf.getKernelsForBackend(backend)) {
    const orig = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        note(ran, k.kernelName);
        const prev = current;
        current = k.kernelName;
        try {
          return orig(args);
        } finally {
          current = prev;
        }
      },
    });
  }
  const be = tf.backend() as unknown as { readSync(id: object): unknown; read(id: object): Promise<unknown> };
  const readSync = be.readSync.bind(be);
  const read = be.read.bind(be);
  be.readSync = (id) => {
    if (current) note(downloads, current);
    return readSync(id);
  };
  be.read = (id) => {
    if (current) note(downloads, current);
    return read(id);
  };
  const out = (m: Record<string, Set<string>>): Record<string, string[]> => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, [...v].sort()]));
  return {
    stage: (name) => void (stage = name),
    get ran() {
      return out(ran);
    },
    get downloads() {
      return out(downloads);
    },
  };
}

const page: ParityPage = {
  async probe() {
    const g = globalThis as unknown as { navigator?: { gpu?: GpuLike }; document: { createElement(t: string): { getContext(k: string): unknown } } };
    const gl = g.document.createElement('canvas').getContext('webgl2') as { getExtension(n: string): { UNMASKED_RENDERER_WEBGL: number } | null; getParameter(p: number): string; RENDERER: number } | null;
    let webgl: string | null = null;
    if (gl) {
      const dbg = gl.getExtension('WEBGL_debug_renderer_info');
      webgl = gl.getParameter(dbg ? dbg.UNMASKED_RENDERER_WEBGL : gl.RENDERER);
    }
    let webgpu: string | null = null;
    let webgpuWhyNot: string | undefined;
    if (!g.navigator?.gpu) webgpuWhyNot = 'navigator.gpu is undefined (WebGPU disabled in this browser)';
    else {
      const a = await g.navigator.gpu.requestAdapter().catch((e: unknown) => {
        webgpuWhyNot = `requestAdapter() threw: ${String(e)}`;
        return null;
      });
      if (a) webgpu = [a.info?.vendor, a.info?.architecture, a.info?.description].filter(Boolean).join(' ') || 'adapter';
      else webgpuWhyNot ??= 'requestAdapter() returned null';
    }
    return webgpuWhyNot ? { webgl, webgpu, webgpuWhyNot } : { webgl, webgpu };
  },

  async run(backend, url) {
    // Small tensors must not be computed on the CPU behind our back: both GPU backends forward small ops to their CPU
    // kernels by default; off, every op of the program runs on the GPU backend.
    tf.env().set('WEBGL_CPU_FORWARD', false);
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    tf.env().set('WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD', 0);
    if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} did not start`);
    await tf.ready();
    const payload = (await (await fetch(url)).json()) as ParityPayload;
    const before = tf.memory().numTensors;
    const trace = traceKernels(backend);
    const r = await runParity(payload, (stage) => {
      console.log(`parity: ${backend}: ${stage}`);
      trace.stage(stage);
    });
    const leaked = tf.memory().numTensors - before;
    const wire = (a: Float32Array, shape: number[]): WireArray => toWire(shape, a);
    const flags: Record<string, unknown> = {};
    for (const f of backend === 'webgl' ? ['WEBGL_VERSION', 'WEBGL_RENDER_FLOAT32_ENABLED', 'WEBGL_PACK', 'WEBGL_CPU_FORWARD'] : ['WEBGPU_CPU_FORWARD', 'WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD']) {
      try {
        flags[f] = tf.env().get(f);
      } catch {
        // flag not registered on this backend
      }
    }
    return {
      ...r,
      features: Object.fromEntries(Object.entries(r.features).map(([k, v]) => [k, wire(v.data, v.shape)])),
      wClosed: wire(r.wClosed, [r.wClosed.length]),
      wOptimized: wire(r.wOptimized, [r.wOptimized.length]),
      maps: wire(r.maps.data, r.maps.shape),
      leaked,
      flags,
      kernels: trace.ran,
      cpuKernels: trace.downloads,
    };
  },
};

(globalThis as unknown as { uolParity: ParityPage }).uolParity = page;
