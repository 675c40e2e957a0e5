/**
 * One entry point for every checkpoint format: PyTorch `.pth`/`.pth.tar`/`.pt` (zip or legacy) and `.safetensors`,
 * sniffed from the file's first bytes (not its extension).
 */
import { UsageError } from '../util/errors.js';
import { PickleError, type PyValue } from './pickle.js';
import { fileHead, isLegacyTorch, isZip, openTorchFile } from './pth.js';
import { isSafetensors, openSafetensors } from './safetensors.js';

/** Checkpoint container formats. */
export type CheckpointFormat = 'pth-zip' | 'pth-legacy' | 'safetensors';

/** An opened checkpoint: its object tree (tensors are lazy {@link TensorRef}s) and a close function. */
export interface Checkpoint {
  file: string;
  format: CheckpointFormat;
  /** The saved object: a dict for state dicts / training checkpoints; name → tensor for safetensors. */
  root: PyValue;
  close(): Promise<void>;
}

/**
 * Opens `file`. Nothing in it is executed.
 * @throws UsageError naming the file: unknown format, corrupt data, or a pickle global outside the allowlist.
 */
export async function openCheckpoint(file: string): Promise<Checkpoint> {
  let head: Uint8Array;
  try {
    head = await fileHead(file, 16);
  } catch (e) {
    throw new UsageError(`${file}: cannot read checkpoint: ${(e as Error).message}`);
  }
  try {
    if (isSafetensors(head)) {
      // A safetensors file whatever its header length says: a bad length is reported as such, not as "not a checkpoint".
      const s = await openSafetensors(file);
      return { file, format: 'safetensors', root: s.root, close: s.close };
    }
    const t = await openTorchFile(file);
    return { file, format: t.format === 'zip' ? 'pth-zip' : 'pth-legacy', root: t.root, close: async () => t.close() };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const kind = isZip(head) ? 'torch zip checkpoint' : isLegacyTorch(head) ? 'legacy torch checkpoint' : isSafetensors(head) ? 'safetensors file' : 'checkpoint';
    const msg = e instanceof PickleError && e.disallowedGlobal ? e.message : `cannot read ${kind}: ${(e as Error).message}`;
    throw new UsageError(`${file}: ${msg}`, { cause: e });
  }
}
