// A long evaluation loses nothing (end-to-end issue): with `--map-cache DIR` every map is written atomically as soon as
// it is computed, so a run killed at any point leaves only whole maps; rerun, it reuses them and computes the rest. The
// results are the bytes of an uninterrupted run. Simulated here by deleting part of a finished cache (what a kill
// after k images leaves) and by damaging one map (recomputed); a cache of another predictor is refused by name.
import { expect } from 'chai';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_BACKBONE, loadBackbone } from '../src/backbones/node/registry.js';
import { localizeRecords } from '../src/pipeline/localize.js';
import { wholeProtocol } from '../src/data/transforms.js';
import { fitOnRecords } from '../src/pipeline/fit-run.js';
import { expectNoLeak } from './helpers/leak.js';
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
    // Storing τ in the predictor does not change a map: the cache stays valid.
    const storing = await runCli(evalArgs(path.join(dir, 'storing'), ['--map-cache', cache]).filter((x) => x !== '--no-store-threshold'));
    expect(storing.code, storing.stderr).to.equal(0);
    expect((JSON.parse(storing.stdout) as { storedThreshold: boolean }).storedThreshold).to.equal(true);
    const afterStore = await runCli(evalArgs(path.join(dir, 'after-store'), ['--map-cache', cache]));
    expect((JSON.parse(afterStore.stdout) as { mapCache: unknown }).mapCache).to.deep.equal({ reused: j1.images, computed: 0 });
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

describe('localizeRecords with a map cache (library)', function () {
  this.timeout(120_000);

  it('stores computed maps, serves cached ones without the backbone, same results; leak-free both ways', async () => {
    const fe = await loadBackbone(DEFAULT_BACKBONE);
    let calls = 0;
    const counting = { ...fe, extract: (x: Parameters<typeof fe.extract>[0]) => (calls++, fe.extract(x)) };
    const records = ['skimage_coffee.jpg', 'opencv_apple.jpg', 'darknet_eagle.jpg'].map((f) => ({ id: f, file: path.resolve('data', f) }));
    try {
      const { predictor } = await fitOnRecords({ backbone: fe, records, sourceDescription: 'three photos', listingHash: 'x', tool: 'test' });
      const store = new Map<string, Float32Array>();
      const mapCache = {
        load: async (r: { id: string }) => store.get(r.id)?.slice(),
        store: async (r: { id: string }, m: Float32Array) => void store.set(r.id, m.slice()),
      };
      const maps = (runs: Map<string, Float32Array>) => ({ onMap: (r: { id: string }, m: Float32Array) => void runs.set(r.id, m.slice()) });
      const a = new Map<string, Float32Array>();
      const b = new Map<string, Float32Array>();
      const opts = { backbone: counting, predictor, records, protocol: wholeProtocol(224), threshold: 0.4, batchSize: 2, mapCache };
      const r1 = await expectNoLeak(() => localizeRecords({ ...opts, ...maps(a) }), 'localize, maps computed');
      expect(calls).to.equal(2);
      expect([...store.keys()].sort()).to.deep.equal(records.map((r) => r.id).sort());
      const r2 = await expectNoLeak(() => localizeRecords({ ...opts, ...maps(b) }), 'localize, maps cached');
      expect(calls, 'no backbone call when every map of a batch is cached').to.equal(2);
      expect(r2.results.map((r) => r.box)).to.deep.equal(r1.results.map((r) => r.box));
      for (const [id, m] of a) expect(Buffer.from(b.get(id)!.buffer).equals(Buffer.from(m.buffer)), id).to.equal(true);
    } finally {
      fe.dispose();
    }
  });
});
