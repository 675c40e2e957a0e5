/**
 * File helpers: atomic writes (temp file in the same directory + fsync + rename), so a killed run never leaves a
 * half-written output where a finished one is expected.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, openSync, writeSync, fsyncSync, closeSync, renameSync, unlinkSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { constants as fsConstants } from 'node:fs';
import { UsageError } from './errors.js';
import { readFileBounded } from './safe-read.js';

function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Marks a file-system error with the file the caller meant to write (`target`): errors raised on the temporary file
 * or on a descriptor (`write`, `fsync`: ENOSPC, EDQUOT, EIO) do not name it otherwise. The CLI prints `target`.
 */
export function withTarget(e: unknown, file: string): unknown {
  if (e instanceof Error && (e as NodeJS.ErrnoException).code && !(e as { target?: string }).target) Object.assign(e, { target: path.resolve(file) });
  return e;
}

/** Writes `data` to `file` atomically (sync). Parent directories are created. Errors carry `target` = file. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  try {
    writeAtomicSync(file, data);
  } catch (e) {
    throw withTarget(e, file);
  }
}

function writeAtomicSync(file: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = tempName(file);
  const fd = openSync(tmp, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
}

/** Writes `data` to `file` atomically (async). Parent directories are created. Errors carry `target` = file. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  try {
    await writeAtomic(file, data);
  } catch (e) {
    throw withTarget(e, file);
  }
}

async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await fsp.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = tempName(file);
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

/** sha256 of a byte array, lowercase hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a file's bytes (streams; fine for multi-GB files), lowercase hex. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await fsp.open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  try {
    // A device (/dev/zero) never ends and a FIFO may block: only regular files are hashed.
    if (!(await fh.stat()).isFile()) throw new UsageError(`${file}: not a regular file`);
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** sha256 of a small file read at once (a regular file within the `jsonBytes` cap), lowercase hex. */
export function sha256FileSync(file: string): string {
  return sha256Hex(readFileBounded(file, 'jsonBytes'));
}
