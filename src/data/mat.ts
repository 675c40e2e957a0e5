/**
 * A minimal reader for MATLAB Level 5 MAT-files (the format of the Stanford Cars devkit and Stanford Dogs lists).
 *
 * Hand-written on purpose: the only npm reader of this format (mat-for-js 1.1.0) is GPL-3.0, which this MIT project
 * cannot ship, and has a single release. This reader covers what dataset annotations use and refuses the rest with a
 * clear error: numeric arrays of every class (real; complex parts are read and kept), logical, char (UTF-16/UTF-8
 * storage), cell arrays, struct arrays, compressed variables (miCOMPRESSED via node:zlib) and the small-data-element
 * form, little- and big-endian files. Not supported: sparse arrays, objects, function handles, v7.3 (HDF5) files.
 * Untrusted input: every length is bounds-checked; nothing is evaluated.
 *
 * Storage is column-major as in MATLAB: for dims [m, n], element (i, j) is at index i + j·m.
 */
import { inflateSync } from 'node:zlib';
import { limit } from '../util/limits.js';
import { UsageError } from '../util/errors.js';
import { readFileBounded } from '../util/safe-read.js';

/** A numeric or logical array. `data` holds the real part in column-major order as float64. */
export interface MatNumeric {
  kind: 'numeric';
  /** MATLAB class: double, single, int8, …, uint64, or logical. */
  class: string;
  dims: number[];
  data: Float64Array;
  imag?: Float64Array;
}

/** A char array. `rows` are the strings of each row (a 1×n char array has one row). */
export interface MatChar {
  kind: 'char';
  dims: number[];
  rows: string[];
}

/** A cell array (column-major). */
export interface MatCell {
  kind: 'cell';
  dims: number[];
  cells: MatValue[];
}

/** A struct array: `elements[k][field]` (column-major k). */
export interface MatStruct {
  kind: 'struct';
  dims: number[];
  fields: string[];
  elements: Record<string, MatValue>[];
}

/** Any value this reader returns. */
export type MatValue = MatNumeric | MatChar | MatCell | MatStruct;

const MI = { INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, SINGLE: 7, DOUBLE: 9, INT64: 12, UINT64: 13, MATRIX: 14, COMPRESSED: 15, UTF8: 16, UTF16: 17, UTF32: 18 } as const;
const MX_CLASS: Record<number, string> = { 1: 'cell', 2: 'struct', 3: 'object', 4: 'char', 5: 'sparse', 6: 'double', 7: 'single', 8: 'int8', 9: 'uint8', 10: 'int16', 11: 'uint16', 12: 'int32', 13: 'uint32', 14: 'int64', 15: 'uint64', 16: 'function' };
const ELEM_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4 };

