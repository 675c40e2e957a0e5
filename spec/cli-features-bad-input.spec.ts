// Bad inputs on the bring-your-own-features path: exit code 2, the file named, no partial predictor left behind.
import { expect } from 'chai';
import { existsSync, readdirSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { encodeNpy, writeNpySync } from '../src/io/npy.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';

const SRC = path.resolve('spec/fixtures/rps/random/features');

function goodDir(): string {
  const d = tmpDir();
  for (const f of readdirSync(SRC)) copyFileSync(path.join(SRC, f), path.join(d, f));
  return d;
}

async function expectFail(args: string[], pattern: RegExp, out: string): Promise<void> {
  const r = await runCli(args);
  expect(r.code, r.stdout + r.stderr).to.equal(2);
  expect(r.stderr).to.match(pattern);
  expect(existsSync(out), 'no predictor may be left behind').to.equal(false);
  const leftovers = readdirSync(path.dirname(out)).filter((n) => n.includes('.tmp'));
  expect(leftovers, 'no temp files left').to.deep.equal([]);
}

describe('uol fit/localize --from-features: bad inputs exit 2 naming the file', () => {
  it('wrong rank .npy', async () => {
    const d = goodDir();
    writeNpySync(path.join(d, 'zz_bad.npy'), new Float32Array(12), [3, 4]);
    const out = path.join(tmpDir(), 'p.json');
    await expectFail(['fit', '--from-features', d, '--out', out], /zz_bad\.npy.*\[h,w,C\]/, out);
  });

  it('wrong dtype .npy (float64)', async () => {
    const d = goodDir();
    writeNpySync(path.join(d, 'zz_bad.npy'), new Float64Array(2 * 2 * 64), [2, 2, 64]);
    const out = path.join(tmpDir(), 'p.json');
    await expectFail(['fit', '--from-features', d, '--out', out], /zz_bad\.npy.*float32/, out);
  });

  it('unsupported dtype (int16) and big-endian are refused', async () => {
    const d = goodDir();
    const bytes = Buffer.from(encodeNpy({ dtype: 'float32', shape: [1, 1, 64], data: new Float32Array(64) }));
    const txt = bytes.toString('latin1').replace("'<f4'", "'>f4'");
    writeFileSync(path.join(d, 'zz_bad.npy'), Buffer.from(txt, 'latin1'));
    const out = path.join(tmpDir(), 'p.json');
    await expectFail(['fit', '--from-features', d, '--out', out], /zz_bad\.npy.*dtype ">f4"/, out);
  });

  it('mixed C across files', async () => {
    const d = goodDir();
    writeNpySync(path.join(d, 'zz_bad.npy'), new Float32Array(2 * 2 * 32).fill(1), [2, 2, 32]);
    const out = path.join(tmpDir(), 'p.json');
    await expectFail(['fit', '--from-features', d, '--out', out], /zz_bad\.npy.*mixed C/, out);
  });

  it('empty directory', async () => {
    const d = tmpDir();
    const out = path.join(tmpDir(), 'p.json');
    await expectFail(['fit', '--from-features', d, '--out', out], /no \.npy feature files/, out);
  });

  it('corrupt (truncated) file', async () => {
    const d = goodDir();
    const bytes = encodeNpy({ dtype: 'float32', shape: [2, 2, 64], data: new Float32Array(256) });
    writeFileSync(path.join(d, 'zz_bad.npy'), bytes.subarray(0, bytes.length - 10));
    const out = path.join(tmpDir(), 'p.json');
    await expectFail(['fit', '--from-features', d, '--out', out], /zz_bad\.npy.*truncated/, out);
  });

  it('not an npy at all', async () => {
    const d = goodDir();
    writeFileSync(path.join(d, 'zz_bad.npy'), 'hello');
    const out = path.join(tmpDir(), 'p.json');
    await expectFail(['fit', '--from-features', d, '--out', out], /zz_bad\.npy.*magic/, out);
  });

  it('non-finite values', async () => {
    const d = goodDir();
    const f = new Float32Array(2 * 2 * 64);
    f[5] = NaN;
    writeNpySync(path.join(d, 'zz_bad.npy'), f, [2, 2, 64]);
    const out = path.join(tmpDir(), 'p.json');
    await expectFail(['fit', '--from-features', d, '--out', out], /zz_bad\.npy.*non-finite/, out);
  });

  it('missing label for --classwise, and malformed labels CSV', async () => {
    const d = goodDir();
    const csv = path.join(tmpDir(), 'l.csv');
    writeFileSync(csv, 'img_000,0\nimg_001,1\n');
    const out = path.join(tmpDir(), 'p.json');
    await expectFail(['fit', '--from-features', d, '--labels', csv, '--classwise', '--out', out], /img_002\.npy.*no label/, out);
    writeFileSync(csv, 'img_000,0\nimg_001;1\n');
    await expectFail(['fit', '--from-features', d, '--labels', csv, '--classwise', '--out', out], /l\.csv:2: expected "stem,classIndex"/, out);
    writeFileSync(csv, 'img_000,-1\n');
    await expectFail(['fit', '--from-features', d, '--labels', csv, '--classwise', '--out', out], /l\.csv:1: class index "-1"/, out);
    await expectFail(['fit', '--from-features', d, '--classwise', '--out', out], /--classwise needs --labels/, out);
  });

  it('localize: missing predictor file, predictor of other channels, bad --size', async () => {
    const d = goodDir();
    const od = tmpDir();
    let r = await runCli(['localize', '--predictor', path.join(od, 'nope.json'), '--from-features', d, '--size', '4,4', '--out', od]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/nope\.json: cannot read predictor/);
    const other = tmpDir();
    writeNpySync(path.join(other, 'a.npy'), Float32Array.from({ length: 2 * 2 * 8 }, (_, i) => (i * 37) % 11), [2, 2, 8]);
    writeNpySync(path.join(other, 'b.npy'), Float32Array.from({ length: 2 * 2 * 8 }, (_, i) => (i * 13) % 7), [2, 2, 8]);
    const p = path.join(od, 'p8.json');
    r = await runCli(['fit', '--from-features', other, '--out', p]);
    expect(r.code, r.stderr).to.equal(0);
    mkdirSync(path.join(od, 'maps'));
    r = await runCli(['localize', '--predictor', p, '--from-features', d, '--size', '4,4', '--out', path.join(od, 'maps')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/img_000\.npy: has 64 channels but earlier files have 8/);
    r = await runCli(['localize', '--predictor', p, '--from-features', d, '--size', '4by4', '--out', od]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/--size "4by4"/);
  });
});
