// Full-protocol evaluation on a masks-only dataset (OpenImages layout of wsolevaluation): PxAP and PIoU, the same numbers
// from `uol evaluate --scoremaps` on the exported maps and masks.
import { expect } from 'chai';
import * as path from 'node:path';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';

const OI = path.resolve('spec/fixtures/data/datasets/wsol_oi');

describe('evaluate with masks (OpenImages layout)', function () {
  this.timeout(120_000);

  it('PxAP/PIoU from the full protocol equal those of --scoremaps on the exported maps', async () => {
    const d = tmpDir();
    const exp = path.join(d, 'exp');
    let r = await runCli(['evaluate', '--caam', '--dataset', 'wsol', '--data-dir', path.join(OI, 'dataset/OpenImages'), '--metadata', path.join(OI, 'metadata/OpenImages'), '--out', path.join(d, 'ev'), '--export-scoremaps', exp, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const full = JSON.parse(r.stdout) as { PxAP: number; PIoU: number; MaxBoxAcc?: number; images: number };
    expect(full.images).to.equal(3);
    expect(full.MaxBoxAcc).to.equal(undefined);
    expect(full.PxAP).to.be.within(0, 100);
    r = await runCli(['evaluate', '--scoremaps', path.join(exp, 'scoremaps'), '--metadata', path.join(exp, 'metadata'), '--mask-root', exp, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const saved = JSON.parse(r.stdout) as { PxAP: number; PIoU: number };
    expect(saved.PxAP).to.equal(full.PxAP);
    expect(saved.PIoU).to.equal(full.PIoU);
  });
});