class Reader {
  readonly dv: DataView;
  constructor(
    readonly buf: Uint8Array,
    readonly le: boolean,
    readonly where: string,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  fail(msg: string): never {
    throw new UsageError(`${this.where}: ${msg}`);
  }
  /** Reads a data element tag at `p`: type, byte count, data offset, and the offset after the (padded) element. */
  tag(p: number): { type: number; n: number; data: number; next: number } {
    if (p + 8 > this.buf.length) {
      if (p + 4 <= this.buf.length) {
        const w = this.dv.getUint32(p, this.le);
        if (w >>> 16 !== 0) return { type: w & 0xffff, n: w >>> 16, data: p + 4, next: p + 8 };
      }
      this.fail(`truncated data element at byte ${p}`);
    }
    const w = this.dv.getUint32(p, this.le);
    if (w >>> 16 !== 0) {
      // Small data element: up to 4 bytes packed into the tag.
      const n = w >>> 16;
      if (n > 4) this.fail(`bad small data element at byte ${p}`);
      return { type: w & 0xffff, n, data: p + 4, next: p + 8 };
    }
    const n = this.dv.getUint32(p + 4, this.le);
    const data = p + 8;
    if (data + n > this.buf.length) this.fail(`data element at byte ${p} claims ${n} bytes, past the end of the file`);
    const next = Math.min(data + n + ((8 - (n % 8)) % 8), this.buf.length);
    return { type: w, n, data, next };
  }
  /** Numeric payload of an element as float64. */
  numbers(type: number, data: number, n: number): Float64Array {
    const size = ELEM_SIZE[type];
    if (!size || type === MI.UTF8 || type === MI.UTF16 || type === MI.UTF32) this.fail(`unexpected data type ${type} for numeric data`);
    if (n % size !== 0) this.fail(`numeric data of ${n} bytes is not a multiple of ${size}`);
    const count = n / size;
    const out = new Float64Array(count);
    const dv = this.dv;
    const le = this.le;
    for (let i = 0; i < count; i++) {
      const q = data + i * size;
      switch (type) {
        case MI.INT8: out[i] = dv.getInt8(q); break;
        case MI.UINT8: out[i] = dv.getUint8(q); break;
        case MI.INT16: out[i] = dv.getInt16(q, le); break;
        case MI.UINT16: out[i] = dv.getUint16(q, le); break;
        case MI.INT32: out[i] = dv.getInt32(q, le); break;
        case MI.UINT32: out[i] = dv.getUint32(q, le); break;
        case MI.SINGLE: out[i] = dv.getFloat32(q, le); break;
        case MI.DOUBLE: out[i] = dv.getFloat64(q, le); break;
        case MI.INT64: out[i] = Number(dv.getBigInt64(q, le)); break;
        case MI.UINT64: out[i] = Number(dv.getBigUint64(q, le)); break;
      }
    }
    return out;
  }
  text(type: number, data: number, n: number): number[] {
    const b = this.buf.subarray(data, data + n);
    if (type === MI.UTF8 || type === MI.UINT8 || type === MI.INT8) return [...new TextDecoder('utf-8').decode(b)].map((c) => c.codePointAt(0)!);
    if (type === MI.UTF16 || type === MI.UINT16) {
      const codes: number[] = [];
      for (let i = 0; i + 1 < n; i += 2) codes.push(this.dv.getUint16(data + i, this.le));
      return codes;
    }
    if (type === MI.UTF32 || type === MI.UINT32 || type === MI.INT32) {
      const codes: number[] = [];
      for (let i = 0; i + 3 < n; i += 4) codes.push(this.dv.getUint32(data + i, this.le));
      return codes;
    }
    return Array.from(this.numbers(type, data, n));
  }
}

function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Parses one miMATRIX payload [start, end). Returns the array name and value. */
function parseMatrix(r: Reader, start: number, end: number, depth: number): { name: string; value: MatValue } {
  if (depth > 64) r.fail('nesting deeper than 64 levels');
  if (start === end) return { name: '', value: { kind: 'numeric', class: 'double', dims: [0, 0], data: new Float64Array(0) } };
  const flagsTag = r.tag(start);
  if (flagsTag.n < 8) r.fail(`array flags element too short at byte ${start}`);
  const flags = r.dv.getUint32(flagsTag.data, r.le);
  const cls = flags & 0xff;
  const isComplex = (flags & 0x800) !== 0;
  const isLogical = (flags & 0x200) !== 0;
  const dimsTag = r.tag(flagsTag.next);
  const dims = Array.from(r.numbers(dimsTag.type, dimsTag.data, dimsTag.n));
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) r.fail(`bad dimensions [${dims.join(',')}]`);
  const nameTag = r.tag(dimsTag.next);
  const name = String.fromCharCode(...r.text(nameTag.type, nameTag.data, nameTag.n));
  let p = nameTag.next;
  const className = MX_CLASS[cls];
  const count = product(dims);
  if (!className) r.fail(`array "${name}": unknown class ${cls}`);
  if (className === 'cell') {
    const cells: MatValue[] = [];
    for (let i = 0; i < count; i++) {
      if (p >= end) r.fail(`cell array "${name}" has fewer than ${count} cells`);
      const t = r.tag(p);
      if (t.type !== MI.MATRIX) r.fail(`cell array "${name}": cell ${i} is not a matrix (type ${t.type})`);
      cells.push(parseMatrix(r, t.data, t.data + t.n, depth + 1).value);
      p = t.next;
    }
    return { name, value: { kind: 'cell', dims, cells } };
  }
  if (className === 'struct' || className === 'object') {
    if (className === 'object') {
      const ct = r.tag(p);
      p = ct.next;
    }
    const lenTag = r.tag(p);
    const fieldLen = r.numbers(lenTag.type, lenTag.data, lenTag.n)[0] ?? 0;
    const namesTag = r.tag(lenTag.next);
    p = namesTag.next;
    const fields: string[] = [];
    if (fieldLen > 0) {
      for (let off = 0; off + fieldLen <= namesTag.n; off += fieldLen) {
        const raw = r.buf.subarray(namesTag.data + off, namesTag.data + off + fieldLen);
        const z = raw.indexOf(0);
        fields.push(new TextDecoder('latin1').decode(z >= 0 ? raw.subarray(0, z) : raw));
      }
    }
    const elements: Record<string, MatValue>[] = [];
    for (let i = 0; i < count; i++) {
      const el: Record<string, MatValue> = {};
      for (const f of fields) {
        if (p >= end) r.fail(`struct array "${name}": element ${i} field "${f}" missing`);
        const t = r.tag(p);
        if (t.type !== MI.MATRIX) r.fail(`struct array "${name}": field "${f}" is not a matrix`);
        el[f] = parseMatrix(r, t.data, t.data + t.n, depth + 1).value;
        p = t.next;
      }
      elements.push(el);
    }
    if (className === 'object') r.fail(`array "${name}": MATLAB objects are not supported`);
    return { name, value: { kind: 'struct', dims, fields, elements } };
  }
  if (className === 'sparse' || className === 'function') r.fail(`array "${name}": ${className} arrays are not supported`);
  const realTag = r.tag(p);
  if (className === 'char') {
    const codes = r.text(realTag.type, realTag.data, realTag.n);
    const [m = 0, n = 0] = dims;
    const rows: string[] = [];
    for (let i = 0; i < m; i++) {
      let s = '';
      for (let j = 0; j < n; j++) s += String.fromCodePoint(codes[i + j * m] ?? 0);
      rows.push(s);
    }
    return { name, value: { kind: 'char', dims, rows } };
  }
  const data = r.numbers(realTag.type, realTag.data, realTag.n);
  if (data.length !== count) r.fail(`array "${name}": ${data.length} values for dimensions [${dims.join(',')}]`);
  const value: MatNumeric = { kind: 'numeric', class: isLogical ? 'logical' : className, dims, data };
  if (isComplex) {
    const im = r.tag(realTag.next);
    value.imag = r.numbers(im.type, im.data, im.n);
  }
  return { name, value };
}

