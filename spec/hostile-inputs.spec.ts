// Issue 17: hostile inputs and faults. Every input is generated here (spec/helpers/hostile.ts), small on disk; the
// memory-hungry cases run the CLI in a child (spec/helpers/child.ts) whose peak RSS and wall time are checked against
// the caps below. What each reader guarantees is listed in docs/security.md.
import { resetSettings } from '../src/util/settings.js';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { runCli } from './helpers/cli.js';
import { runChild, type ChildResult } from './helpers/child.js';
import { tmpDir } from './helpers/tmp.js';
import { appendsPickle, deflateBomb, long4Pickle, makeZip, npyWithHeader, stateDictPickle } from './helpers/hostile.js';
import { unpickle } from '../src/weights/pickle.js';
import { torchGlobals } from '../src/weights/pth.js';
import { ZipArchive } from '../src/weights/zip.js';
import { readNpySync } from '../src/io/npy.js';

/** Peak RSS cap for a child fed a bomb (MiB); a plain CLI start (tsx + tfjs) is ~150 MiB. */
const RSS_CAP_MB = 300;
/** Wall-time cap for a child that must refuse its input (ms; generous for a loaded 2-core CI machine). */
const TIME_CAP_MS = 25_000;
const GiB = 2 ** 30;

const FEATURES = path.resolve('spec/fixtures/rps/random/features');

function featuresDir(): string {
  const d = tmpDir();
  for (const f of readdirSync(FEATURES)) copyFileSync(path.join(FEATURES, f), path.join(d, f));
  return d;
}

/** Asserts a refused input: exit 2, the file and the fault named, RSS and time under the caps. */
function expectRefused(r: ChildResult, file: string, fault: RegExp): void {
  const all = r.stdout + r.stderr;
  console.log(`      ${path.basename(file)}: exit ${r.code}, peak RSS ${r.peakMB.toFixed(0)} MiB, ${r.ms} ms`);
  expect(r.timedOut, `finished within ${TIME_CAP_MS} ms`).to.equal(false);
  expect(r.code, all).to.equal(2);
  expect(r.stderr).to.include(path.basename(file));
  expect(r.stderr).to.match(fault);
  expect(r.stderr).to.not.match(/RangeError|Maximum call stack|at .*\.ts:\d+/);
  expect(r.peakMB, `peak RSS ${r.peakMB.toFixed(0)} MiB`).to.be.below(RSS_CAP_MB);
  expect(r.ms).to.be.below(TIME_CAP_MS);
}

const child = (args: string[], env?: Record<string, string>): Promise<ChildResult> => runChild(args, { timeoutMs: TIME_CAP_MS + 5000, memCapMB: 2 * RSS_CAP_MB, ...(env ? { env } : {}) });

