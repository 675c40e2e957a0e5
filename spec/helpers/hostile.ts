// Generators of hostile inputs for spec/hostile-inputs.spec.ts, written from the format specifications (RFC 1951
// deflate, PKWARE APPNOTE zip, Python pickle opcodes, safetensors, npy), small on disk: the bombs are a few MB that
// declare or inflate to GBs.
import { crc32, inflateRawSync } from 'node:zlib';

/** Little-endian bit writer for deflate streams (Huffman codes are written most significant bit first). */
class Bits {
  private buf: Uint8Array;
  private n = 0;
  private acc = 0;
  private nacc = 0;
  constructor(cap: number) {
    this.buf = new Uint8Array(cap);
  }
  /** Writes `len` bits of `v`, least significant first. */
  put(v: number, len: number): void {
    for (let i = 0; i < len; i++) {
      this.acc |= ((v >>> i) & 1) << this.nacc;
      if (++this.nacc === 8) {
        this.buf[this.n++] = this.acc;
        this.acc = 0;
        this.nacc = 0;
      }
    }
  }
  /** Writes a Huffman code of `len` bits, most significant bit first. */
  code(c: number, len: number): void {
    for (let i = len - 1; i >= 0; i--) this.put((c >>> i) & 1, 1);
  }
  bytes(): Uint8Array {
    if (this.nacc) this.buf[this.n++] = this.acc;
    return this.buf.subarray(0, this.n);
  }
}

/**
 * A raw deflate stream (one fixed-Huffman block) that inflates to `size` zero bytes: a literal 0, then repeated
 * <length 258, distance 1> matches (13 bits per 258 bytes, ≈ 1:160).
 */
export function deflateBomb(size: number): Uint8Array {
  const matches = Math.floor((size - 1) / 258);
  const rest = size - 1 - matches * 258;
  const b = new Bits(Math.ceil(((matches + rest + 4) * 13) / 8) + 16);
  b.put(1, 1); // BFINAL
  b.put(1, 2); // BTYPE = 01, fixed Huffman
  b.code(0x30, 8); // literal 0
  for (let i = 0; i < matches; i++) {
    b.code(0xc5, 8); // length symbol 285 (258), fixed code 11000101
    b.code(0, 5); // distance code 0 (distance 1)
  }
  for (let i = 0; i < rest; i++) b.code(0x30, 8);
  b.code(0, 7); // end of block (256)
  const out = b.bytes();
  if (size <= 1 << 20 && inflateRawSync(out).length !== size) throw new Error('deflateBomb: self-check failed');
  return out;
}

/** One zip entry: `data` as stored in the archive (already deflated when method is 8). */
export interface ZipEntrySpec {
  name: string;
  data: Uint8Array;
  /** 0 stored, 8 deflated. */
  method?: 0 | 8;
  /** Uncompressed size to declare (default data.length); declared through a Zip64 extra field when ≥ 2^32 - 1. */
  size?: number;
}

/** A minimal zip archive (local headers, central directory, end record; Zip64 extra fields where sizes need them). */
export function makeZip(entries: ZipEntrySpec[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let off = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const size = e.size ?? e.data.length;
    const z64 = size >= 0xffffffff;
    const extra = Buffer.alloc(z64 ? 20 : 0);
    if (z64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(16, 2);
      extra.writeBigUInt64LE(BigInt(size), 4);
      extra.writeBigUInt64LE(BigInt(e.data.length), 12);
    }
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(z64 ? 45 : 20, 4);
    local.writeUInt16LE(e.method ?? 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(z64 ? 0xffffffff : e.data.length, 18);
    local.writeUInt32LE(z64 ? 0xffffffff : size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(z64 ? 45 : 20, 4);
    cd.writeUInt16LE(z64 ? 45 : 20, 6);
    cd.writeUInt16LE(e.method ?? 0, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(z64 ? 0xffffffff : e.data.length, 20);
    cd.writeUInt32LE(z64 ? 0xffffffff : size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt16LE(extra.length, 30);
    cd.writeUInt32LE(off, 42);
    parts.push(local, name, extra, e.data);
    central.push(cd, name, extra);
    off += local.length + name.length + extra.length + e.data.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(off, 16);
  return Buffer.concat([...parts, cdBytes, end]);
}

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
const shortUnicode = (s: string): number[] => [0x8c, s.length, ...ascii(s)];

/**
 * data.pkl of a state dict `{"w": FloatTensor of numel elements, shape [numel]}` whose storage is archive entry "0"
 * (the layout torch.save writes, protocol 2).
 */
export function stateDictPickle(numel: number): Uint8Array {
  const int4 = (v: number): number[] => [0x4a, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  return Uint8Array.from([
    0x80, 0x02, 0x7d, 0x28, ...shortUnicode('w'),
    0x63, ...ascii('torch._utils\n_rebuild_tensor_v2\n'),
    0x28, // MARK (args)
    0x28, ...shortUnicode('storage'), 0x63, ...ascii('torch\nFloatStorage\n'), ...shortUnicode('0'), ...shortUnicode('cpu'), ...int4(numel), 0x74, 0x51, // persistent id tuple, BINPERSID
    0x4b, 0x00, // storage offset 0
    ...int4(numel), 0x85, // size (numel,)
    0x4b, 0x01, 0x85, // stride (1,)
    0x89, // requires_grad False
    0x7d, // backward hooks {}
    0x74, 0x52, // TUPLE, REDUCE
    0x75, 0x2e, // SETITEMS, STOP
  ]);
}

/** A bare pickle holding one LONG4 integer of `n` bytes. */
export function long4Pickle(n: number): Uint8Array {
  const out = new Uint8Array(2 + 5 + n + 1);
  out.set([0x80, 0x02, 0x8b, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]);
  out.fill(0x5a, 7, 7 + n);
  out[7 + n] = 0x2e;
  return out;
}

/** A bare pickle: a list extended by one APPENDS of `n` items (BININT1 0 each). */
export function appendsPickle(n: number): Uint8Array {
  const out = new Uint8Array(4 + 2 * n + 2);
  out.set([0x80, 0x02, 0x5d, 0x28]);
  for (let i = 0; i < n; i++) out.set([0x4b, 0x00], 4 + 2 * i);
  out.set([0x65, 0x2e], 4 + 2 * n);
  return out;
}

/** A `.npy` (v1.0) with a literal header text (padded) and `data`. */
export function npyWithHeader(header: string, data: Uint8Array): Uint8Array {
  let h = header;
  h += ' '.repeat((64 - ((10 + h.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + h.length + data.length);
  out.set([0x93, ...ascii('NUMPY'), 1, 0, h.length & 0xff, h.length >> 8]);
  out.set(ascii(h), 10);
  out.set(data, 10 + h.length);
  return out;
}
