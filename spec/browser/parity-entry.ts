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
    if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} did not start`);
    await tf.ready();
    const payload = (await (await fetch(url)).json()) as ParityPayload;
    const before = tf.memory().numTensors;
    const r = await runParity(payload, (stage) => console.log(`parity: ${backend}: ${stage}`));
    const leaked = tf.memory().numTensors - before;
    const wire = (a: Float32Array, shape: number[]): WireArray => toWire(shape, a);
    const flags: Record<string, unknown> = {};
    for (const f of ['WEBGL_VERSION', 'WEBGL_RENDER_FLOAT32_ENABLED', 'WEBGL_PACK', 'WEBGL_CPU_FORWARD', 'WEBGPU_CPU_FORWARD']) {
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
    };
  },
};

(globalThis as unknown as { uolParity: ParityPage }).uolParity = page;