describe('hostile inputs (issue 17): bounded memory and time, a clear error, nothing executed, nothing lost', function () {
  this.timeout(120_000);
  let feats: string;
  let predictor: string;
  let stats: string;

  before(async () => {
    feats = featuresDir();
    const w = tmpDir();
    predictor = path.join(w, 'p.json');
    stats = path.join(w, 's.json');
    const r1 = await runCli(['fit', '--from-features', feats, '--out', predictor]);
    expect(r1.code, r1.stderr).to.equal(0);
    const r2 = await runCli(['fit', '--from-features', feats, '--shard', '1/1', '--out', stats]);
    expect(r2.code, r2.stderr).to.equal(0);
  });

  describe('1. deflate and zip bombs', () => {
    it('statistics whose bins inflate to 1 GiB: `uol merge` stops at the size the channels need', async () => {
      const j = JSON.parse(readFileSync(stats, 'utf8')) as { blocks: { bins: string }[] };
      j.blocks[0]!.bins = Buffer.from(deflateBomb(GiB)).toString('base64');
      const bomb = path.join(tmpDir(), 'bomb-stats.json');
      writeFileSync(bomb, JSON.stringify(j));
      expect(readFileSync(bomb).length).to.be.below(10e6);
      const out = path.join(path.dirname(bomb), 'merged.json');
      const r = await child(['merge', bomb, '--statistics', '--out', out]);
      expectRefused(r, bomb, /block global: corrupt bins \(inflates to more than the 33280 bytes 64 channels need\)/);
      expect(existsSync(out)).to.equal(false);
    });

    it('a .pth whose storage entry inflates to 1 GiB for a 4-element tensor is refused before it is read', async () => {
      const file = path.join(tmpDir(), 'storage-bomb.pth');
      writeFileSync(file, makeZip([{ name: 'archive/data.pkl', data: stateDictPickle(4) }, { name: 'archive/data/0', data: deflateBomb(GiB), method: 8, size: GiB }]));
      const r = await child(['convert', file, '--arch', 'vit_small', '--out', path.join(path.dirname(file), 'm')]);
      expectRefused(r, file, /storage "0": entry has 1073741824 bytes, 4 × float32 need exactly 16/);
    });

    it('a data.pkl that inflates to 1 GiB is refused by the pickle cap before anything is allocated', async () => {
      const file = path.join(tmpDir(), 'pkl-bomb.pth');
      writeFileSync(file, makeZip([{ name: 'archive/data.pkl', data: deflateBomb(GiB), method: 8, size: GiB }]));
      const r = await child(['convert', file, '--arch', 'vit_small', '--out', path.join(path.dirname(file), 'm')]);
      expectRefused(r, file, /data\.pkl" declares 1\.0 GiB .*over the 256\.0 MiB cap \(raise it with UOL_LIMIT_PICKLE_BYTES/);
    });

    it('a Zip64 entry declaring 2^40 bytes: a clear error, no RangeError', async () => {
      const file = path.join(tmpDir(), 'zip64.pth');
      writeFileSync(file, makeZip([{ name: 'archive/data.pkl', data: stateDictPickle(4) }, { name: 'archive/data/0', data: deflateRawSync(Buffer.alloc(16)), method: 8, size: 2 ** 40 }]));
      const r = await runCli(['convert', file, '--arch', 'vit_small', '--out', path.join(path.dirname(file), 'm')]);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.match(/zip64\.pth: .*storage "0": entry has 1099511627776 bytes/);
      const zip = await ZipArchive.open(file);
      try {
        let err: Error | undefined;
        await zip.read('archive/data/0').catch((e: Error) => (err = e));
        expect(err?.message).to.match(/declares 1\.0 TiB \(1099511627776 bytes\), over the 4\.0 GiB cap \(raise it with UOL_LIMIT_ZIP_ENTRY_BYTES/);
      } finally {
        zip.close();
      }
    });
  });

  describe('2. quadratic and deep pickle opcodes', () => {
    it('LONG4 of 1 MB: refused by the integer cap at once; under a raised cap parsed in linear time', async () => {
      const file = path.join(tmpDir(), 'long4.pkl');
      writeFileSync(file, long4Pickle(1 << 20));
      const r = await child(['convert', file, '--arch', 'vit_small', '--out', path.join(path.dirname(file), 'm')]);
      expectRefused(r, file, /integer of 1048576 bytes exceeds the 4096-byte cap/);
      const prev = process.env.UOL_LIMIT_PICKLE_LONG_BYTES;
      process.env.UOL_LIMIT_PICKLE_LONG_BYTES = String(2 << 20);
      resetSettings();
      try {
        const t0 = Date.now();
        const v = unpickle(long4Pickle(1 << 20), { globals: torchGlobals() }).value;
        expect(typeof v).to.equal('bigint');
        expect((v as bigint) % 256n).to.equal(0x5an);
        expect(Date.now() - t0, 'ms for a 1 MB LONG4 (was > 10 min)').to.be.below(5000);
      } finally {
        if (prev === undefined) delete process.env.UOL_LIMIT_PICKLE_LONG_BYTES;
        else process.env.UOL_LIMIT_PICKLE_LONG_BYTES = prev;
        resetSettings();
      }
    });

    it('APPENDS with 300k items builds the list (no "Maximum call stack size exceeded")', async () => {
      const v = unpickle(appendsPickle(300_000), { globals: torchGlobals() }).value;
      expect((v as unknown[]).length).to.equal(300_000);
      const file = path.join(tmpDir(), 'appends.pkl');
      writeFileSync(file, appendsPickle(300_000));
      const r = await runCli(['convert', file, '--arch', 'vit_small', '--out', path.join(path.dirname(file), 'm')]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/appends\.pkl: .*a plain pickle, not a torch\.save file/);
    });
  });

  describe('3. unbounded reads: devices and FIFOs are refused by their file type', () => {
    it('a .npy symlinked to /dev/zero', async () => {
      const d = featuresDir();
      symlinkSync('/dev/zero', path.join(d, 'zero.npy'));
      const r = await child(['localize', '--from-features', d, '--caam', '--size', '8,8', '--out', path.join(tmpDir(), 'o')]);
      expectRefused(r, 'zero.npy', /zero\.npy: cannot read \.npy file: a character device, not a regular file/);
    });

    it('a .jpg symlinked to /dev/zero and a (symlinked) FIFO named .jpg: refused at once, nothing hangs', async () => {
      const d = tmpDir();
      symlinkSync('/dev/zero', path.join(d, 'zero.jpg'));
      execFileSync('mkfifo', [path.join(d, 'fifo')]);
      symlinkSync(path.join(d, 'fifo'), path.join(d, 'pipe.jpg'));
      // `uol data inspect --decode` reads every image and lists the unreadable ones (exit 0: a report, not a failure).
      const r = await child(['data', 'inspect', '--dataset', 'folder', '--data-dir', d, '--decode']);
      expect(r.timedOut, 'finished').to.equal(false);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/pipe\.jpg: cannot read image: a FIFO \(named pipe\), not a regular file/);
      expect(r.stdout).to.match(/zero\.jpg: cannot read image: a character device, not a regular file/);
      expect(r.peakMB, `peak RSS ${r.peakMB.toFixed(0)} MiB`).to.be.below(RSS_CAP_MB);
      expect(r.ms).to.be.below(TIME_CAP_MS);
    });
  });

  describe('5. safetensors headers', () => {
    for (const [label, len] of [
      ['2^63', 2n ** 63n],
      ['100 MB', 100_000_000n],
    ] as const) {
      it(`a header length of ${label}: "header length … exceeds the cap", not "not a PyTorch checkpoint"`, async () => {
        const file = path.join(tmpDir(), 'big-header.safetensors');
        const b = Buffer.alloc(64, 0x20);
        b.writeBigUInt64LE(len, 0);
        b[8] = 0x7b;
        writeFileSync(file, b);
        const r = await runCli(['convert', file, '--arch', 'vit_small', '--out', path.join(path.dirname(file), 'm')]);
        expect(r.code).to.equal(2);
        expect(r.stderr).to.match(/big-header\.safetensors: cannot read safetensors file: safetensors header length: size .* exceeds the 8\.0 MiB cap \(raise it with UOL_LIMIT_SAFETENSORS_HEADER_BYTES/);
      });
    }

    it('a header just under the cap full of zero-size tensors: refused by the tensor-count cap, RSS and time bounded', async () => {
      const parts: string[] = [];
      for (let n = 0, len = 2; len < 8 * 2 ** 20 - 100; n++) {
        const e = `"t${n}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`;
        parts.push(e);
        len += e.length + 1;
      }
      const h = Buffer.from(`{${parts.join(',')}}`);
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(h.length));
      const file = path.join(tmpDir(), 'many.safetensors');
      writeFileSync(file, Buffer.concat([len, h]));
      const r = await child(['convert', file, '--arch', 'vit_small', '--out', path.join(path.dirname(file), 'm')]);
      expectRefused(r, file, new RegExp(`safetensors header lists ${parts.length} tensors, over the 20000-tensor cap`));
    });

    it('zero-size tensors sharing an offset are not an "overlap"', async () => {
      const header: Record<string, unknown> = {};
      for (let i = 0; i < 1000; i++) header[`t${i}`] = { dtype: 'F32', shape: [0], data_offsets: [0, 0] };
      const h = Buffer.from(JSON.stringify(header));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(h.length));
      const file = path.join(tmpDir(), 'empty.safetensors');
      writeFileSync(file, Buffer.concat([len, h]));
      const r = await runCli(['convert', file, '--arch', 'vit_small', '--out', path.join(path.dirname(file), 'm')]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.not.match(/overlap/);
      expect(r.stderr).to.match(/empty\.safetensors: missing tensors .*unexpected tensors "t0"/);
    });
  });

  describe('11. strict .npy headers; non-finite checkpoint weights', () => {
    it('a duplicate descr key (<f4 then |O) is refused, as numpy refuses it', () => {
      const file = path.join(tmpDir(), 'dup.npy');
      writeFileSync(file, npyWithHeader("{'descr': '<f4', 'descr': '|O', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(8)));
      expect(() => readNpySync(file)).to.throw(/dup\.npy: not a supported \.npy file: .*duplicate key "descr"/);
      const ok = path.join(tmpDir(), 'ok.npy');
      writeFileSync(ok, npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(8)));
      expect(readNpySync(ok).shape).to.deep.equal([2]);
      for (const bad of ["{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "{'descr': '<f4', 'fortran_order': False}", "{'descr': '<f4', 'fortran_order': 'no', 'shape': (2,)}"]) {
        writeFileSync(file, npyWithHeader(bad, new Uint8Array(8)));
        expect(() => readNpySync(file), bad).to.throw(/dup\.npy: not a supported \.npy file/);
      }
    });

    it('safetensors with a NaN weight is refused naming the tensor; --allow-nonfinite converts it', async () => {
      const src = readFileSync('spec/fixtures/backbones/ckpt/dino_vit.safetensors');
      const hlen = Number(src.readBigUInt64LE(0));
      const header = JSON.parse(src.subarray(8, 8 + hlen).toString()) as Record<string, { dtype: string; data_offsets: [number, number] }>;
      const [name, t] = Object.entries(header).find(([k, v]) => k !== '__metadata__' && v.dtype === 'F32' && v.data_offsets[1] > v.data_offsets[0])!;
      const bad = Buffer.from(src);
      bad.writeFloatLE(NaN, 8 + hlen + t.data_offsets[0]);
      const file = path.join(tmpDir(), 'nan.safetensors');
      writeFileSync(file, bad);
      const cfg = ['--arch', 'vit_small', '--arch-config', JSON.stringify({ embedDim: 16, depth: 2, heads: 2 }), '--key-map', 'dino'];
      const r = await runCli(['convert', file, ...cfg, '--out', path.join(path.dirname(file), 'm1')]);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.include(`nan.safetensors: tensor "${name}" holds NaN at element 0`);
      const r2 = await runCli(['convert', file, ...cfg, '--allow-nonfinite', '--out', path.join(path.dirname(file), 'm2')]);
      expect(r2.code, r2.stderr).to.equal(0);
    });
  });

  describe('9–10. predictors and statistics are validated at load, before any output', () => {
    const mutate = (file: string, f: (j: Record<string, unknown>) => void, text?: string): string => {
      const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      f(j);
      const out = path.join(tmpDir(), path.basename(file));
      writeFileSync(out, text ?? JSON.stringify(j));
      return out;
    };
    const f32b64 = (v: number): string => {
      const a = new Float32Array(64).fill(0.125);
      a[3] = v;
      return Buffer.from(a.buffer).toString('base64');
    };
    const cases: [string, (j: Record<string, unknown>) => void, RegExp][] = [
      ['NaN in w', (j) => ((j.weights as { b64: string }).b64 = f32b64(NaN)), /weights\[3\] is NaN: every value of a predictor must be finite/],
      ['Inf in w', (j) => ((j.weights as { b64: string }).b64 = f32b64(Infinity)), /weights\[3\] is Infinity/],
      ['τ = "0.3"', (j) => (j.threshold = { value: '0.3', source: 'x' }), /threshold\.value \(the stored τ\) is "0\.3": expected a finite number/],
      ['τ = 5', (j) => (j.threshold = { value: 5, source: 'x' }), /threshold\.value \(the stored τ\) is 5: expected a value in \(0,1\)/],
      ['τ = null', (j) => (j.threshold = null), /threshold is null: expected an object/],
      ['images = "abc"', (j) => ((j.statistics as { images: unknown }[])[0]!.images = 'abc'), /statistics\[0\]\.images is "abc": expected a finite number/],
    ];
    for (const [label, f, re] of cases) {
      it(`predictor with ${label}: exit 2 naming the predictor and the key; no output written`, async () => {
        const p = mutate(predictor, f);
        const out = path.join(tmpDir(), 'o');
        const r = await runCli(['localize', '--from-features', feats, '--predictor', p, '--size', '8,8', '--out', out]);
        expect(r.code, r.stderr).to.equal(2);
        expect(r.stderr).to.include(`${p}: `);
        expect(r.stderr).to.match(re);
        expect(existsSync(out) && readdirSync(out).length > 0, 'nothing written').to.equal(false);
      });
    }

    for (const [label, v] of [
      ['"abc"', 'abc'],
      ['"-5"', '-5'],
      ['-5', -5],
      ['1.5', 1.5],
    ] as const) {
      it(`statistics with images = ${label}: merge refuses it naming the file and block`, async () => {
        const s = mutate(stats, (j) => ((j.blocks as { images: unknown }[])[0]!.images = v));
        const out = path.join(tmpDir(), 'm.json');
        const r = await runCli(['merge', s, stats, '--statistics', '--out', out]);
        expect(r.code, r.stderr).to.equal(2);
        expect(r.stderr).to.match(new RegExp(`${path.basename(s)}: block global: images is ${JSON.stringify(JSON.stringify(v)).slice(1, -1)}: expected an integer ≥ 0`));
        expect(existsSync(out)).to.equal(false);
      });
    }

    it('a predictor saved with a byte-order mark loads (14)', async () => {
      const p = mutate(predictor, () => undefined, '\ufeff' + readFileSync(predictor, 'utf8'));
      const r = await runCli(['localize', '--from-features', feats, '--predictor', p, '--size', '8,8', '--out', path.join(tmpDir(), 'o')]);
      expect(r.code, r.stderr).to.equal(0);
    });

    it('statistics metadata is checked too (shard index beyond count, non-integer items)', async () => {
      const s1 = mutate(stats, (j) => ((j.meta as Record<string, unknown>).shard = { index: 3, count: 2 }));
      const r1 = await runCli(['merge', s1, '--statistics', '--out', path.join(tmpDir(), 'm.json')]);
      expect(r1.code).to.equal(2);
      expect(r1.stderr).to.match(/meta\.shard\.index is 3: expected at most shard\.count \(2\)/);
    });
  });
});
