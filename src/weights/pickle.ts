/**
 * A restricted, data-only Python unpickler for PyTorch checkpoints.
 *
 * Why hand-written instead of `pickleparser@0.2.1` (the one npm package that reads torch pickles): a checkpoint is an
 * untrusted file, and the reader is the project's security boundary. Here the allowlist is checked at the moment a
 * GLOBAL / STACK_GLOBAL / INST opcode names a global — before any object is constructed — and every allowed global is
 * mapped to a small data-only constructor written in this file, so nothing in a file can cause code to run. With
 * pickleparser the unknown-global behaviour, REDUCE/BUILD semantics and error messages are the library's (it also
 * rejects the 10-byte LONG1 of torch's legacy magic number). The opcode set (protocols 0–5, minus out-of-band buffers
 * and the extension registry) is small enough to audit in one file.
 *
 * Value mapping: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number, str → string,
 * bytes → Uint8Array, list/tuple → array, dict/OrderedDict → {@link PyDict}, other allowed objects → {@link PyObject},
 * persistent ids → whatever the caller's `persistentLoad` returns (torch storages).
 */
import { limit } from '../util/limits.js';

/** A dict (`dict`, `collections.OrderedDict`); `attrs` holds state set by BUILD (e.g. torch's `_metadata`). */
export class PyDict {
  /** Entries in insertion order. Keys are primitives (or arrays/objects compared by identity). */
  readonly map = new Map<PyValue, PyValue>();
  /** Python class, e.g. `builtins.dict` or `collections.OrderedDict`. */
  constructor(readonly cls = 'builtins.dict') {}
  /** Attribute state applied by BUILD, if any. */
  attrs?: PyValue;
  /** Value for a string key. */
  get(key: string): PyValue | undefined {
    return this.map.get(key);
  }
  /** True when the dict has this key. */
  has(key: string): boolean {
    return this.map.has(key);
  }
  /** Entries with string keys (non-string keys are skipped). */
  *stringEntries(): IterableIterator<[string, PyValue]> {
    for (const [k, v] of this.map) if (typeof k === 'string') yield [k, v];
  }
}

/** An instance of an allowlisted class other than dict (e.g. `argparse.Namespace`). */
export class PyObject {
  constructor(
    /** `module.name` of the class. */
    readonly cls: string,
    /** Constructor arguments. */
    readonly args: PyValue[] = [],
  ) {}
  /** State applied by BUILD (usually a dict of attributes). */
  state?: PyValue;
}

/** Marker for an allowlisted global used as a value (e.g. `torch.FloatStorage` inside a persistent id). */
export class PyGlobalRef {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  /** `module.name`. */
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Any value the unpickler produces. `unknown` covers objects made by the caller's hooks (tensors, storages). */
export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyDict | PyObject | PyGlobalRef | { readonly kind: string };

/** What an allowlisted global may do when called (REDUCE), instantiated (NEWOBJ/OBJ/INST) or referenced. */
export interface GlobalHandler {
  /** Called by REDUCE with the argument tuple. Absent: calling is refused. */
  call?: (args: PyValue[]) => PyValue;
  /** Called by NEWOBJ / NEWOBJ_EX / OBJ / INST. Absent: instantiation is refused. */
  construct?: (args: PyValue[]) => PyValue;
}

/** Error raised for malformed or disallowed pickles. The message names the byte offset and the opcode or global. */
export class PickleError extends Error {
  constructor(
    message: string,
    /** True when the pickle referenced a global outside the allowlist (a security refusal, not corruption). */
    readonly disallowedGlobal?: string,
  ) {
    super(message);
    this.name = 'PickleError';
  }
}

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** Allowlisted globals, keyed `module.name`. Anything else is refused when the opcode naming it is read. */
  globals: ReadonlyMap<string, GlobalHandler>;
  /** Resolves PERSID/BINPERSID ids (torch storages). Absent: persistent ids are refused. */
  persistentLoad?: (pid: PyValue) => PyValue;
}

/** Result of {@link unpickle}: the value and the offset just past its STOP opcode (pickles can be concatenated). */
export interface UnpickleResult {
  value: PyValue;
  end: number;
}

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

const TEXT = new TextDecoder('utf-8', { fatal: true });
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const LATIN1 = new TextDecoder('latin1');

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list/tuple';
  if (v instanceof PyDict) return v.cls;
  if (v instanceof PyObject) return v.cls;
  if (v instanceof PyGlobalRef) return v.qualified;
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object' && v && 'kind' in v) return String((v as { kind: unknown }).kind);
  return typeof v;
}

