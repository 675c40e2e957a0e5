// A long evaluation loses nothing (end-to-end issue): with `--map-cache DIR` every map is written atomically as soon as
// it is computed, so a run killed at any point leaves only whole maps; rerun, it reuses them and computes the rest. The
// results are the bytes of an uninterrupted run. Simulated here by deleting part of a finished cache (what a kill
// after k images leaves) and by damaging one map (recomputed); a cache of another predictor is refused by name.
import { expect } from 'chai';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';

const CUB = path.resolve('data/tiny-cub');

describe('uol evaluate --map-cache: resume and reuse', function () {
  this.timeout(300_000);

  it('a partial (killed) cache resumes to byte-identical results; damaged maps are recomputed; another predictor is refused', async () => {
    const dir = tmpDir();
    const pred = path.join(dir, 'p.json');
    expect((await runCli(['fit', '--dataset', 'cub', '--data-dir', CUB, '--out', pred])).code).to.equal(0);
    const evalArgs = (out: string, extra: string[] = []) => ['evaluate', '--predictor', pred, '--no-store-threshold', '--dataset', 'cub', '--data-dir', CUB, '--out', out, '--json', ...extra];
    const plain = await runCli(evalArgs(path.join(dir, 'plain')));
    expect(plain.code, plain.stderr).to.equal(0);

    const cache = path.join(dir, 'cache');
    const first = await runCli(evalArgs(path.join(dir, 'first'), ['--map-cache', cache]));
    expect(first.code, first.stderr).to.equal(0);
    const j1 = JSON.parse(first.stdout) as { images: number; mapCache: { reused: number; computed: number } };
    expect(j1.mapCache).to.deep.equal({ reused: 0, computed: j1.images });
    const splitDir = path.join(cache, 'test');
    const maps = readdirSync(splitDir).filter((f) => f.endsWith('.npy')).sort();
    expect(maps).to.have.length(j1.images);

    // What a kill after 3 images leaves: 3 whole maps. Plus one damaged map.
    for (const f of maps.slice(3)) rmSync(path.join(splitDir, f));
    writeFileSync(path.join(splitDir, maps[0]!), 'not a map');
    const resumed = await runCli(evalArgs(path.join(dir, 'resumed'), ['--map-cache', cache]));
    expect(resumed.code, resumed.stderr).to.equal(0);
    const j2 = JSON.parse(resumed.stdout) as { mapCache: { reused: number; computed: number } };
    expect(j2.mapCache).to.deep.equal({ reused: 2, computed: j1.images - 2 });
    const again = await runCli(evalArgs(path.join(dir, 'again'), ['--map-cache', cache]));
    expect((JSON.parse(again.stdout) as { mapCache: unknown }).mapCache).to.deep.equal({ reused: j1.images, computed: 0 });
    for (const run of ['first', 'resumed', 'again']) {
      expect(readFileSync(path.join(dir, run, 'results.json'), 'utf8'), run).to.equal(readFileSync(path.join(dir, 'plain', 'results.json'), 'utf8'));
    }

    // Another predictor: refused, naming the identity file and the key.
    const other = path.join(dir, 'q.json');
    expect((await runCli(['fit', '--dataset', 'cub', '--data-dir', CUB, '--classwise', '--out', other])).code).to.equal(0);
    const bad = await runCli(['evaluate', '--predictor', other, '--dataset', 'cub', '--data-dir', CUB, '--out', path.join(dir, 'bad'), '--map-cache', cache]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/map-cache\.json: the maps in .* were computed with another predictor/);
  });
});
