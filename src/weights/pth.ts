/**
 * Reader for PyTorch `torch.save` files, both layouts:
 * - zip (torch ≥ 1.6): `<root>/data.pkl` (pickle; tensors as persistent ids) + `<root>/data/<key>` raw storages;
 * - legacy (`_use_new_zipfile_serialization=False`, 2019–2020 files): magic, protocol and sys-info pickles, the main
 *   pickle, a pickle listing storage keys, then for each key an int64 element count and the raw bytes.
 * The pickle is read by the restricted unpickler (weights/pickle.ts) with an allowlist of data-only globals; tensor
 * bytes are read lazily and only for the tensors a conversion asks for.
 */
import { open as openFile } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import { readFileBoundedAsync } from '../util/safe-read.js';
import { limit, limitEnv } from '../util/limits.js';
import { PickleError, PyDict, PyGlobalRef, PyObject, unpickle, type GlobalHandler, type PyValue } from './pickle.js';
import { DTYPE_SIZE, StorageRef, TensorRef, type TensorDtype } from './tensor-ref.js';
import { ZipArchive } from './zip.js';

/** Storage classes torch pickles by name → element type. */
const STORAGE_TYPES: Record<string, TensorDtype> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** torch dtype objects that may appear as plain values (e.g. in saved args). */
const TORCH_DTYPES = ['float32', 'float', 'float64', 'double', 'float16', 'half', 'bfloat16', 'int64', 'long', 'int32', 'int', 'int16', 'int8', 'uint8', 'bool'];

function asInt(v: PyValue, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new PickleError(`${what} is not an integer`);
  return v;
}

function asIntList(v: PyValue, what: string): number[] {
  if (!Array.isArray(v)) throw new PickleError(`${what} is not a tuple`);
  return v.map((x, i) => asInt(x, `${what}[${i}]`));
}

function rebuildTensor(args: PyValue[], fn: string): TensorRef {
  if (args.length < 4) throw new PickleError(`${fn} called with ${args.length} arguments`);
  const storage = args[0];
  if (!(storage instanceof StorageRef)) throw new PickleError(`${fn}: first argument is not a storage`);
  const shape = asIntList(args[2]!, `${fn} size`);
  const stride = asIntList(args[3]!, `${fn} stride`);
  if (shape.length !== stride.length) throw new PickleError(`${fn}: size and stride have different lengths`);
  return new TensorRef(storage, asInt(args[1]!, `${fn} storage_offset`), shape, stride);
}