/**
 * Unpickles one pickle starting at `start`. Executes nothing: globals are resolved through `opts.globals` only.
 * @throws PickleError on malformed input, unsupported opcodes, or a global outside the allowlist (naming it).
 */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions, start = 0): UnpickleResult {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  let stack: StackItem[] = [];
  const metastack: StackItem[][] = [];
  const memo = new Map<number, PyValue>();
  const maxLong = limit('pickleLongBytes');

  const fail = (msg: string): never => {
    throw new PickleError(`pickle byte ${pos}: ${msg}`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > bytes.length) fail(`truncated (need ${n} bytes, ${bytes.length - pos} left)`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} too large`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const b = bytes.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    const s = LATIN1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const utf8 = (b: Uint8Array): string => {
    try {
      return TEXT.decode(b);
    } catch {
      return fail('invalid UTF-8 in string');
    }
  };
  const pop = (): PyValue => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack.pop()!;
    if (v === MARK) fail('unexpected MARK on stack');
    return v as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack[stack.length - 1]!;
    if (v === MARK) fail('unexpected MARK on stack');
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const items = stack as PyValue[];
    if (metastack.length === 0) fail('no MARK for this opcode');
    stack = metastack.pop()!;
    return items;
  };
  const memoGet = (i: number): PyValue => {
    if (!memo.has(i)) fail(`memo key ${i} not defined`);
    return memo.get(i)!;
  };
  const resolveGlobal = (module: string, name: string): GlobalHandler & { ref: PyGlobalRef } => {
    const q = `${module}.${name}`;
    const h = opts.globals.get(q);
    if (!h) {
      throw new PickleError(
        `pickle byte ${pos}: refusing global "${q}": not on the allowlist of data-only types (the file may try to run code; nothing was executed)`,
        q,
      );
    }
    return { ...h, ref: new PyGlobalRef(module, name) };
  };
  const handlerOf = (v: PyValue, what: string): GlobalHandler & { ref: PyGlobalRef } => {
    if (!(v instanceof PyGlobalRef)) return fail(`${what} on a ${describe(v)}, not a class or function`);
    return resolveGlobal(v.module, v.name);
  };
  const setItems = (d: PyValue, kv: PyValue[]): void => {
    if (!(d instanceof PyDict)) fail(`SETITEM(S) on a ${describe(d)}`);
    if (kv.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) (d as PyDict).map.set(kv[i]!, kv[i + 1]!);
  };
  const appendItems = (l: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(l)) fail(`APPEND(S) on a ${describe(l)}`);
    // A loop, not push(...items): spreading 300k arguments overflows the call stack.
    const list = l as PyValue[];
    for (const it of items) list.push(it);
  };
  const longFrom = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length > maxLong) fail(`integer of ${b.length} bytes exceeds the ${maxLong}-byte cap (UOL_LIMIT_PICKLE_LONG_BYTES)`);
    // One hex parse (linear), not a byte-by-byte BigInt shift (quadratic: 200 KB took minutes).
    let hex = '';
    for (let i = b.length - 1; i >= 0; i--) hex += HEX[b[i]!]!;
    let v = BigInt(`0x${hex}`);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const persistent = (pid: PyValue): PyValue => {
    if (!opts.persistentLoad) return fail('persistent id in a pickle that allows none');
    return opts.persistentLoad(pid);
  };
  const parseIntText = (s: string): number | bigint => {
    const t = s.trim().replace(/L$/, '');
    if (t.length > 2.5 * maxLong) fail(`integer literal of ${t.length} digits exceeds the cap (UOL_LIMIT_PICKLE_LONG_BYTES)`);
    if (!/^[-+]?\d+$/.test(t)) fail(`bad integer literal "${s}"`);
    const b = BigInt(t);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  };

  for (;;) {
    const opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol > 5');
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: {
        // STOP
        const v = pop();
        return { value: v, end: pos };
      }
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length && stack[stack.length - 1] === MARK) stack.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      // ---- constants
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(longFrom(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        stack.push(longFrom(take(n)));
        break;
      }
      case 0x49: {
        // INT (text); "00"/"01" are protocol-0 booleans
        const s = line();
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else stack.push(parseIntText(s));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(parseIntText(line()));
        break;
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: {
        // FLOAT (text)
        const s = line().trim();
        const v = Number(s);
        if (Number.isNaN(v) && !/^[-+]?nan$/i.test(s)) fail(`bad float literal "${s}"`);
        stack.push(v);
        break;
      }
      // ---- strings and bytes
      case 0x58: // BINUNICODE
        stack.push(utf8(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(take(u64())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape text)
        stack.push(line().replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a: string | undefined, b: string | undefined) => String.fromCodePoint(parseInt((a ?? b)!, 16))));
        break;
      case 0x54: {
        // BINSTRING (py2 str): decoded as latin-1 text
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        stack.push(LATIN1.decode(take(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(LATIN1.decode(take(u8())));
        break;
      case 0x53: {
        // STRING (quoted py2 str)
        const s = line().trim();
        const q = s[0];
        if ((q !== "'" && q !== '"') || s[s.length - 1] !== q || s.length < 2) fail(`bad STRING literal ${s}`);
        stack.push(s.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_m, e: string) => (e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e)));
        break;
      }
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      // ---- containers
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x74: // TUPLE
        {
          const items = popMark(); // evaluate before touching `stack`: popMark swaps it
          stack.push(items);
        }
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        {
          const items = popMark(); // evaluate before touching `stack`: popMark swaps it
          stack.push(items);
        }
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const kv = popMark();
        const d = new PyDict();
        setItems(d, kv);
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x8f: // EMPTY_SET (as a list of members)
        stack.push([]);
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x91: // FROZENSET
        {
          const items = popMark(); // evaluate before touching `stack`: popMark swaps it
          stack.push(items);
        }
        break;
      // ---- memo
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT (text)
        memo.set(Number(parseIntText(line())), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x67: // GET (text)
        stack.push(memoGet(Number(parseIntText(line()))));
        break;
      // ---- globals and objects: the allowlist is checked here, before anything is built
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name).ref);
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module as string, name as string).ref);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        const h = handlerOf(fn, 'REDUCE');
        if (!Array.isArray(args)) fail(`REDUCE arguments for ${h.ref.qualified} are not a tuple`);
        if (!h.call) fail(`global "${h.ref.qualified}" may not be called`);
        stack.push(h.call!(args as PyValue[]));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        const h = handlerOf(cls, 'NEWOBJ');
        if (!Array.isArray(args)) fail(`NEWOBJ arguments for ${h.ref.qualified} are not a tuple`);
        if (!h.construct) fail(`class "${h.ref.qualified}" may not be instantiated`);
        stack.push(h.construct!(args as PyValue[]));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        const h = handlerOf(cls, 'NEWOBJ_EX');
        if (!Array.isArray(args)) fail(`NEWOBJ_EX arguments for ${h.ref.qualified} are not a tuple`);
        if (!(kwargs instanceof PyDict) || kwargs.map.size > 0) fail(`NEWOBJ_EX keyword arguments for ${h.ref.qualified} are not supported`);
        if (!h.construct) fail(`class "${h.ref.qualified}" may not be instantiated`);
        stack.push(h.construct!(args as PyValue[]));
        break;
      }
      case 0x6f: {
        // OBJ: MARK cls args... OBJ
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        const h = handlerOf(items[0]!, 'OBJ');
        if (!h.construct) fail(`class "${h.ref.qualified}" may not be instantiated`);
        stack.push(h.construct!(items.slice(1)));
        break;
      }
      case 0x69: {
        // INST module\nname\n with MARK args
        const module = line();
        const name = line();
        const h = resolveGlobal(module, name);
        const items = popMark();
        if (!h.construct) fail(`class "${h.ref.qualified}" may not be instantiated`);
        stack.push(h.construct!(items));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyDict) obj.attrs = state;
        else if (obj instanceof PyObject) obj.state = state;
        else if (typeof obj === 'object' && obj !== null && !Array.isArray(obj) && 'kind' in obj) {
          /* caller-built objects (tensors): torch only sets Python attributes here, which carry no tensor data */
        } else fail(`BUILD on a ${describe(obj)}`);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      case 0x50: // PERSID (text)
        stack.push(persistent(line()));
        break;
      case 0x82:
      case 0x83:
      case 0x84:
        fail(`opcode 0x${op.toString(16)} (EXT: copyreg extension registry) is not supported`);
        break;
      case 0x97:
      case 0x98:
        fail(`opcode 0x${op.toString(16)} (out-of-band buffers) is not supported`);
        break;
      default:
        pos = opPos;
        fail(`unknown opcode 0x${op.toString(16)}`);
    }
  }
}
