// `uol serve` and its static server (src/util/static-server.ts): MIME types (application/wasm included), index.html for
// folders, nothing outside the root (.. segments raw or percent-encoded, backslashes, NUL, symlinks leaving the root),
// GET/HEAD only; and the command itself started as a process, answering on the port it prints.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveRequestPath, serveStatic } from '../src/util/static-server.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/** A raw GET (no client-side path normalisation, unlike fetch). */
function get(port: number, rawPath: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('uol serve', function () {
  this.timeout(60_000);

  it('serves files with their MIME types and nothing outside the root', async () => {
    const base = tmpDir('uol-serve-');
    const root = path.join(base, 'app');
    mkdirSync(path.join(root, 'sub'), { recursive: true });
    writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(path.join(root, 'a.wasm'), new Uint8Array([0, 97, 115, 109]));
    writeFileSync(path.join(root, 'app.js'), 'export {};');
    writeFileSync(path.join(root, 'sub', 'index.html'), 'sub');
    writeFileSync(path.join(root, 'sub', 'm.json'), '{}');
    writeFileSync(path.join(base, 'secret.txt'), 'secret');
    symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'link.txt'));
    const s = await serveStatic({ root });
    try {
      expect(s.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const cases: [string, number, string?][] = [
        ['/', 200, 'text/html; charset=utf-8'],
        ['/a.wasm', 200, 'application/wasm'],
        ['/app.js', 200, 'text/javascript; charset=utf-8'],
        ['/sub/', 200, 'text/html; charset=utf-8'],
        ['/sub', 200, 'text/html; charset=utf-8'],
        ['/sub/m.json?x=1', 200, 'application/json; charset=utf-8'],
        ['/missing.js', 404],
        ['/../secret.txt', 400],
        ['/sub/../../secret.txt', 400],
        ['/%2e%2e/secret.txt', 400],
        ['/sub/..%2f..%2fsecret.txt', 400],
        ['/..%5csecret.txt', 400],
        ['/a%00.wasm', 400],
        ['/%E0%A4%A', 400],
        ['/link.txt', 404],
      ];
      for (const [p, status, type] of cases) {
        const r = await get(s.port, p);
        expect(r.status, p).to.equal(status);
        if (type) expect(r.type, p).to.equal(type);
        expect(r.body, p).to.not.include('secret\n');
      }
      expect((await get(s.port, '/', 'POST')).status).to.equal(405);
      const head = await get(s.port, '/a.wasm', 'HEAD');
      expect([head.status, head.body]).to.deep.equal([200, '']);
    } finally {
      await s.close();
    }
    expect(resolveRequestPath('/srv', '/x/y.js')).to.equal(path.resolve('/srv/x/y.js'));
    expect(resolveRequestPath('/srv', 'x')).to.equal(undefined);
  });

  it('`uol serve --port 0 --dir D --json` prints its URL and serves D until stopped; a folder without the app is refused', async () => {
    const dir = tmpDir('uol-serve-');
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>served</title>');
    const tsx = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
    const main = pathToFileURL(path.join(ROOT, 'src', 'cli', 'main.ts')).href;
    const child = spawn(process.execPath, ['--import', tsx, '--input-type=module', '-e', `const { main } = await import(${JSON.stringify(main)}); process.exitCode = await main(process.argv.slice(1));`, 'serve', '--port', '0', '--dir', dir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const out = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.includes('}')) resolve(text);
        });
        child.on('exit', (code) => reject(new Error(`uol serve exited (${code})`)));
      });
      const { url, port } = JSON.parse(out) as { url: string; port: number };
      expect(url).to.equal(`http://127.0.0.1:${port}/`);
      const r = await get(port, '/');
      expect([r.status, r.body]).to.deep.equal([200, '<!doctype html><title>served</title>']);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).to.equal(0);
    const bad = await runCli(['serve', '--dir', tmpDir('uol-serve-empty-')]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/no web app there .*npm run build:web/);
  });
});
