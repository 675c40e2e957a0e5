/**
 * Resource caps for everything read from files or the network, in one place. Every reader of untrusted input checks
 * its size (and kind of file) against these before it allocates, so a hostile or damaged input fails fast with an
 * error naming the file instead of exhausting memory, disk or time (docs/security.md lists who checks what).
 *
 * Each cap can be raised (or lowered) without code changes through the environment: `UOL_LIMIT_<NAME>` with NAME in
 * upper snake case, e.g. `UOL_LIMIT_JSON_BYTES=1073741824`. Values are positive integers (bytes unless stated).
 */
import { settings } from './settings.js';

/** Default caps (bytes unless stated). */
export const DEFAULT_LIMITS = {
  /** JSON documents: predictors, statistics, model.json, registry, metadata, journals, run manifests (256 MiB). */
  jsonBytes: 256 * 2 ** 20,
  /** Text lists: wsol metadata, dataset lists, annotations (64 MiB). */
  textBytes: 64 * 2 ** 20,
  /** One encoded image file (256 MiB); decoded pixels are capped separately by the decoder's pixel limit. */
  imageBytes: 256 * 2 ** 20,
  /** One `.npy` / `.mat` array file (2 GiB). */
  arrayBytes: 2 * 2 ** 30,
  /** A pickle read whole: `data.pkl` of a zip checkpoint or a bare pickle (256 MiB; real ones are < 1 MiB). */
  pickleBytes: 256 * 2 ** 20,
  /** A legacy (pre-zip) torch file, which is read whole (4 GiB). */
  legacyTorchBytes: 4 * 2 ** 30,
  /** One zip entry (a tensor storage) read into memory (4 GiB). */
  zipEntryBytes: 4 * 2 ** 30,
  /** Decompressed bytes of a *compressed* zip entry; torch writes STORED entries, so this only meets crafted files (256 MiB). */
  zipInflateBytes: 256 * 2 ** 20,
  /** A safetensors JSON header (8 MiB; the header of a 7B-parameter LLM is ~100 KiB). */
  safetensorsHeaderBytes: 8 * 2 ** 20,
  /** Integers in a pickle (LONG1/LONG4) longer than this many bytes are refused (torch never writes more than 10). */
  pickleLongBytes: 4096,
  /** Tensors in one checkpoint (count; backbones hold < 2,000, full training checkpoints < 10,000). */
  checkpointTensors: 20_000,
  /** A download without a size in the registry (16 GiB). */
  downloadBytes: 16 * 2 ** 30,
} as const;

/** Names of the caps. */
export type LimitName = keyof typeof DEFAULT_LIMITS;

function envName(n: LimitName): string {
  return `UOL_LIMIT_${n.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/**
 * The cap `name`: `UOL_LIMIT_<NAME>` when set to a positive integer, else the default.
 * @throws Error when the environment variable is set to something else (a typo must not lift a cap silently).
 */
export function limit(name: LimitName): number {
  const v = settings().limits[envName(name)];
  if (v === undefined || v === '') return DEFAULT_LIMITS[name];
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${envName(name)}="${v}": expected a positive integer`);
  return n;
}

/** The environment variable that overrides `name` (for messages and docs). */
export function limitEnv(name: LimitName): string {
  return envName(name);
}

/** Human-readable byte count for messages (`1.5 GiB`). */
export function formatBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${u[i]}`;
}

/** The "over the cap" phrase used in messages: size, cap, and how to raise it. */
export function overLimit(name: LimitName, have: number | bigint, what = 'size'): string {
  return `${what} ${typeof have === 'bigint' ? `${have} B` : formatBytes(have)} exceeds the ${formatBytes(limit(name))} cap (raise it with ${envName(name)} if the file is genuine)`;
}
