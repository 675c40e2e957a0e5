// `uol fetch` against a local HTTP server on 127.0.0.1: an interrupted download resumes with a Range request, the
// checksum is verified before the file is used, a bad checksum deletes the download, redirects are followed, and the
// checkpoint is converted into <models-dir>/<name>/ ready for --backbone NAME.
import { expect } from 'chai';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { download, IntegrityError } from '../src/backbones/node/download.js';

const FILE = path.join('spec', 'fixtures', 'backbones', 'ckpt', 'dino_vit_zip.pth');
const BODY = readFileSync(FILE);
const SHA = createHash('sha256').update(BODY).digest('hex');
const CUT = 10_000;

interface Seen {
  path: string;
  range?: string;
}

/** Serves BODY at /ok, /cut (first request dropped after CUT bytes), /moved (302 → /ok), 404 elsewhere. */
function serve(): Promise<{ base: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  let cutDone = false;
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const s: Seen = { path: url };
    if (req.headers.range) s.range = req.headers.range;
    seen.push(s);
    if (url === '/moved') {
      res.writeHead(302, { location: '/ok' });
      res.end();
      return;
    }
    if (url !== '/ok' && url !== '/cut') {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (m) res.writeHead(206, { 'content-length': BODY.length - start, 'content-range': `bytes ${start}-${BODY.length - 1}/${BODY.length}`, 'accept-ranges': 'bytes' });
    else res.writeHead(200, { 'content-length': BODY.length, 'accept-ranges': 'bytes' });
    if (url === '/cut' && !cutDone) {
      cutDone = true;
      res.write(BODY.subarray(0, CUT), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    res.end(BODY.subarray(start));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ base: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

function registry(dir: string, entries: { name: string; url: string; sha256?: string }[]): string {
  const file = path.join(dir, 'registry.json');
  writeFileSync(
    file,
    JSON.stringify({
      format: 'uol-checkpoint-registry',
      version: 1,
      checkpoints: entries.map((e) => ({ arch: 'vit_small', archConfig: { embedDim: 16, depth: 2, heads: 2 }, keyMap: 'dino', description: 'tiny test ViT', ...e })),
    }),
  );
  return file;
}

describe('uol fetch (local HTTP server on 127.0.0.1)', function () {
  this.timeout(60_000);

  it('resumes an interrupted download with Range, verifies sha256, converts, and is then usable offline', async () => {
    const srv = await serve();
    try {
      const dir = tmpDir();
      const models = path.join(dir, 'models');
      const reg = registry(dir, [{ name: 'tiny', url: `${srv.base}/cut`, sha256: SHA }]);
      const first = await runCli(['fetch', 'tiny', '--registry', reg, '--models-dir', models]);
      expect(first.code, first.stderr).to.equal(1);
      expect(first.stderr).to.contain('run again to resume');
      const part = path.join(models, '.downloads', 'tiny--cut.part');
      expect(statSync(part).size).to.equal(CUT);
      expect(existsSync(path.join(models, 'tiny', 'model.json'))).to.equal(false);

      const second = await runCli(['fetch', 'tiny', '--registry', reg, '--models-dir', models, '--json']);
      expect(second.code, second.stderr).to.equal(0);
      const out = JSON.parse(second.stdout) as { fetched: boolean; sha256: string; resumedFrom: number; dir: string };
      expect(out).to.include({ fetched: true, sha256: SHA, resumedFrom: CUT });
      expect(srv.seen.filter((s) => s.path === '/cut').map((s) => s.range)).to.deep.equal([undefined, `bytes=${CUT}-`]);
      const json = JSON.parse(readFileSync(path.join(models, 'tiny', 'model.json'), 'utf8')) as { provenance: { sourceSha256: string; url: string; registryName: string } };
      expect(json.provenance).to.include({ sourceSha256: SHA, url: `${srv.base}/cut`, registryName: 'tiny' });
      expect(readdirSync(path.join(models, '.downloads'))).to.deep.equal([]); // checkpoint deleted after conversion

      // Fetching again does nothing; the name now works as --backbone (offline).
      const third = await runCli(['fetch', 'tiny', '--registry', reg, '--models-dir', models]);
      expect(third.code).to.equal(0);
      expect(third.stdout).to.contain('already converted');
      const feats = path.join(dir, 'feats');
      const x = await runCli(['extract', '--backbone', path.join(models, 'tiny'), path.join('data', 'skimage_rocket.jpg'), '--size', '64', '--out', feats]);
      expect(x.code, x.stderr).to.equal(0);
      expect(existsSync(path.join(feats, 'skimage_rocket.npy'))).to.equal(true);
    } finally {
      await srv.close();
    }
  });

  it('rejects a bad checksum and leaves no file in place; follows redirects; reports HTTP errors', async () => {
    const srv = await serve();
    try {
      const dir = tmpDir();
      const models = path.join(dir, 'models');
      const reg = registry(dir, [
        { name: 'bad', url: `${srv.base}/ok`, sha256: '0'.repeat(64) },
        { name: 'moved', url: `${srv.base}/moved`, sha256: SHA },
        { name: 'gone', url: `${srv.base}/gone` },
      ]);
      const bad = await runCli(['fetch', 'bad', '--registry', reg, '--models-dir', models]);
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.contain(`sha256 ${SHA}, expected ${'0'.repeat(64)}`);
      expect(readdirSync(path.join(models, '.downloads'))).to.deep.equal([]);
      expect(existsSync(path.join(models, 'bad'))).to.equal(false);

      const moved = await runCli(['fetch', 'moved', '--registry', reg, '--models-dir', models]);
      expect(moved.code, moved.stderr).to.equal(0);
      expect(existsSync(path.join(models, 'moved', 'model.json'))).to.equal(true);

      const gone = await runCli(['fetch', 'gone', '--registry', reg, '--models-dir', models]);
      expect(gone.code).to.equal(1);
      expect(gone.stderr).to.contain('HTTP 404');

      const unknown = await runCli(['fetch', 'nope', '--registry', reg, '--models-dir', models]);
      expect(unknown.code).to.equal(2);
      expect(unknown.stderr).to.contain('unknown checkpoint "nope"');
    } finally {
      await srv.close();
    }
  });

  it('download(): md5/sha256 prefixes and size are checked; a verified file already in place is not downloaded again', async () => {
    const srv = await serve();
    try {
      const dest = path.join(tmpDir(), 'f.pth');
      const md5 = createHash('md5').update(BODY).digest('hex');
      const events: number[] = [];
      const r = await download({ url: `${srv.base}/ok`, dest, expected: { md5Prefix: md5.slice(0, 8), sha256Prefix: SHA.slice(0, 8), size: BODY.length }, onProgress: (e) => e.stage === 'download' && events.push(e.done) });
      expect(r).to.include({ cached: false, bytes: BODY.length, sha256: SHA });
      expect(events[events.length - 1]).to.equal(BODY.length);
      const n = srv.seen.length;
      const again = await download({ url: `${srv.base}/ok`, dest, expected: { sha256: SHA } });
      expect(again.cached).to.equal(true);
      expect(srv.seen.length).to.equal(n);
      const wrong = await download({ url: `${srv.base}/ok`, dest: path.join(tmpDir(), 'g.pth'), expected: { md5Prefix: 'ffffffff' } }).catch((e: Error) => e);
      expect(wrong).to.be.instanceOf(IntegrityError);
    } finally {
      await srv.close();
    }
  });
});
