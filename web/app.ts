// The uol-rps web app: load a backbone folder (the embedded MobileNetV2 by default) and optionally a predictor, drop
// images, fit w* in the browser or use the predictor, see heatmaps and boxes with a τ slider, download boxes.json /
// coco.json / the predictor in the CLI's formats. Everything runs in the page (TF.js: WebGPU → WebGL → wasm → cpu);
// no image leaves the machine. Built by tools/build-web.mjs; the library's front door (src/api/localizer.ts) does the
// work.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createLocalizer, type Localizer, type LocalizeResult } from '../src/api/localizer.js';
import type { RGBImage } from '../src/data/image-io.js';
import { decodePredictor } from '../src/rps/predictor.js';
import type { ProgressEvent } from '../src/util/progress.js';
import { loadBackboneFolder, type ReadFile } from './backbone.js';

/** Backends in the order the page tries them. */
const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
/** Image extensions the page accepts from a dropped folder (as the CLI's listing: decodable by the browser). */
const IMAGE_EXT = /\.(jpe?g|png|gif|webp|bmp|tiff?)$/i;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

interface PageImage {
  id: string;
  file: File;
  /** Decoded original pixels (RGB). */
  rgb?: RGBImage;
  bitmap?: ImageBitmap;
}

/** Page state, exposed as `window.uolApp` for the specs and the curious. */
const state = {
  backend: '',
  backboneName: '',
  localizer: undefined as Localizer | undefined,
  images: [] as PageImage[],
  results: [] as LocalizeResult[],
  /** τ of the slider. */
  tau: 0.5,
  busy: false,
  error: '',
  /** Milliseconds per image of the last localize (backbone + map + boxes, decode excluded). */
  msPerImage: 0,
};

function setStatus(msg: string, isError = false): void {
  const el = $('status');
  el.textContent = msg;
  el.className = isError ? 'error' : '';
  if (isError) state.error = msg;
}

function progress(e: ProgressEvent): void {
  const bar = $<HTMLProgressElement>('progress');
  if (e.total) {
    bar.max = e.total;
    bar.value = e.done;
  } else bar.removeAttribute('value');
  $('progress-text').textContent = `${e.stage} ${e.done}${e.total ? `/${e.total}` : ''}${e.detail ? ` — ${e.detail}` : ''}`;
}

/** Picks the first backend that starts: WebGPU → WebGL → wasm → cpu (or the one named by `?backend=`). */
async function pickBackend(): Promise<string> {
  setWasmPaths(new URL('./', location.href).href);
  const asked = new URLSearchParams(location.search).get('backend');
  const order = asked ? [asked] : [...BACKENDS];
  const tried: string[] = [];
  for (const b of order) {
    try {
      if (await tf.setBackend(b)) {
        await tf.ready();
        // A context that starts but cannot hold an input image is no backend (software WebGPU adapters can have
        // limits below one 224² float image): check with one op on one, read back.
        const probe = tf.tidy(() => tf.add(tf.ones([1, 224, 224, 3]), 1));
        const v = await probe.data();
        probe.dispose();
        if (v[0] !== 2) throw new Error('a test op gives wrong values');
        tf.enableProdMode();
        return tried.length ? `${b} (${tried.join('; ')})` : b;
      }
      tried.push(`${b}: unavailable`);
    } catch (e) {
      tried.push(`${b}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no TF.js backend starts: ${tried.join('; ')}`);
}

/** Decodes a file to RGB bytes at its stored size: EXIF orientation and ICC profiles ignored, as the CLI (PIL) does. */
async function decode(file: Blob): Promise<{ rgb: RGBImage; bitmap: ImageBitmap }> {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'none', colorSpaceConversion: 'none', premultiplyAlpha: 'none' } as ImageBitmapOptions);
  const c = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const n = bitmap.width * bitmap.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[3 * i] = rgba[4 * i]!;
    data[3 * i + 1] = rgba[4 * i + 1]!;
    data[3 * i + 2] = rgba[4 * i + 2]!;
  }
  return { rgb: { width: bitmap.width, height: bitmap.height, data }, bitmap };
}

/** Loads a backbone: the embedded one over HTTP, or a folder the user picked. */
async function loadBackbone(read: ReadFile, name: string): Promise<void> {
  state.busy = true;
  setStatus(`loading backbone ${name}…`);
  try {
    const old = state.localizer;
    const { backbone, verified } = await loadBackboneFolder(read, name);
    const predictor = old?.predictor && old.predictor.backbone.id === backbone.identity.id ? old.predictor : undefined;
    old?.dispose();
    state.localizer = await createLocalizer({ backbone, ownBackbone: true, ...(predictor ? { predictor } : {}), onProgress: progress });
    state.backboneName = backbone.identity.id;
    state.results = [];
    $('backbone-name').textContent = `${backbone.identity.id} (${backbone.identity.arch}, ${backbone.identity.channels} channels, stride ${backbone.identity.stride}${verified ? ', weights sha256 verified' : ''})`;
    setStatus(`backbone ${backbone.identity.id} ready`);
  } finally {
    state.busy = false;
    render();
  }
}

