/**
 * Key maps: where a training recipe keeps the backbone inside its checkpoint, and which prefix its keys carry.
 *
 * A key map names the container (path of dict keys from the root; `[]` = the root is the state dict), the prefix that
 * marks backbone keys (stripped; keys without it — momentum encoders, predictors, projection heads, queues — are
 * outside the backbone and ignored) and the heads inside the prefix that are dropped. Whatever remains must match the
 * architecture exactly (checked by the converter): a missing, unexpected or mis-shaped tensor is an error naming it.
 */
import { PyDict, type PyValue } from './pickle.js';
import { TensorRef } from './tensor-ref.js';

/** Bumped when any map's semantics change; recorded in converted models' provenance. */
export const KEY_MAP_VERSION = 1;

/** One key map. */
export interface KeyMap {
  /** Name used by `--key-map` and recorded in provenance. */
  name: string;
  /** What it reads. */
  description: string;
  /**
   * Where the backbone may sit, tried in order: a container (path of dict keys from the root; `[]` = the root) and
   * the prefix its backbone keys carry. The first pair whose container exists and has a key with the prefix is used.
   */
  sources: { container: string[]; prefix: string }[];
  /** Keys (after stripping) that are heads of this recipe, dropped before the strict check. */
  drop: RegExp[];
}

/** The key maps, in the order `auto` tries them. */
export const KEY_MAPS: readonly KeyMap[] = [
  {
    name: 'dino-teacher',
    description: 'DINO full training checkpoint (…_full_checkpoint.pth): the teacher backbone, keys backbone.* (module.backbone.* when DDP-wrapped)',
    sources: [
      { container: ['teacher'], prefix: 'backbone.' },
      { container: ['teacher'], prefix: 'module.backbone.' },
    ],
    drop: [],
  },
  {
    name: 'moco',
    description: 'MoCo v1/v2 checkpoint: state_dict, query encoder module.encoder_q.*, fc dropped',
    sources: [{ container: ['state_dict'], prefix: 'module.encoder_q.' }],
    drop: [/^fc\./],
  },
  {
    name: 'mocov3',
    description: 'MoCo v3 checkpoint: state_dict, base encoder module.base_encoder.*, fc/head dropped',
    sources: [{ container: ['state_dict'], prefix: 'module.base_encoder.' }],
    drop: [/^fc\./, /^head\./],
  },
  {
    name: 'simsiam',
    description: 'SimSiam checkpoint: state_dict, encoder module.encoder.*, fc (projector) dropped',
    sources: [{ container: ['state_dict'], prefix: 'module.encoder.' }],
    drop: [/^fc\./],
  },
  {
    name: 'densecl',
    description: 'DenseCL / mmselfsup: backbone.* keys (in state_dict or at the root), or the extracted backbone dict',
    sources: [
      { container: ['state_dict'], prefix: 'backbone.' },
      { container: [], prefix: 'backbone.' },
      { container: ['state_dict'], prefix: '' },
    ],
    drop: [],
  },
  {
    name: 'dino',
    description: 'backbone-only state dict (DINO / DINOv2 hub files, timm safetensors copies)',
    sources: [{ container: [], prefix: '' }],
    drop: [],
  },
  {
    name: 'torchvision',
    description: 'torchvision supervised state dict (classifier fc / classifier.* dropped)',
    sources: [{ container: [], prefix: '' }],
    drop: [/^fc\./, /^classifier\./],
  },
  {
    name: 'byol',
    description: 'BYOL converted to a flat torchvision-named dict (online classifier fc.* dropped)',
    sources: [{ container: [], prefix: '' }],
    drop: [/^fc\./],
  },
  {
    name: 'mocov3-lincls',
    description: 'MoCo v3 / MoCo linear-probe checkpoint (main_lincls.py): state_dict, DDP prefix module.*, linear classifier fc dropped',
    sources: [{ container: ['state_dict'], prefix: 'module.' }],
    drop: [/^fc\./],
  },
];

/** Looks up a key map by name. */
export function keyMapByName(name: string): KeyMap | undefined {
  return KEY_MAPS.find((m) => m.name === name);
}

/** A key map built from a user-given prefix (`--prefix STR`): container searched among the usual places. */
export function prefixKeyMap(prefix: string): KeyMap {
  return {
    name: `prefix:${prefix}`,
    description: `keys with prefix "${prefix}" in the root, state_dict, model or teacher dict`,
    sources: [[], ['state_dict'], ['model'], ['teacher'], ['module']].map((container) => ({ container, prefix })),
    drop: [],
  };
}

/** Result of applying a key map to a checkpoint root. */
export interface SelectedTensors {
  keyMap: string;
  /** Container path used (`[]` = root). */
  container: string[];
  prefix: string;
  /** Backbone tensors by stripped key (heads of the recipe already dropped). */
  tensors: Map<string, TensorRef>;
  /** Tensors inside the prefix that the map dropped as heads. */
  dropped: string[];
}

function child(root: PyValue, path: string[]): PyDict | undefined {
  let cur: PyValue | undefined = root;
  for (const k of path) {
    if (!(cur instanceof PyDict)) return undefined;
    cur = cur.get(k);
  }
  return cur instanceof PyDict ? cur : undefined;
}

/**
 * The dict at `path` (keys from the root; `[]` = the root itself).
 * @returns undefined when a step is missing or not a dict.
 */
export function containerAt(root: PyValue, path: readonly string[]): PyDict | undefined {
  return child(root, [...path]);
}

/**
 * Applies `map` to `root`.
 * @returns the selection, or undefined when the map's container/prefix is not found in this checkpoint.
 */
export function applyKeyMap(root: PyValue, map: KeyMap): SelectedTensors | undefined {
  for (const { container, prefix } of map.sources) {
    const d = child(root, container);
    if (!d) continue;
    const keys = [...d.stringEntries()].filter(([, v]) => v instanceof TensorRef) as [string, TensorRef][];
    if (!keys.some(([k]) => k.startsWith(prefix))) continue;
    const tensors = new Map<string, TensorRef>();
    const dropped: string[] = [];
    for (const [k, v] of keys) {
      if (!k.startsWith(prefix)) continue;
      const s = k.slice(prefix.length);
      if (map.drop.some((r) => r.test(s))) dropped.push(s);
      else tensors.set(s, v);
    }
    return { keyMap: map.name, container, prefix, tensors, dropped };
  }
  return undefined;
}

/** Short description of what a checkpoint root holds (for error messages): top-level keys and sample tensor keys. */
export function describeRoot(root: PyValue): string {
  if (!(root instanceof PyDict)) return `a ${root === null ? 'None' : typeof root} (not a dict)`;
  const keys = [...root.map.keys()].map(String);
  const tensors = keys.filter((k) => root.get(k) instanceof TensorRef);
  if (tensors.length === keys.length) return `a flat dict of ${tensors.length} tensors (e.g. ${tensors.slice(0, 3).join(', ')})`;
  return `a dict with keys ${keys.slice(0, 12).join(', ')}${keys.length > 12 ? ', …' : ''}`;
}
