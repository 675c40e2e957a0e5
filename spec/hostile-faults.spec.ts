// Issue 17: faults around downloads, replaced models, shared output directories, the registry and byte-order marks.
// Downloads are served by a local HTTP server on 127.0.0.1 only. For 6 and 8 the previous good output is compared
// byte for byte after the fault.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, watch, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { download } from '../src/backbones/node/download.js';
import { readConvertedModel } from '../src/weights/tfjs-format.js';
import { readWsolMetadata } from '../src/evaluate/node/wsol-metadata.js';
import { argsFingerprint, claimOutDir } from '../src/util/run-owner.js';

const CKPT = path.resolve('spec/fixtures/backbones/ckpt/dino_vit_zip.pth');
const OTHER = path.resolve('spec/fixtures/backbones/ckpt/dino_vit.safetensors');
const BODY = readFileSync(CKPT);
const SHA = createHash('sha256').update(BODY).digest('hex');
const TINY = ['--arch', 'vit_small', '--arch-config', JSON.stringify({ embedDim: 16, depth: 2, heads: 2 }), '--key-map', 'dino'];

/** Every file under `dir` (relative path → bytes), hidden entries left out. */
function snapshot(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, f);
    if (!f.split(path.sep).some((s) => s.startsWith('.')) && statSync(p).isFile()) m.set(f, readFileSync(p).toString('base64'));
  }
  return m;
}

/** Serves: /body (BODY), /endless (no length, never ends), /huge (Content-Length 10^15), /badrange (206 with a wrong Content-Range). */
function serve(): Promise<{ base: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/body')) {
      res.writeHead(200, { 'content-length': BODY.length });
      res.end(BODY);
    } else if (url === '/endless') {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = (): void => {
        while (res.write(chunk));
        res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    } else if (url === '/huge') {
      res.writeHead(200, { 'content-length': String(1e15) });
      res.write(Buffer.alloc(1024));
    } else if (url === '/badrange') {
      if (req.headers.range) {
        res.writeHead(206, { 'content-length': BODY.length, 'content-range': `bytes 0-${BODY.length - 1}/${BODY.length}` });
      } else res.writeHead(200, { 'content-length': BODY.length });
      res.end(BODY);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        base: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    }),
  );
}

function registry(dir: string, entries: Record<string, unknown>[]): string {
  const file = path.join(dir, 'registry.json');
  writeFileSync(file, JSON.stringify({ format: 'uol-checkpoint-registry', version: 1, checkpoints: entries.map((e) => ({ arch: 'vit_small', archConfig: { embedDim: 16, depth: 2, heads: 2 }, keyMap: 'dino', description: 'tiny test ViT', ...e })) }));
  return file;
}

