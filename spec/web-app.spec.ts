// The static web app (web/, built by tools/build-web.mjs, served by the server of `uol serve`) in headless Chromium:
//  (a) the boxes.json the page offers for download equals `uol localize` on the same photos and predictor (`uol fit`):
//      - fed the CLI's own decoded+resized pixels (224² PNGs written from sharp's output, the function `uol localize`
//        decodes with), every box and inputBox is identical and scores agree to 1e-4;
//      - fed the original JPEGs, the page decodes them to exactly sharp's pixels (sha256 of the RGB bytes) and resizes
//        with PIL's exact arithmetic: its boxes are identical to `uol localize --resizer pil`; against the CLI's default
//        resampler (libvips' linear kernel, ±12 grey levels measured) they move by a few pixels — measured and bounded
//        here (IoU ≥ 0.8, edges within 6 px of the 224² map frame);
//      - w* fitted in the page on the same pixels equals `uol fit`'s (relative L2 ≤ 1e-4);
//  (b) the bundle loads the embedded backbone and localizes one 224² image on WebGL (SwiftShader) and on wasm: time per
//      image printed, no target;
//  (c) a screenshot after localizing the sample photos (docs/web-app.png is rewritten with UOL_UPDATE_SCREENSHOTS=1).
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import puppeteer, { type Browser, type CDPSession, type Page } from 'puppeteer-core';
import sharp from 'sharp';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { serveStatic, type StaticServer } from '../src/util/static-server.js';
import { readImageResized, readImageRGB } from '../src/data/image-io.js';
import { decodePredictor } from '../src/rps/predictor.js';
import type { BoxesFile } from '../src/report/boxes-file.js';
import { createLocalizer } from '../src/api/node.js';
import { FAMILIES } from '../src/backbones/archs.js';
import { syntheticSpecFor, syntheticWeights } from '../src/backbones/synthetic.js';
import { torchToTfLayout } from '../src/backbones/node/convert.js';
import { writeConvertedModel } from '../src/weights/tfjs-format.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(import.meta.dirname, '..');

interface AppWindow {
  uolApp: { ready: Promise<void>; state: { backend: string; busy: boolean; results: unknown[]; error: string; msPerImage: number; images: { id: string; rgb?: { data: Uint8Array } }[] } };
}

const sessions = new WeakMap<Page, CDPSession>();

async function openApp(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1000 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push((e as Error).message));
  sessions.set(page, await page.createCDPSession());
  await page.goto(url);
  await page.waitForFunction(() => !!(globalThis as unknown as AppWindow).uolApp);
  await page.evaluate(() => (globalThis as unknown as AppWindow).uolApp.ready);
  const status = await page.$eval('#status', (e) => `${e.className}: ${e.textContent}`);
  expect(status, `${url}: ${errors.join('; ')}`).to.match(/^: backbone .* ready/);
  return page;
}

/** Waits until the page is idle, and fails with its error message if it shows one. */
async function idle(page: Page, timeout = 240_000): Promise<void> {
  await page.waitForFunction(() => !(globalThis as unknown as AppWindow).uolApp.state.busy, { timeout, polling: 200 });
  const err = await page.evaluate(() => (globalThis as unknown as AppWindow).uolApp.state.error);
  expect(err, 'the page reports an error').to.equal('');
}

async function upload(page: Page, selector: string, files: string[]): Promise<void> {
  const input = await page.$(selector);
  await (input as unknown as { uploadFile(...f: string[]): Promise<void> }).uploadFile(...files);
}

