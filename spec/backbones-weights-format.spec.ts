// Converted-model container: shards of at most the shard size, written in a stream, read back bit-exactly with the
// recorded sha256; damaged shards are refused naming the file. Plus the pickle reader's opcode handling on hand-made
// pickles (protocols 0, 2, 4), independent of torch.
import { expect } from 'chai';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { readConvertedModel, writeConvertedModel, type NamedArray } from '../src/weights/tfjs-format.js';
import { PyDict, unpickle, type GlobalHandler } from '../src/weights/pickle.js';
import { isUsageError } from '../src/util/errors.js';
import { tmpDir } from './helpers/tmp.js';

const META = {
  generatedBy: 'test',
  backbone: { name: 't', arch: 'x', family: 'vit', config: {} },
  provenance: { source: 's', sourceSha256: '0', sourceFormat: 'pth-zip', arch: 'x', keyMap: 'dino', keyMapVersion: 1, container: [], prefix: '', droppedHeads: [], sourceDtypes: {}, convertedAt: '', convertedBy: 't' },
};

describe('converted-model files', () => {
  it('splits weights into shards ≤ the shard size and reads them back exactly', async () => {
    const dir = tmpDir();
    const weights: NamedArray[] = [
      { name: 'a', shape: [3, 700], data: Float32Array.from({ length: 2100 }, (_, i) => Math.sin(i)) },
      { name: 'b', shape: [250], data: Float32Array.from({ length: 250 }, (_, i) => i / 7) },
      { name: 'c', shape: [1000], data: Float32Array.from({ length: 1000 }, (_, i) => -i) },
    ];
    const json = await writeConvertedModel(dir, META, weights, 4096);
    const total = (2100 + 250 + 1000) * 4;
    expect(json.weightsManifest[0]!.paths.length).to.equal(Math.ceil(total / 4096));
    for (const p of json.weightsManifest[0]!.paths) expect(statSync(path.join(dir, p)).size).to.be.at.most(4096);
    const back = await readConvertedModel(dir);
    for (const w of weights) expect(Array.from(back.weights.get(w.name)!.data)).to.deep.equal(Array.from(w.data));
    // Rewriting with fewer shards removes the stale ones.
    await writeConvertedModel(dir, META, weights, 1 << 20);
    expect(readdirSync(dir).filter((f) => f.endsWith('.bin'))).to.deep.equal(['group1-shard1of1.bin']);
    // A modified shard is refused by the sha256 check, naming the model.json.
    writeFileSync(path.join(dir, 'group1-shard1of1.bin'), new Uint8Array(total));
    const err = await readConvertedModel(dir).catch((e: Error) => e);
    expect(isUsageError(err)).to.equal(true);
    expect((err as Error).message).to.contain('model.json').and.contain('sha256');
  });
});

describe('restricted unpickler', () => {
  const globals = new Map<string, GlobalHandler>([['collections.OrderedDict', { call: () => new PyDict('collections.OrderedDict') }]]);
  it('reads protocol-0 text opcodes, protocol-2 binary opcodes and protocol-4 frames/memoize', () => {
    // bytes of Python 3.11 pickle.dumps({'a': [1, 2.5, 'x'], 'b': (None, True)}, protocol=0)
    const p0 = Buffer.from("(dp0\nVa\np1\n(lp2\nI1\naF2.5\naVx\np3\nasVb\np4\n(NI01\ntp5\ns.", 'latin1');
    const v0 = unpickle(p0, { globals }).value as PyDict;
    expect(v0.get('a')).to.deep.equal([1, 2.5, 'x']);
    expect(v0.get('b')).to.deep.equal([null, true]);
    // bytes of Python 3.11 pickle.dumps(collections.OrderedDict(k=-3), protocol=2)
    const p2 = Buffer.from('800263636f6c6c656374696f6e730a4f726465726564446963740a71002952710158010000006b71024afdffffff732e', 'hex');
    const v2 = unpickle(p2, { globals }).value as PyDict;
    expect(v2.cls).to.equal('collections.OrderedDict');
    expect(v2.get('k')).to.equal(-3);
    // bytes of Python 3.11 pickle.dumps([2**70, b'\x00\x01', 'é'], protocol=4)
    const p4 = Buffer.from('8004951a000000000000005d94288a0900000000000000004043020001948c02c3a994652e', 'hex');
    const v4 = unpickle(p4, { globals }).value as unknown[];
    expect(v4[0]).to.equal(2n ** 70n);
    expect(Array.from(v4[1] as Uint8Array)).to.deep.equal([0, 1]);
    expect(v4[2]).to.equal('é');
  });
  it('refuses unknown globals when they are named, and truncated input', () => {
    const evil = Buffer.from('\x80\x02cposix\nsystem\nq\x00.', 'latin1');
    expect(() => unpickle(evil, { globals })).to.throw('refusing global "posix.system"');
    expect(() => unpickle(Buffer.from('\x80\x02X\xff\x00\x00\x00ab', 'latin1'), { globals })).to.throw('truncated');
  });
});