function numpyScalar(args: PyValue[]): PyValue {
  const [dtype, raw] = args;
  if (!(dtype instanceof PyObject) || dtype.cls !== 'numpy.dtype' || !(raw instanceof Uint8Array)) throw new PickleError('numpy scalar with unexpected arguments');
  const code = String(dtype.args[0]);
  const st = dtype.state;
  const order = Array.isArray(st) && typeof st[1] === 'string' ? st[1] : '<';
  if (order === '>') throw new PickleError(`big-endian numpy scalar (${code}) is not supported`);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const readers: Record<string, () => number | bigint | boolean> = {
    f8: () => dv.getFloat64(0, true),
    f4: () => dv.getFloat32(0, true),
    i8: () => dv.getBigInt64(0, true),
    u8: () => dv.getBigUint64(0, true),
    i4: () => dv.getInt32(0, true),
    u4: () => dv.getUint32(0, true),
    i2: () => dv.getInt16(0, true),
    u2: () => dv.getUint16(0, true),
    i1: () => dv.getInt8(0),
    u1: () => dv.getUint8(0),
    b1: () => dv.getUint8(0) !== 0,
  };
  const r = readers[code];
  if (!r) throw new PickleError(`numpy scalar of dtype ${code} is not supported`);
  const v = r();
  return typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * The allowlist: every global a torch checkpoint may name, each mapped to a data-only constructor. Anything else
 * (`os.system`, `posix.system`, `builtins.eval`, model classes, …) makes the read fail naming the global.
 */
export function torchGlobals(): Map<string, GlobalHandler> {
  const g = new Map<string, GlobalHandler>();
  let tensors = 0;
  const maxTensors = limit('checkpointTensors');
  const rebuild = (a: PyValue[], fn: string): TensorRef => {
    if (++tensors > maxTensors) throw new PickleError(`more than ${maxTensors} tensors, over the cap (raise it with ${limitEnv('checkpointTensors')} if the file is genuine)`);
    return rebuildTensor(a, fn);
  };
  const ordered = (args: PyValue[]): PyValue => {
    const d = new PyDict('collections.OrderedDict');
    const items = args[0];
    if (Array.isArray(items))
      for (const kv of items) {
        if (!Array.isArray(kv) || kv.length !== 2) throw new PickleError('OrderedDict item is not a pair');
        d.map.set(kv[0]!, kv[1]!);
      }
    return d;
  };
  g.set('collections.OrderedDict', { call: ordered, construct: ordered });
  g.set('torch._utils._rebuild_tensor_v2', { call: (a) => rebuild(a, '_rebuild_tensor_v2') });
  g.set('torch._utils._rebuild_tensor', { call: (a) => rebuild(a, '_rebuild_tensor') });
  const param = (a: PyValue[]): PyValue => {
    if (!(a[0] instanceof TensorRef)) throw new PickleError('_rebuild_parameter: data is not a tensor');
    return a[0];
  };
  g.set('torch._utils._rebuild_parameter', { call: param });
  g.set('torch._utils._rebuild_parameter_with_state', { call: param });
  for (const name of Object.keys(STORAGE_TYPES)) g.set(`torch.${name}`, {});
  for (const name of TORCH_DTYPES) g.set(`torch.${name}`, {});
  g.set('torch.Size', { call: (a) => (Array.isArray(a[0]) ? a[0] : []) });
  g.set('torch.device', { call: (a) => String(a[0]) + (a.length > 1 && a[1] !== null ? `:${String(a[1])}` : '') });
  g.set('argparse.Namespace', { construct: (a) => new PyObject('argparse.Namespace', a), call: (a) => new PyObject('argparse.Namespace', a) });
  const asList = (a: PyValue[]): PyValue => (Array.isArray(a[0]) ? [...a[0]] : []);
  for (const m of ['builtins', '__builtin__']) {
    g.set(`${m}.set`, { call: asList });
    g.set(`${m}.frozenset`, { call: asList });
  }
  g.set('_codecs.encode', {
    call: (a) => {
      if (typeof a[0] !== 'string') throw new PickleError('_codecs.encode of a non-string');
      const enc = String(a[1] ?? 'utf-8').toLowerCase();
      if (enc === 'latin1' || enc === 'latin-1' || enc === 'iso-8859-1') return Uint8Array.from(a[0], (c) => c.charCodeAt(0) & 0xff);
      return new TextEncoder().encode(a[0]);
    },
  });
  for (const m of ['numpy.core.multiarray', 'numpy._core.multiarray']) g.set(`${m}.scalar`, { call: numpyScalar });
  g.set('numpy.dtype', { call: (a) => new PyObject('numpy.dtype', a), construct: (a) => new PyObject('numpy.dtype', a) });
  return g;
}

function describePid(pid: PyValue): string {
  return Array.isArray(pid) ? `tuple starting ${JSON.stringify(typeof pid[0] === 'string' ? pid[0] : String(pid[0]))}` : typeof pid;
}

function storageType(v: PyValue, where: string): TensorDtype {
  if (v instanceof PyGlobalRef && v.module === 'torch' && STORAGE_TYPES[v.name]) return STORAGE_TYPES[v.name]!;
  if (typeof v === 'string' && STORAGE_TYPES[v]) return STORAGE_TYPES[v]!;
  throw new PickleError(`${where}: unsupported storage type ${v instanceof PyGlobalRef ? v.qualified : String(v)}`);
}

/** An opened torch checkpoint: the unpickled object tree (tensors as {@link TensorRef}) and its resources. */
export interface TorchFile {
  /** `zip` or `legacy`. */
  format: 'zip' | 'legacy';
  /** The saved object (dict/OrderedDict for state dicts and checkpoints). */
  root: PyValue;
  /** Releases the file (further tensor reads fail). */
  close(): void;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** First bytes of a file, for format sniffing. */
export async function fileHead(file: string, n = 512): Promise<Uint8Array> {
  const fh = await openFile(file, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0));
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`not a regular file (${st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : 'a device or socket'})`);
    const buf = new Uint8Array(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** True when `head` starts a zip archive. */
export function isZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

/** True when `head` is the start of a legacy torch file (pickled magic number). */
export function isLegacyTorch(head: Uint8Array): boolean {
  const magic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

async function openZip(file: string): Promise<TorchFile> {
  const zip = await ZipArchive.open(file);
  try {
    const pkls = zip.list().filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
    if (pkls.length !== 1) throw new Error(pkls.length === 0 ? 'zip archive without <root>/data.pkl: not a torch.save file' : 'zip archive with several data.pkl entries');
    const root = pkls[0]!.name.slice(0, -'data.pkl'.length);
    if (zip.has(`${root}byteorder`)) {
      const bo = new TextDecoder().decode(await zip.read(`${root}byteorder`)).trim();
      if (bo !== 'little') throw new Error(`byteorder "${bo}" is not supported (little-endian only)`);
    }
    const pkl = await zip.read(`${root}data.pkl`, 'pickleBytes');
    const storages = new Map<string, StorageRef>();
    const persistentLoad = (pid: PyValue): PyValue => {
      if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new PickleError(`unexpected persistent id ${describePid(pid)}`);
      const dtype = storageType(pid[1]!, 'persistent id');
      const key = String(pid[2]);
      const numel = asInt(pid[4]!, 'storage numel');
      let s = storages.get(key);
      if (!s) {
        const entry = `${root}data/${key}`;
        if (!zip.has(entry)) throw new PickleError(`storage "${key}" has no entry ${entry} in the archive`);
        const have = zip.size(entry)!;
        // torch writes a storage's bytes exactly; more is padding at best and a decompression bomb at worst.
        if (have !== numel * DTYPE_SIZE[dtype]) throw new PickleError(`storage "${key}": entry has ${have} bytes, ${numel} × ${dtype} need exactly ${numel * DTYPE_SIZE[dtype]}`);
        s = new StorageRef(key, dtype, numel, () => zip.read(entry));
        storages.set(key, s);
      }
      return s;
    };
    const { value } = unpickle(pkl, { globals: torchGlobals(), persistentLoad });
    return { format: 'zip', root: value, close: () => zip.close() };
  } catch (e) {
    zip.close();
    throw e;
  }
}

async function openLegacy(file: string): Promise<TorchFile> {
  const buf = new Uint8Array(await readFileBoundedAsync(file, 'legacyTorchBytes', 'legacy torch file'));
  const globals = torchGlobals();
  const magic = unpickle(buf, { globals }, 0);
  if (magic.value !== LEGACY_MAGIC) throw new Error('legacy torch file: bad magic number');
  const proto = unpickle(buf, { globals }, magic.end);
  if (proto.value !== 1001) throw new Error(`legacy torch file: protocol version ${String(proto.value)} (expected 1001)`);
  const sys = unpickle(buf, { globals }, proto.end);
  if (sys.value instanceof PyDict && sys.value.get('little_endian') === false) throw new Error('legacy torch file saved on a big-endian machine: not supported');
  const roots = new Map<string, { dtype: TensorDtype; numel: number; storage?: StorageRef; dataOffset?: number }>();
  const views: { view: StorageRef; root: string; offset: number }[] = [];
  const made = new Map<string, StorageRef>();
  const persistentLoad = (pid: PyValue): PyValue => {
    if (!Array.isArray(pid)) throw new PickleError('unexpected persistent id');
    if (pid[0] === 'module') throw new PickleError('checkpoint contains a pickled nn.Module (a whole model object); save its state_dict() instead');
    // Very old files (torch ≤ 0.3) have no view-metadata field: 5 entries instead of 6.
    if (pid[0] !== 'storage' || pid.length < 5) throw new PickleError(`unexpected persistent id ${describePid(pid)}`);
    const dtype = storageType(pid[1]!, 'persistent id');
    const key = String(pid[2]);
    const numel = asInt(pid[4]!, 'storage numel');
    let r = roots.get(key);
    if (!r) {
      r = { dtype, numel };
      roots.set(key, r);
    }
    const meta = pid.length > 5 ? pid[5] : null;
    if (meta === null || meta === undefined) {
      if (!r.storage) {
        const rr = r;
        r.storage = new StorageRef(key, dtype, numel, async () => {
          if (rr.dataOffset === undefined) throw new Error(`storage "${key}" has no data in the file`);
          return buf.subarray(rr.dataOffset, rr.dataOffset + rr.numel * DTYPE_SIZE[rr.dtype]);
        });
      }
      return r.storage;
    }
    if (!Array.isArray(meta) || meta.length !== 3) throw new PickleError('bad storage view metadata');
    const viewKey = String(meta[0]);
    let v = made.get(viewKey);
    if (!v) {
      const offset = asInt(meta[1]!, 'view offset');
      const size = asInt(meta[2]!, 'view size');
      const rootRec = r;
      v = new StorageRef(viewKey, dtype, size, async () => {
        if (rootRec.dataOffset === undefined) throw new Error(`storage "${key}" has no data in the file`);
        const s = rootRec.dataOffset + offset * DTYPE_SIZE[dtype];
        return buf.subarray(s, s + size * DTYPE_SIZE[dtype]);
      });
      made.set(viewKey, v);
      views.push({ view: v, root: key, offset });
    }
    return v;
  };
  const main = unpickle(buf, { globals, persistentLoad }, sys.end);
  const keys = unpickle(buf, { globals }, main.end);
  if (!Array.isArray(keys.value)) throw new Error('legacy torch file: storage key list missing');
  let off = keys.end;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const k of keys.value) {
    const key = String(k);
    const r = roots.get(key);
    if (!r) throw new Error(`legacy torch file: storage "${key}" listed but never referenced`);
    if (off + 8 > buf.length) throw new Error(`legacy torch file: truncated before storage "${key}"`);
    const n = Number(dv.getBigInt64(off, true));
    if (n !== r.numel) throw new Error(`legacy torch file: storage "${key}" has ${n} elements on disk, ${r.numel} in the pickle`);
    off += 8;
    r.dataOffset = off;
    off += n * DTYPE_SIZE[r.dtype];
    if (off > buf.length) throw new Error(`legacy torch file: truncated inside storage "${key}"`);
  }
  for (const [key, r] of roots) if (r.dataOffset === undefined) throw new Error(`legacy torch file: storage "${key}" has no data`);
  return { format: 'legacy', root: main.value, close: () => undefined };
}

/**
 * Opens a torch checkpoint (zip or legacy). Nothing in the file is executed; tensors are read lazily.
 * @throws PickleError for a disallowed global (the message names it) or a malformed pickle; Error for other damage.
 */
export async function openTorchFile(file: string): Promise<TorchFile> {
  const head = await fileHead(file, 16);
  if (isZip(head)) return openZip(file);
  if (isLegacyTorch(head)) return openLegacy(file);
  if (head.length >= 2 && head[0] === 0x80) {
    // A bare pickle: parse it under the same allowlist (so a hostile one is named and refused), then reject it.
    unpickle(new Uint8Array(await readFileBoundedAsync(file, 'pickleBytes', 'pickle')), { globals: torchGlobals() });
    throw new Error('a plain pickle, not a torch.save file (no zip container, no legacy magic number)');
  }
  throw new Error('not a PyTorch checkpoint (neither a zip archive nor the legacy format)');
}
