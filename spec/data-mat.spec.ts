// MAT v5 reader against files written by scipy.io.savemat, compared with scipy.io.loadmat's reading (tools/ref_mat.py).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parseMat, readMat, matVar, matStrings, matNumbers, matStructElements, matString, matNumber, type MatValue } from '../src/data/mat.js';

const FIX = 'spec/fixtures/data/mat';

type Expected = { num?: number[]; re?: number[]; im?: number[]; char?: string[]; cell?: Expected[]; struct?: Record<string, Expected>[]; dims: number[]; dtype?: string };

function compare(v: MatValue, e: Expected, where: string): void {
  if (e.struct) {
    expect(v.kind, where).to.equal('struct');
    if (v.kind !== 'struct') return;
    expect(v.dims, where).to.deep.equal(e.dims);
    expect(v.elements.length).to.equal(e.struct.length);
    e.struct.forEach((el, i) => {
      for (const [k, ev] of Object.entries(el)) compare(v.elements[i]![k]!, ev, `${where}[${i}].${k}`);
    });
  } else if (e.cell) {
    expect(v.kind, where).to.equal('cell');
    if (v.kind !== 'cell') return;
    expect(v.dims, where).to.deep.equal(e.dims);
    e.cell.forEach((c, i) => compare(v.cells[i]!, c, `${where}{${i}}`));
  } else if (e.char) {
    expect(v.kind, where).to.equal('char');
    if (v.kind !== 'char') return;
    expect(v.rows, where).to.deep.equal(e.char);
  } else if (e.re) {
    expect(v.kind).to.equal('numeric');
    if (v.kind !== 'numeric') return;
    expect(Array.from(v.data), where).to.deep.equal(e.re);
    expect(Array.from(v.imag ?? []), where).to.deep.equal(e.im);
  } else {
    expect(v.kind, where).to.equal('numeric');
    if (v.kind !== 'numeric') return;
    expect(v.dims, where).to.deep.equal(e.dims.length === 1 ? [1, e.dims[0]] : e.dims);
    expect(Array.from(v.data), where).to.deep.equal(e.num);
  }
}

describe('MAT v5 reader (vs scipy.io.loadmat)', () => {
  const expected = JSON.parse(readFileSync(`${FIX}/expected.json`, 'utf8')) as Record<string, Record<string, Expected>>;
  for (const [file, vars] of Object.entries(expected)) {
    it(`${file}: every variable reads as scipy reads it`, () => {
      const got = readMat(`${FIX}/${file}`);
      expect([...got.keys()].sort()).to.deep.equal(Object.keys(vars).sort());
      for (const [k, e] of Object.entries(vars)) compare(got.get(k)!, e, `${file}:${k}`);
      // classes survive
      expect((got.get('m_int8') as { class: string }).class).to.equal('int8');
      expect((got.get('m_logical') as { class: string }).class).to.equal('logical');
    });
  }

  it('accessors: Cars-like struct array and Dogs-like cell lists', () => {
    const v = readMat(`${FIX}/vars_z.mat`);
    const els = matStructElements(matVar(v, 'annotations', 'f'), ['bbox_x1', 'fname', 'class'], 'f');
    expect(els.map((e) => matString(e.fname!, 'f'))).to.deep.equal(['00001.jpg', '00002.jpg', '00003.jpg', '00004.jpg', '00005.jpg']);
    expect(els.map((e) => matNumber(e.bbox_x1!, 'f'))).to.deep.equal([10, 11, 12, 13, 14]);
    expect(matStrings(matVar(v, 'class_names', 'f'), 'f')).to.deep.equal(['AM General Hummer SUV 2000', 'Acura RL Sedan 2012', 'Ünïcødé Car']);
    expect(matStrings(matVar(v, 'file_list', 'f'), 'f')[1]).to.equal('n02085782-Japanese_spaniel/n02085782_2.jpg');
    expect(matNumbers(matVar(v, 'labels', 'f'), 'f')).to.deep.equal([1, 2]);
    expect(() => matVar(v, 'nope', 'x.mat')).to.throw(/^x\.mat: no variable "nope"/);
    expect(() => matStructElements(matVar(v, 'annotations', 'x.mat'), ['bbox'], 'x.mat')).to.throw(/struct has no field "bbox"/);
  });

  it('refuses non-v5, truncated and corrupt files with the file named', () => {
    expect(() => readMat(`${FIX}/v4.mat`)).to.throw(/v4\.mat: not a/);
    expect(() => readMat(`${FIX}/missing.mat`)).to.throw(/missing\.mat: cannot read MAT-file: no such file/);
    const raw = new Uint8Array(readFileSync(`${FIX}/vars_raw.mat`));
    expect(() => parseMat(raw.subarray(0, 300), 'cut.mat')).to.throw(/^cut\.mat: /);
    const z = new Uint8Array(readFileSync(`${FIX}/vars_z.mat`));
    const bad = z.slice();
    for (let i = 140; i < 180; i++) bad[i] = 0x55;
    expect(() => parseMat(bad, 'bad.mat')).to.throw(/^bad\.mat: /);
    const h73 = new Uint8Array(200);
    h73.set(new TextEncoder().encode('MATLAB 7.3 MAT-file, Platform: x'));
    h73[124] = 0;
    h73[125] = 2;
    h73[126] = 0x49;
    h73[127] = 0x4d;
    expect(() => parseMat(h73, 'h5.mat')).to.throw(/h5\.mat: MAT-file v7\.3 \(HDF5\) is not supported/);
  });
});