/**
 * Parses a Level 5 MAT-file.
 * @param where file name for error messages.
 * @returns variables by name.
 * @throws UsageError naming the file for v7.3/v4 files, corrupt data or unsupported content.
 */
export function parseMat(bytes: Uint8Array, where = '<mat>'): Map<string, MatValue> {
  if (bytes.length < 128) throw new UsageError(`${where}: not a MAT-file (shorter than the 128-byte header)`);
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 116));
  if (!head.startsWith('MATLAB')) throw new UsageError(`${where}: not a Level 5 MAT-file (no "MATLAB" header text)`);
  const endian = String.fromCharCode(bytes[126]!, bytes[127]!);
  if (endian !== 'IM' && endian !== 'MI') throw new UsageError(`${where}: not a Level 5 MAT-file (endian indicator "${endian}")`);
  const le = endian === 'IM';
  const version = new DataView(bytes.buffer, bytes.byteOffset).getUint16(124, le);
  if (version === 0x0200 || /MATLAB 7\.3/.test(head)) throw new UsageError(`${where}: MAT-file v7.3 (HDF5) is not supported; save with -v7 or -v6`);
  const out = new Map<string, MatValue>();
  const top = new Reader(bytes, le, where);
  let p = 128;
  while (p + 8 <= bytes.length) {
    const t = top.tag(p);
    if (t.type === MI.COMPRESSED) {
      let inner: Uint8Array;
      try {
        inner = new Uint8Array(inflateSync(bytes.subarray(t.data, t.data + t.n), { maxOutputLength: limit('arrayBytes') }));
      } catch (e) {
        throw new UsageError(`${where}: corrupt compressed variable at byte ${p}: ${(e as Error).message}`);
      }
      const r = new Reader(inner, le, where);
      const it = r.tag(0);
      if (it.type !== MI.MATRIX) throw new UsageError(`${where}: compressed element at byte ${p} does not hold a matrix`);
      const { name, value } = parseMatrix(r, it.data, it.data + it.n, 0);
      out.set(name, value);
      p = t.data + t.n; // compressed elements are not padded
    } else if (t.type === MI.MATRIX) {
      const { name, value } = parseMatrix(top, t.data, t.data + t.n, 0);
      out.set(name, value);
      p = t.next;
    } else {
      p = t.next;
    }
  }
  return out;
}

