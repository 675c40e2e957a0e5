// Map production on its own (src/pipeline/maps.ts): the maps `streamMaps` yields are the maps `localizeRecords` boxes
// (bit for bit), and no tensor outlives an iteration — finished, stopped early by the consumer, or ended by an error
// raised before the backbone runs (a record without the class a class-wise predictor needs, a failing map cache), which
// used to leave the batch's input tensor alive.
import { expect } from 'chai';
import * as path from 'node:path';
import { DEFAULT_BACKBONE, loadBackbone } from '../src/backbones/node/registry.js';
import type { FeatureExtractor } from '../src/backbones/types.js';
import { wholeProtocol } from '../src/data/transforms.js';
import { fitOnRecords } from '../src/pipeline/fit-run.js';
import { localizeRecords } from '../src/pipeline/localize.js';
import { streamMaps } from '../src/pipeline/maps.js';
import type { Predictor } from '../src/rps/predictor.js';
import { isUsageError } from '../src/util/errors.js';
import { expectNoLeak } from './helpers/leak.js';

const records = ['skimage_coffee.jpg', 'opencv_apple.jpg', 'darknet_eagle.jpg'].map((f) => ({ id: f, file: path.resolve('data', f) }));

describe('streamMaps (maps for records)', function () {
  this.timeout(120_000);
  let fe: FeatureExtractor;
  let predictor: Predictor;

  before(async () => {
    fe = await loadBackbone(DEFAULT_BACKBONE);
    predictor = (await fitOnRecords({ backbone: fe, records, sourceDescription: 'three photos', listingHash: 'x', tool: 'test' })).predictor;
  });
  after(() => fe?.dispose());

  it('yields the maps localizeRecords boxes, in record order, leak-free', async () => {
    const base = { backbone: fe, predictor, records, protocol: wholeProtocol(224), batchSize: 2 };
    const fromLocalize = new Map<string, Float32Array>();
    await localizeRecords({ ...base, threshold: 0.4, onMap: (r, m) => void fromLocalize.set(r.id, m.slice()) });
    const ids: string[] = [];
    await expectNoLeak(async () => {
      const s = streamMaps(base);
      expect(s.size).to.deep.equal([224, 224]);
      for await (const m of s) {
        ids.push(m.record.id);
        expect(m.original.width).to.be.greaterThan(0);
        expect(Buffer.from(m.map.slice().buffer).equals(Buffer.from(fromLocalize.get(m.record.id)!.buffer)), m.record.id).to.equal(true);
      }
    }, 'streamMaps');
    expect(ids).to.deep.equal(records.map((r) => r.id));
  });

  it('a consumer stopping early leaves no tensor', async () => {
    await expectNoLeak(async () => {
      for await (const m of streamMaps({ backbone: fe, predictor, records, protocol: wholeProtocol(224), batchSize: 2 })) {
        expect(m.map.length).to.equal(224 * 224);
        break;
      }
    }, 'early break');
  });

  const failing = async (what: string, run: () => Promise<unknown>, message: RegExp): Promise<void> => {
    let err: unknown;
    await expectNoLeak(async () => {
      try {
        await run();
      } catch (e) {
        err = e;
      }
    }, what);
    expect(err, what).to.be.instanceOf(Error);
    expect((err as Error).message).to.match(message);
  };

  it('errors before the backbone runs release the batch input (class rows, map cache)', async () => {
    const classwise: Predictor = { ...predictor, classwise: true, classes: [{ index: 0 }], perClassWeights: predictor.weights.slice() };
    const opts = { backbone: fe, predictor: classwise, records, protocol: wholeProtocol(224), batchSize: 2, threshold: 0.5 };
    await failing('no class label', () => localizeRecords(opts), /skimage_coffee\.jpg: no class label for the class-wise predictor/);
    const labelled = records.map((r) => ({ ...r, label: 3 }));
    await failing('class without w', () => localizeRecords({ ...opts, records: labelled }), /class 3 has no w in the predictor/);
    const mapCache = {
      load: () => Promise.reject(new Error('cache unreadable')),
      store: () => Promise.resolve(),
    };
    await failing('map cache load', () => localizeRecords({ ...opts, predictor, mapCache }), /cache unreadable/);
  });

  it('refuses a run without predictor or caam, naming both options', () => {
    let err: unknown;
    try {
      streamMaps({ backbone: fe, records, protocol: wholeProtocol(224) });
    } catch (e) {
      err = e;
    }
    expect(isUsageError(err)).to.equal(true);
    expect((err as { options: string[] }).options).to.deep.equal(['predictor', 'caam']);
  });
});