/** Clicks a download button and returns the file's text once the browser has written it (into a fresh folder). */
async function downloaded(page: Page, button: string, downloads: string, name: string): Promise<string> {
  const dir = mkdtempSync(path.join(downloads, 'd-'));
  await sessions.get(page)!.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dir });
  await page.click(button);
  const file = path.join(dir, name);
  for (let i = 0; i < 300; i++) {
    if (existsSync(file)) {
      const t = readFileSync(file, 'utf8');
      if (t.endsWith('\n')) return t;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} was not downloaded (folder holds: ${readdirSync(dir).join(', ') || 'nothing'})`);
}

function iou(a: number[], b: number[]): number {
  const w = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const h = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const area = (x: number[]) => (x[2]! - x[0]!) * (x[3]! - x[1]!);
  return (w * h) / (area(a) + area(b) - w * h);
}

describe('web app in headless Chromium', function () {
  this.timeout(400_000);
  let browser: Browser | undefined;
  let server: StaticServer | undefined;
  let tmp: string;
  let downloads: string;
  let predictorFile: string;
  let photos: string[];
  let pngs: string[];
  let cliPng: BoxesFile;
  let cliJpg: BoxesFile;
  let cliJpgPil: BoxesFile;
  let wasmPage: Page;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI) throw new Error(`${CHROMIUM} is missing (CI installs Debian's chromium)`);
      this.skip();
    }
    tmp = tmpDir('uol-web-');
    downloads = path.join(tmp, 'downloads');
    mkdirSync(downloads);
    const app = path.join(tmp, 'app');
    // The app as `npm run build:web` builds it, from the current sources.
    execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'tools', 'build-web.mjs'), app, '--from-src'], { cwd: ROOT, stdio: 'pipe' });
    server = await serveStatic({ root: app });
    photos = readdirSync(path.join(ROOT, 'data')).filter((f) => f.endsWith('.jpg')).sort().map((f) => path.join(ROOT, 'data', f));
    predictorFile = path.join(tmp, 'p.json');
    const fit = await runCli(['fit', '--images', path.join(ROOT, 'data', '*.jpg'), '--out', predictorFile, '--progress', 'none']);
    expect(fit.code, fit.stderr).to.equal(0);
    // The CLI's own network input of every photo (sharp decode + resize to 224², what `uol localize` feeds the backbone),
    // stored losslessly: both sides then start from identical pixels.
    const pngDir = path.join(tmp, 'png');
    mkdirSync(pngDir);
    pngs = [];
    for (const f of photos) {
      const { image } = await readImageResized(f, 224, 224, 'bilinear');
      const out = path.join(pngDir, path.basename(f).replace(/\.jpg$/, '.png'));
      await sharp(image.data, { raw: { width: 224, height: 224, channels: 3 } }).png().toFile(out);
      pngs.push(out);
    }
    for (const [src, out, extra] of [[path.join(pngDir, '*.png'), 'loc-png', []], [path.join(ROOT, 'data', '*.jpg'), 'loc-jpg', []], [path.join(ROOT, 'data', '*.jpg'), 'loc-jpg-pil', ['--resizer', 'pil']]] as const) {
      const r = await runCli(['localize', src, '--predictor', predictorFile, '--out', path.join(tmp, out), '--no-maps', '--progress', 'none', ...extra]);
      expect(r.code, r.stderr).to.equal(0);
    }
    cliPng = JSON.parse(readFileSync(path.join(tmp, 'loc-png', 'boxes.json'), 'utf8')) as BoxesFile;
    cliJpg = JSON.parse(readFileSync(path.join(tmp, 'loc-jpg', 'boxes.json'), 'utf8')) as BoxesFile;
    cliJpgPil = JSON.parse(readFileSync(path.join(tmp, 'loc-jpg-pil', 'boxes.json'), 'utf8')) as BoxesFile;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--disable-dev-shm-usage'],
    });
    wasmPage = await openApp(browser, `${server.url}?backend=wasm`);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('(a) on the CLI\'s decoded pixels, the downloaded boxes.json equals `uol localize` (identical boxes)', async () => {
    const page = wasmPage;
    expect(await page.$eval('#backend', (e) => e.textContent)).to.equal('wasm');
    await upload(page, '#predictor-file', [predictorFile]);
    await idle(page);
    await upload(page, '#images-files', pngs);
    await page.click('#localize');
    await idle(page);
    const mine = JSON.parse(await downloaded(page, '#dl-boxes', downloads, 'boxes.json')) as BoxesFile;
    for (const k of ['tool', 'backbone', 'method', 'transform', 'mapSize', 'boxConvention'] as const) expect(mine[k], k).to.deep.equal(cliPng[k]);
    expect(mine.threshold.value).to.equal(cliPng.threshold.value);
    expect(mine.images.map((e) => e.id)).to.deep.equal(cliPng.images.map((e) => e.id));
    let maxScore = 0;
    cliPng.images.forEach((c, i) => {
      const m = mine.images[i]!;
      expect([m.width, m.height, m.threshold], c.id).to.deep.equal([c.width, c.height, c.threshold]);
      expect(m.box, `${c.id} box`).to.deep.equal(c.box);
      expect(m.inputBox, `${c.id} inputBox`).to.deep.equal(c.inputBox);
      maxScore = Math.max(maxScore, Math.abs(m.score! - c.score!));
    });
    expect(maxScore).to.be.at.most(1e-4);
    const ms = await page.evaluate(() => (globalThis as unknown as AppWindow).uolApp.state.msPerImage);
    console.log(`      ${mine.images.length}/${cliPng.images.length} boxes identical to uol localize; max |Δscore| ${maxScore.toExponential(1)}; wasm (no threads): ${ms.toFixed(0)} ms per 224² image`);
  });

  it('(a) on the original JPEGs: decode identical to sharp, boxes within the resampler bound; screenshot', async () => {
    const page = wasmPage;
    await upload(page, '#images-files', photos);
    await page.click('#localize');
    await idle(page);
    const mine = JSON.parse(await downloaded(page, '#dl-boxes', downloads, 'boxes.json')) as BoxesFile;
    // Decode: the page's RGB bytes (createImageBitmap + canvas, EXIF and ICC ignored) against sharp's.
    const pageHashes = await page.evaluate(async () => {
      const out: string[] = [];
      for (const im of (globalThis as unknown as AppWindow).uolApp.state.images) {
        const d = new Uint8Array(await crypto.subtle.digest('SHA-256', im.rgb!.data as Uint8Array<ArrayBuffer>));
        out.push([...d].map((b) => b.toString(16).padStart(2, '0')).join(''));
      }
      return out;
    });
    let sameDecode = 0;
    for (let i = 0; i < photos.length; i++) if (createHash('sha256').update((await readImageRGB(photos[i]!)).data).digest('hex') === pageHashes[i]) sameDecode++;
    let minIoU = 1;
    let maxEdge = 0;
    let identical = 0;
    cliJpg.images.forEach((c, i) => {
      const m = mine.images[i]!;
      expect(m.id).to.equal(c.id);
      expect([m.width, m.height]).to.deep.equal([c.width, c.height]);
      minIoU = Math.min(minIoU, iou(m.box!, c.box!));
      maxEdge = Math.max(maxEdge, ...m.inputBox!.map((v, k) => Math.abs(v - c.inputBox![k]!)));
      if (JSON.stringify(m.inputBox) === JSON.stringify(c.inputBox)) identical++;
    });
    console.log(`      JPEGs: decode identical to sharp on ${sameDecode}/${photos.length}; boxes vs uol localize: ${identical} identical, min IoU ${minIoU.toFixed(3)}, max edge shift ${maxEdge} px (224² frame) — PIL-exact vs libvips resize`);
    expect(sameDecode).to.equal(photos.length);
    // With the same resampler on both sides (`uol localize --resizer pil`), the boxes are identical.
    let maxScorePil = 0;
    cliJpgPil.images.forEach((c, i) => {
      const m = mine.images[i]!;
      expect(m.box, `${c.id} box (--resizer pil)`).to.deep.equal(c.box);
      expect(m.inputBox, `${c.id} inputBox (--resizer pil)`).to.deep.equal(c.inputBox);
      maxScorePil = Math.max(maxScorePil, Math.abs(m.score! - c.score!));
    });
    expect(maxScorePil).to.be.at.most(1e-4);
    console.log(`      JPEGs vs uol localize --resizer pil: ${cliJpgPil.images.length}/${photos.length} boxes identical, max |Δscore| ${maxScorePil.toExponential(1)}`);
    expect(minIoU).to.be.at.least(0.8);
    expect(maxEdge).to.be.at.most(6);
    // The page with its first rows of photos; a palette PNG keeps the committed file small.
    const shot = await page.screenshot({ clip: { x: 0, y: 0, width: 1280, height: 1180 }, captureBeyondViewport: true });
    const png = await sharp(shot).png({ palette: true, quality: 90, effort: 10 }).toBuffer();
    expect(png.length).to.be.greaterThan(10_000);
    if (process.env.UOL_UPDATE_SCREENSHOTS === '1') writeFileSync(path.join(ROOT, 'docs', 'web-app.png'), png);
  });

  it('(a) w* fitted in the page equals `uol fit` on the same pixels; the predictor downloads in the CLI format', async () => {
    const page = wasmPage;
    await upload(page, '#images-files', pngs);
    await page.select('#fit-method', 'closed-form');
    await page.click('#fit');
    await idle(page);
    const text = await downloaded(page, '#dl-predictor', downloads, 'predictor.json');
    const mine = decodePredictor(text, 'predictor.json');
    const cli = decodePredictor(readFileSync(predictorFile, 'utf8'), predictorFile);
    expect(mine.backbone).to.deep.equal(cli.backbone);
    let num = 0;
    let den = 0;
    for (let i = 0; i < cli.weights.length; i++) {
      num += (mine.weights[i]! - cli.weights[i]!) ** 2;
      den += cli.weights[i]! ** 2;
    }
    const rel = Math.sqrt(num / den);
    console.log(`      in-page w* vs uol fit: relative L2 ${rel.toExponential(2)}`);
    expect(rel).to.be.at.most(1e-4);
  });

  it('(a) a converted backbone folder (as `uol convert` writes it) loads in the page and gives the CLI\'s boxes', async () => {
    // A small random-weight ViT written by the converter's own writer (model.json + shards, TF layout, sha256).
    const cfg = { embedDim: 48, depth: 2, heads: 3, patch: 16, mlpRatio: 2, posGrid: 14, numRegisters: 0, layerScale: false, posInterpolation: 'bicubic-offset', eps: 1e-6 };
    const expected = FAMILIES.vit!.expected(cfg).filter((e) => !e.unused);
    const synth = syntheticWeights(syntheticSpecFor(expected));
    const dir = path.join(tmp, 'tiny-vit');
    await writeConvertedModel(
      dir,
      {
        generatedBy: 'spec/web-app.spec.ts',
        backbone: { name: 'tiny-vit', arch: 'vit_small', family: 'vit', config: cfg },
        provenance: { source: 'synthetic', sourceSha256: '0', sourceFormat: 'synthetic', arch: 'vit_small', keyMap: 'dino', keyMapVersion: 1, container: [], prefix: '', droppedHeads: [], sourceDtypes: {}, convertedAt: '', convertedBy: 'spec' },
      },
      [...synth].map(([name, w]) => ({ name, ...torchToTfLayout(name, w.shape, w.data) })),
      64 * 1024,
    );
    const three = pngs.slice(0, 3);
    const loc = await createLocalizer({ backbone: dir, engine: { backend: 'wasm' } });
    try {
      await loc.fit(three);
      const node = await loc.localize(three, { maps: false });
      const page = wasmPage;
      await upload(page, '#backbone-folder', [dir]);
      await page.waitForFunction("/tiny-vit/.test(document.getElementById('backbone-name').textContent)", { timeout: 60_000 });
      await idle(page);
      await upload(page, '#images-files', three);
      await page.click('#fit');
      await idle(page);
      await page.click('#localize');
      await idle(page);
      const mine = JSON.parse(await downloaded(page, '#dl-boxes', downloads, 'boxes.json')) as BoxesFile;
      expect(mine.backbone).to.equal('tiny-vit');
      expect(mine.images.map((e) => e.inputBox)).to.deep.equal(node.map((r) => r.box?.inputBox ?? null));
      const p = decodePredictor(await downloaded(page, '#dl-predictor', downloads, 'predictor.json'));
      expect(p.backbone.weightsSha256).to.equal(loc.backbone.identity.weightsSha256);
      console.log(`      converted ViT folder (${readdirSync(dir).length - 1} shards): loaded in the page, sha256 verified, boxes identical to the Node front door on ${three.length} images`);
    } finally {
      loc.dispose();
    }
  });

  it('(b) WebGL (SwiftShader): loads the embedded backbone and localizes one 224² image', async () => {
    const page = await openApp(browser!, `${server!.url}?backend=webgl`);
    expect(await page.$eval('#backend', (e) => e.textContent)).to.equal('webgl');
    await upload(page, '#predictor-file', [predictorFile]);
    await idle(page);
    await upload(page, '#images-files', [pngs[2]!]);
    const times: number[] = [];
    for (let k = 0; k < 2; k++) {
      await page.click('#localize');
      await idle(page);
      times.push(await page.evaluate(() => (globalThis as unknown as AppWindow).uolApp.state.msPerImage));
    }
    const mine = JSON.parse(await downloaded(page, '#dl-boxes', downloads, 'boxes.json')) as BoxesFile;
    expect(mine.images[0]!.inputBox).to.deep.equal(cliPng.images[2]!.inputBox);
    console.log(`      WebGL (SwiftShader): ${times[0]!.toFixed(0)} ms for the first 224² image (shader compilation), ${times[1]!.toFixed(0)} ms per image after; box identical to uol localize`);
    await page.close();
  });
});