/** Reads and parses a MAT-file from disk (see {@link parseMat}). */
export function readMat(file: string): Map<string, MatValue> {
  return parseMat(new Uint8Array(readFileBounded(file, 'arrayBytes', 'MAT-file')), file);
}

// ---- accessors with clear errors ------------------------------------------------------------------------------------

/** The variable `name`, or a UsageError naming the file and key. */
export function matVar(vars: Map<string, MatValue>, name: string, where: string): MatValue {
  const v = vars.get(name);
  if (!v) throw new UsageError(`${where}: no variable "${name}" (has: ${[...vars.keys()].join(', ') || 'none'})`);
  return v;
}

/** A char array (or a cell holding one) as one string (rows joined with newlines; trailing blanks trimmed). */
export function matString(v: MatValue, where: string): string {
  if (v.kind === 'char') return v.rows.map((s) => s.replace(/[\s\0]+$/, '')).join('\n');
  if (v.kind === 'cell' && v.cells.length === 1) return matString(v.cells[0]!, where);
  throw new UsageError(`${where}: expected a string, found a ${v.kind} array`);
}

/** A numeric scalar (or 1-element cell). */
export function matNumber(v: MatValue, where: string): number {
  if (v.kind === 'numeric' && v.data.length === 1) return v.data[0]!;
  if (v.kind === 'cell' && v.cells.length === 1) return matNumber(v.cells[0]!, where);
  throw new UsageError(`${where}: expected a number, found a ${v.kind} array of ${v.kind === 'numeric' ? v.data.length : 'other'} values`);
}

/** All values of a numeric array (column-major). */
export function matNumbers(v: MatValue, where: string): number[] {
  if (v.kind === 'numeric') return Array.from(v.data);
  if (v.kind === 'cell') return v.cells.map((c, i) => matNumber(c, `${where}[${i}]`));
  throw new UsageError(`${where}: expected numbers, found a ${v.kind} array`);
}

/** A cell array of strings (column-major), also a char matrix (one string per row). */
export function matStrings(v: MatValue, where: string): string[] {
  if (v.kind === 'cell') return v.cells.map((c, i) => matString(c, `${where}[${i}]`));
  if (v.kind === 'char') return v.rows.map((s) => s.replace(/[\s\0]+$/, ''));
  throw new UsageError(`${where}: expected a cell array of strings, found a ${v.kind} array`);
}

/** The elements of a struct array, checking that the fields exist. */
export function matStructElements(v: MatValue, fields: readonly string[], where: string): Record<string, MatValue>[] {
  if (v.kind !== 'struct') throw new UsageError(`${where}: expected a struct array, found a ${v.kind} array`);
  for (const f of fields) if (!v.fields.includes(f)) throw new UsageError(`${where}: struct has no field "${f}" (has: ${v.fields.join(', ')})`);
  return v.elements;
}