function readFromUrl(base: string): ReadFile {
  return async (name) => {
    const r = await fetch(new URL(name, base));
    if (r.status === 404) return undefined;
    if (!r.ok) throw new Error(`${name}: HTTP ${r.status}`);
    return r.arrayBuffer();
  };
}

function readFromFiles(files: File[]): { read: ReadFile; name: string } {
  // Folder pickers give paths "folder/model.json": key files by their path below the chosen folder.
  const byName = new Map<string, File>();
  let name = 'model';
  for (const f of files) {
    const rel = f.webkitRelativePath || f.name;
    const parts = rel.split('/');
    if (parts.length > 1) name = parts[0]!;
    byName.set(parts.length > 1 ? parts.slice(1).join('/') : rel, f);
  }
  return { read: async (n) => byName.get(n)?.arrayBuffer(), name };
}

/** Image id as the CLI gives it: the path below the dropped folder, or the file name. */
function imageId(f: File): string {
  const rel = f.webkitRelativePath;
  return rel ? rel.split('/').slice(1).join('/') : f.name;
}

function setImages(files: File[]): void {
  for (const im of state.images) im.bitmap?.close();
  const imgs = files.filter((f) => IMAGE_EXT.test(f.name)).map((file) => ({ id: imageId(file), file }));
  imgs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  state.images = imgs;
  state.results = [];
  $('cards').replaceChildren();
  setStatus(`${imgs.length} images`);
  render();
}

async function decodedImages(): Promise<{ id: string; image: RGBImage }[]> {
  const out: { id: string; image: RGBImage }[] = [];
  for (let i = 0; i < state.images.length; i++) {
    const im = state.images[i]!;
    if (!im.rgb) {
      progress({ stage: 'decode', done: i, total: state.images.length, unit: 'img', detail: im.id });
      const d = await decode(im.file);
      im.rgb = d.rgb;
      im.bitmap = d.bitmap;
    }
    out.push({ id: im.id, image: im.rgb });
  }
  return out;
}

async function run(what: string, f: () => Promise<void>): Promise<void> {
  if (state.busy) return;
  state.busy = true;
  render();
  try {
    await f();
  } catch (e) {
    setStatus(`${what}: ${(e as Error).message}`, true);
  } finally {
    state.busy = false;
    render();
  }
}

