// Headless Debian Chromium for the browser specs: an esbuild bundle of a test entry and its payloads served on
// 127.0.0.1 (a secure origin, so WebGPU is offered), driven with puppeteer-core (the system browser; nothing is
// downloaded). Software GPU: WebGL through ANGLE on SwiftShader, WebGPU through Dawn on SwiftShader.
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { bundleForBrowser } from './bundle.js';

/** Debian's chromium package. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Chromium flags: no sandbox (CI runs as root), WebGL on SwiftShader through ANGLE, WebGPU on SwiftShader (Dawn's
 * Vulkan backend on the SwiftShader ICD bundled with Chromium). With UOL_BROWSER_GPU=hardware (tools/gpu-check.sh on a
 * machine with a GPU), the real GPU instead: ANGLE and Dawn on the system's Vulkan driver, GPU blocklist ignored.
 */
export const CHROMIUM_FLAGS =
  process.env.UOL_BROWSER_GPU === 'hardware'
    ? ['--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=vulkan', '--ignore-gpu-blocklist', '--enable-gpu']
    : ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader'];

/** Why the browser specs cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (apt-get install chromium)`;
}

/** A page with a bundle loaded, its server and browser. */
export interface BrowserSession {
  browser: Browser;
  page: Page;
  /** Base URL of the server (`http://127.0.0.1:port`). */
  url: string;
  /** Console lines of the page (warnings and errors included), in order. */
  console: string[];
  /** Serves `body` at `path` from now on. */
  serve(path: string, body: string | Uint8Array, type?: string): void;
  close(): Promise<void>;
}

/**
 * Bundles `entry` for the browser (failing on any Node import it reaches), serves it in a blank page, launches
 * Chromium headless and opens the page.
 */
export async function openBundle(entry: string): Promise<BrowserSession> {
  const bundle = await bundleForBrowser(entry);
  if (bundle.problems.length) throw new Error(`${entry} does not bundle for the browser:\n${bundle.problems.join('\n')}`);
  const files = new Map<string, { body: string | Uint8Array; type: string }>([
    ['/', { body: '<!doctype html><meta charset="utf-8"><title>uol parity</title><script type="module" src="/bundle.js"></script>', type: 'text/html' }],
    ['/bundle.js', { body: bundle.code, type: 'text/javascript' }],
    ['/favicon.ico', { body: '', type: 'image/x-icon' }],
  ]);
  const server = http.createServer((req, res) => {
    const f = files.get((req.url ?? '/').split('?')[0]!);
    if (!f) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-type', f.type);
    res.end(f.body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let browser: Browser | undefined;
  try {
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, protocolTimeout: 600_000 });
    const page = await browser.newPage();
    page.setDefaultTimeout(600_000);
    const lines: string[] = [];
    page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => lines.push(`pageerror: ${String(e)}`));
    await page.goto(`${url}/`);
    await page.waitForFunction('globalThis.uolParity !== undefined', { timeout: 60_000 });
    const b = browser;
    return {
      browser: b,
      page,
      url,
      console: lines,
      serve: (p, body, type = 'application/json') => void files.set(p, { body, type }),
      close: async () => {
        await b.close();
        await new Promise<void>((ok) => server.close(() => ok()));
      },
    };
  } catch (e) {
    await browser?.close();
    server.close();
    throw e;
  }
}