describe('hostile faults (issue 17): downloads, replaced models, shared --out, registry, BOMs', function () {
  this.timeout(120_000);
  let srv: Awaited<ReturnType<typeof serve>>;
  before(async () => (srv = await serve()));
  after(async () => srv.close());

  describe('4. uol fetch: expected size, a sane cap, and what to delete', () => {
    it('an endless body stops at the size the registry gives, and the .part is deleted', async () => {
      const dest = path.join(tmpDir(), 'x.pth');
      let err: Error | undefined;
      await download({ url: `${srv.base}/endless`, dest, expected: { size: 200_000 } }).catch((e: Error) => (err = e));
      expect(err?.message).to.match(/endless: the body runs past the size the registry gives \(200000 bytes\); download stopped and .*x\.pth\.part deleted/);
      expect(readdirSync(path.dirname(dest))).to.deep.equal([]);
    });

    it('an endless body without a pinned size stops at the cap', async () => {
      const dest = path.join(tmpDir(), 'x.pth');
      let err: Error | undefined;
      await download({ url: `${srv.base}/endless`, dest, expected: { maxBytes: 300_000 } }).catch((e: Error) => (err = e));
      expect(err?.message).to.match(/runs past the largest size expected for this entry \(300000 bytes\)/);
      expect(existsSync(`${dest}.part`)).to.equal(false);
    });

    it('a Content-Length of 10^15 is refused at once (nothing written)', async () => {
      const dest = path.join(tmpDir(), 'x.pth');
      const t0 = Date.now();
      let err: Error | undefined;
      await download({ url: `${srv.base}/huge`, dest }).catch((e: Error) => (err = e));
      expect(err?.message).to.match(/huge: the server announces 1000000000000000 bytes, more than the 16\.0 GiB cap \(UOL_LIMIT_DOWNLOAD_BYTES\)/);
      expect(Date.now() - t0).to.be.below(10_000);
      expect(existsSync(`${dest}.part`) ? statSync(`${dest}.part`).size : 0).to.equal(0);
    });

    it('a wrong Content-Range on resume restarts from scratch once instead of failing on every rerun', async () => {
      const dest = path.join(tmpDir(), 'x.pth');
      writeFileSync(`${dest}.part`, BODY.subarray(0, 1000));
      const r = await download({ url: `${srv.base}/badrange`, dest, expected: { sha256: SHA } });
      expect(r.sha256).to.equal(SHA);
      expect(r.resumedFrom).to.equal(0);
      expect(readFileSync(dest).equals(BODY)).to.equal(true);
    });
  });

  describe('12. the registry: what is verified, provenance, confined names', () => {
    it('`uol fetch --list` says what is verified per entry; the committed registry pins no checksum for DINO', async () => {
      const r = await runCli(['fetch', '--list', '--json']);
      expect(r.code, r.stderr).to.equal(0);
      const rows = (JSON.parse(r.stdout) as { checkpoints: { name: string; verified: string }[] }).checkpoints;
      expect(rows.find((x) => x.name === 'dino_vits16')!.verified).to.equal('nothing (no checksum or size is pinned)');
      expect(rows.find((x) => x.name === 'torchvision_resnet50')!.verified).to.match(/^sha256 prefix 19c8e357 \(8 hex digits\)/);
      expect(rows.find((x) => x.name === 'moco_v2_200ep')!.verified).to.match(/^md5 prefix 59fd9945/);
    });

    it('an unpinned download is fetched with a warning, its sha256 recorded in provenance', async () => {
      const dir = tmpDir();
      const models = path.join(dir, 'models');
      const reg = registry(dir, [{ name: 'open', url: `${srv.base}/body/open.pth` }]);
      const r = await runCli(['fetch', 'open', '--registry', reg, '--models-dir', models, '--json']);
      expect(r.code, r.stderr).to.equal(0);
      const j = JSON.parse(r.stdout) as { warnings: string[]; verified: string; sha256: string };
      expect(j.warnings[0]).to.match(/open: the registry pins no checksum for .*: the download is not verified; its sha256 is recorded/);
      const model = JSON.parse(readFileSync(path.join(models, 'open', 'model.json'), 'utf8')) as { provenance: { sourceSha256: string; downloadVerified: string } };
      expect(model.provenance.sourceSha256).to.equal(SHA);
      expect(model.provenance.downloadVerified).to.match(/^size \d+ bytes$|^nothing/);
      // fetch --force converts over the existing model through the same build-beside-and-swap path as convert --force.
      const before = snapshot(path.join(models, 'open'));
      const again = await runCli(['fetch', 'open', '--registry', reg, '--models-dir', models, '--force']);
      expect(again.code, again.stderr).to.equal(0);
      expect(readdirSync(models).filter((f) => /^\.open\.(new|old)-/.test(f))).to.deep.equal([]);
      expect([...snapshot(path.join(models, 'open')).keys()]).to.deep.equal([...before.keys()]);
      await readConvertedModel(path.join(models, 'open'));
    });

    it('a registry name like ../../../../tmp/x is refused; nothing is written outside --models-dir', async () => {
      const dir = tmpDir();
      const models = path.join(dir, 'a', 'b', 'models');
      const evil = `../../../../${path.basename(dir)}-escaped`;
      const reg = registry(dir, [{ name: evil, url: `${srv.base}/body/x.pth` }]);
      const r = await runCli(['fetch', evil, '--registry', reg, '--models-dir', models]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/registry\.json: checkpoints\[0\]: name ".*escaped" must be a plain file name/);
      expect(existsSync(path.resolve(models, evil))).to.equal(false);
      expect(existsSync(models)).to.equal(false);
    });
  });

  describe('6. kill -9 during `uol convert --force` over a good model', () => {
    it('the previous model stays intact byte for byte (the new one is built beside it and swapped in)', async () => {
      const root = tmpDir();
      const model = path.join(root, 'm');
      const c1 = await runCli(['convert', CKPT, ...TINY, '--out', model]);
      expect(c1.code, c1.stderr).to.equal(0);
      writeFileSync(path.join(model, 'notes.txt'), 'kept across replacement\n');
      const before = snapshot(model);
      let killedMidway = 0;
      for (let attempt = 0; attempt < 3 && killedMidway === 0; attempt++) {
        const child = spawn(process.execPath, ['--import', 'tsx', 'spec/helpers/uol-ts.ts', 'convert', OTHER, ...TINY, '--out', model, '--force', '--progress', 'none'], { stdio: 'ignore', env: { ...process.env, UOL_BACKEND: 'cpu' } });
        let stage = false;
        const w = watch(root, (_e, name) => {
          if (!stage && String(name).startsWith('.m.new-')) {
            stage = true;
            child.kill('SIGKILL');
          }
        });
        const code = await new Promise<number | null>((r) => child.on('close', r));
        w.close();
        // Whatever the moment of the kill: a complete, self-consistent model is in place.
        const { json } = await readConvertedModel(model);
        // Either the previous model byte for byte (the kill landed while the new one was staged) or the complete new
        // one (the swap's renames finished before the signal arrived) — never a mixture.
        const now = snapshot(model);
        const intact = now.size === before.size && [...before].every(([k, v]) => now.get(k) === v);
        if (code === null && stage && intact) killedMidway++;
        else expect(json.provenance.sourceFormat, 'not the previous model, so the complete new one').to.equal('safetensors');
      }
      expect(killedMidway, 'a kill landed while the new model was being written').to.be.greaterThan(0);
      // A finished --force replaces the model and keeps the unrelated file.
      const c2 = await runCli(['convert', OTHER, ...TINY, '--out', model, '--force']);
      expect(c2.code, c2.stderr).to.equal(0);
      expect((await readConvertedModel(model)).json.provenance.sourceFormat).to.equal('safetensors');
      expect(readFileSync(path.join(model, 'notes.txt'), 'utf8')).to.equal('kept across replacement\n');
      expect(readdirSync(root).filter((f) => f.startsWith('.m.old-'))).to.deep.equal([]);
    });
  });

  describe('8. an --out directory is owned by one run identity', () => {
    it('a run with other arguments is refused before it changes anything; the same arguments may rerun', async () => {
      const feats = tmpDir();
      const src = path.resolve('spec/fixtures/rps/random/features');
      for (const f of readdirSync(src)) copyFileSync(path.join(src, f), path.join(feats, f));
      const out = path.join(tmpDir(), 'out');
      const first = ['localize', '--from-features', feats, '--caam', '--size', '8,8', '--out', out];
      const r1 = await runCli(first);
      expect(r1.code, r1.stderr).to.equal(0);
      const before = snapshot(out);
      const r2 = await runCli(['localize', '--from-features', feats, '--caam', '--size', '6,6', '--out', out]);
      expect(r2.code).to.equal(2);
      expect(r2.stderr).to.include(`${out}: holds the output of another \`uol localize\` run (other inputs or options); nothing was changed`);
      expect(snapshot(out)).to.deep.equal(before);
      const r3 = await runCli(first);
      expect(r3.code, r3.stderr).to.equal(0);
    });

    it('a directory holding a finished run that predates ownership records is refused too', async () => {
      const feats = tmpDir();
      const src = path.resolve('spec/fixtures/rps/random/features');
      for (const f of readdirSync(src)) copyFileSync(path.join(src, f), path.join(feats, f));
      const out = tmpDir();
      mkdirSync(path.join(out, 'maps'));
      writeFileSync(path.join(out, 'maps', 'old.npy'), 'x');
      const r = await runCli(['localize', '--from-features', feats, '--caam', '--size', '8,8', '--out', out]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/holds maps of an earlier run that is not recorded as this one/);
      expect(readdirSync(path.join(out, 'maps'))).to.deep.equal(['old.npy']);
    });
  });

  describe('8. claimOutDir (the rule every owning command uses)', () => {
    it('a directory holding only the record of a run that wrote nothing may be taken over; one with output may not', () => {
      const dir = tmpDir();
      claimOutDir(dir, 'explain', 'a');
      claimOutDir(dir, 'explain', 'b'); // run "a" failed before writing anything
      writeFileSync(path.join(dir, 'explain.json'), '{}');
      expect(() => claimOutDir(dir, 'explain', 'a')).to.throw(/holds the output of another `uol explain` run/);
      expect(() => claimOutDir(dir, 'localize', 'b')).to.throw(/holds the output of a `uol explain` run/);
      claimOutDir(dir, 'explain', 'b');
      expect(argsFingerprint({ a: 1, out: 'x', 'batch-size': 2, batchSize: 2 })).to.equal(argsFingerprint({ a: 1, out: 'y', 'batch-size': 2 }));
      expect(argsFingerprint({ a: 1 })).to.not.equal(argsFingerprint({ a: 2 }));
    });
  });

  describe('14. byte-order marks are stripped wherever text is read', () => {
    it('wsol metadata with a BOM reads the same ids as without', () => {
      const dir = tmpDir();
      writeFileSync(path.join(dir, 'image_ids.txt'), '\ufeffa/1.jpg\na/2.jpg\n');
      writeFileSync(path.join(dir, 'class_labels.txt'), '\ufeffa/1.jpg,0\na/2.jpg,1\n');
      const m = readWsolMetadata(dir);
      expect(m.imageIds).to.deep.equal(['a/1.jpg', 'a/2.jpg']);
      expect([...m.classLabels!.keys()]).to.deep.equal(['a/1.jpg', 'a/2.jpg']);
    });

    it('a registry saved with a BOM loads', async () => {
      const dir = tmpDir();
      const reg = registry(dir, [{ name: 'bom', url: `${srv.base}/body/bom.pth` }]);
      writeFileSync(reg, '\ufeff' + readFileSync(reg, 'utf8'));
      const r = await runCli(['fetch', '--list', '--registry', reg, '--json']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.include('"bom"');
    });
  });
});