async function fit(): Promise<void> {
  await run('fit', async () => {
    const loc = state.localizer!;
    const method = $<HTMLSelectElement>('fit-method').value as 'closed-form' | 'optimize';
    const images = await decodedImages();
    const t0 = performance.now();
    const r = await loc.fit(images, method === 'optimize' ? { method, topK: 8 } : { method });
    setStatus(`fitted w* (${method}) on ${r.images} images in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    $('predictor-name').textContent = `fitted here (${method}, ${r.images} images)`;
    state.tau = loc.threshold.value;
  });
}

async function localize(): Promise<void> {
  await run('localize', async () => {
    const loc = state.localizer!;
    const images = await decodedImages();
    state.results = [];
    $('cards').replaceChildren();
    render();
    const t0 = performance.now();
    state.results = await loc.localize(images, { threshold: state.tau, onResult: (r) => addCard(r) });
    state.msPerImage = (performance.now() - t0) / Math.max(1, images.length);
    setStatus(`localized ${state.results.length} images at τ = ${state.tau.toFixed(2)} (${state.msPerImage.toFixed(0)} ms per image on ${tf.getBackend()})`);
  });
}

/** Recomputes every box at the slider's τ from the maps already computed (no backbone pass). */
function rethreshold(): void {
  const loc = state.localizer;
  if (!loc) return;
  state.results = state.results.map((r) => loc.boxesAt(r, state.tau));
  $('cards').replaceChildren();
  for (const r of state.results) addCard(r);
}

const TURBO: [number, number, number][] = [
  [48, 18, 59],
  [70, 107, 227],
  [41, 187, 236],
  [49, 242, 153],
  [164, 252, 60],
  [237, 208, 58],
  [251, 128, 34],
  [208, 47, 5],
  [122, 4, 3],
];

function heat(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, v)) * (TURBO.length - 1);
  const i = Math.min(TURBO.length - 2, Math.floor(x));
  const t = x - i;
  const a = TURBO[i]!;
  const b = TURBO[i + 1]!;
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** One card: the photo, the heatmap over it, the box in red. */
function addCard(r: LocalizeResult): void {
  const im = state.images.find((x) => x.id === r.id);
  const card = document.createElement('figure');
  card.className = 'card';
  const maxSide = 260;
  const k = Math.min(1, maxSide / Math.max(r.width, r.height));
  const c = document.createElement('canvas');
  c.width = Math.round(r.width * k);
  c.height = Math.round(r.height * k);
  const ctx = c.getContext('2d')!;
  if (im?.bitmap) ctx.drawImage(im.bitmap, 0, 0, c.width, c.height);
  if (r.map) {
    const [H, W] = r.mapSize;
    const hm = new ImageData(W, H);
    for (let i = 0; i < W * H; i++) {
      const [R, G, B] = heat(r.map[i]!);
      hm.data.set([R, G, B, 120], 4 * i);
    }
    const hc = new OffscreenCanvas(W, H);
    hc.getContext('2d')!.putImageData(hm, 0, 0);
    ctx.drawImage(hc, 0, 0, c.width, c.height);
  }
  if (r.box) {
    const [x0, y0, x1, y1] = r.box.box;
    ctx.strokeStyle = '#ff1a1a';
    ctx.lineWidth = 3;
    ctx.strokeRect(x0 * k, y0 * k, (x1 - x0) * k, (y1 - y0) * k);
  }
  const cap = document.createElement('figcaption');
  cap.textContent = `${r.id} · ${r.box ? `box ${r.box.box.map((v) => Math.round(v)).join(', ')} · score ${r.box.score.toFixed(2)}` : 'no box above τ'}`;
  card.append(c, cap);
  $('cards').append(card);
}

function download(name: string, text: string, type = 'application/json'): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

function render(): void {
  const ready = !!state.localizer && !state.busy;
  const hasP = !!state.localizer?.predictor;
  $<HTMLButtonElement>('fit').disabled = !ready || state.images.length === 0;
  $<HTMLButtonElement>('localize').disabled = !ready || !hasP || state.images.length === 0;
  $<HTMLButtonElement>('dl-boxes').disabled = state.results.length === 0;
  $<HTMLButtonElement>('dl-coco').disabled = state.results.length === 0;
  $<HTMLButtonElement>('dl-predictor').disabled = !hasP;
  $<HTMLInputElement>('tau').value = String(state.tau);
  $('tau-value').textContent = state.tau.toFixed(2);
  $('image-count').textContent = `${state.images.length} images`;
  document.body.dataset.busy = String(state.busy);
}

async function main(): Promise<void> {
  try {
    state.backend = await pickBackend();
  } catch (e) {
    setStatus((e as Error).message, true);
    return;
  }
  $('backend').textContent = state.backend;
  $('backbone-folder').addEventListener('change', (ev) => {
    const files = [...((ev.target as HTMLInputElement).files ?? [])];
    const { read, name } = readFromFiles(files);
    void run('backbone', () => loadBackbone(read, name));
  });
  $('predictor-file').addEventListener('change', (ev) => {
    const f = (ev.target as HTMLInputElement).files?.[0];
    if (!f) return;
    void run('predictor', async () => {
      const p = decodePredictor(await f.text(), f.name);
      const loc = state.localizer!;
      state.localizer = await createLocalizer({ backbone: loc.backbone, ownBackbone: true, predictor: p, predictorName: f.name, onProgress: progress });
      state.tau = state.localizer.threshold.value;
      $('predictor-name').textContent = `${f.name} (${p.method.name}${p.threshold ? `, τ ${p.threshold.value} stored` : ''})`;
      setStatus(`predictor ${f.name} loaded`);
    });
  });
  for (const id of ['images-files', 'images-folder']) {
    $(id).addEventListener('change', (ev) => setImages([...((ev.target as HTMLInputElement).files ?? [])]));
  }
  const drop = $('drop');
  drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    void collectDropped(ev.dataTransfer!).then(setImages);
  });
  $('fit').addEventListener('click', () => void fit());
  $('localize').addEventListener('click', () => void localize());
  $('tau').addEventListener('input', (ev) => {
    state.tau = Number((ev.target as HTMLInputElement).value);
    $('tau-value').textContent = state.tau.toFixed(2);
    rethreshold();
  });
  $('dl-boxes').addEventListener('click', () => download('boxes.json', state.localizer!.boxesJson(state.results)));
  $('dl-coco').addEventListener('click', () => download('coco.json', state.localizer!.cocoJson(state.results)));
  $('dl-predictor').addEventListener('click', () => download('predictor.json', state.localizer!.predictorJson()));
  await run('backbone', async () => {
    const index = (await (await fetch('models/index.json')).json()) as { default: string };
    await loadBackbone(readFromUrl(new URL(`models/${index.default}/`, location.href).href), index.default);
  });
}

/** Files of a drop, folders walked (ids are paths below the dropped folder). */
async function collectDropped(dt: DataTransfer): Promise<File[]> {
  const out: File[] = [];
  const walk = async (e: FileSystemEntry, dir: string): Promise<void> => {
    if (e.isFile) {
      const f = await new Promise<File>((res, rej) => (e as FileSystemFileEntry).file(res, rej));
      // A file inside a dropped folder gets the path a folder picker would give it ("folder/sub/x.jpg").
      if (dir) Object.defineProperty(f, 'webkitRelativePath', { value: `${dir}${f.name}` });
      out.push(f);
    } else if (e.isDirectory) {
      const reader = (e as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const c of batch) await walk(c, `${dir}${e.name}/`);
      }
    }
  };
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => !!e);
  for (const e of entries) await walk(e, '');
  return out;
}

(globalThis as unknown as { uolApp: unknown }).uolApp = { state, ready: main(), tf };
