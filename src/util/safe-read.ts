/**
 * Bounded reads of untrusted files. Before anything is read, the path is `stat`ed (following symlinks): only a regular
 * file is accepted (a FIFO, socket, directory or device such as `/dev/zero` is refused — it could block forever or
 * never end), and its size must be under the caller's cap. The read itself stops at the cap as well, so a file that
 * grows while it is read cannot get past it. Text reads drop a leading UTF-8 byte-order mark.
 */
import { closeSync, fstatSync, openSync, readSync, statSync, constants as fsc } from 'node:fs';
import { open as openAsync } from 'node:fs/promises';
import { UsageError } from './errors.js';
import { limit, overLimit, type LimitName } from './limits.js';
import { stripBom } from './text.js';

/** What {@link checkRegularFile} found. */
export interface FileCheck {
  /** Size in bytes. */
  size: number;
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

function cannot(file: string, what: string, e: unknown): UsageError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
  return new UsageError(`${file}: cannot read${what ? ` ${what}` : ''}: ${why}`, { cause: e });
}

/**
 * Checks that `file` is a regular file (after symlinks) no larger than the cap `cap`.
 * @throws UsageError naming the file, the kind of file or the size and the cap.
 */
export function checkRegularFile(file: string, cap: LimitName, what = 'file'): FileCheck {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw cannot(file, what, e);
  }
  if (!st.isFile()) throw new UsageError(`${file}: cannot read${what ? ` ${what}` : ''}: ${kindOf(st)}, not a regular file`);
  if (st.size > limit(cap)) throw new UsageError(`${file}: ${what || 'file'} ${overLimit(cap, st.size)}`);
  return { size: st.size };
}

/**
 * Reads a whole regular file of at most `limit(cap)` bytes (sync).
 * @throws UsageError naming the file when it is missing, not a regular file, or too large.
 */
export function readFileBounded(file: string, cap: LimitName, what = 'file'): Buffer {
  const max = limit(cap);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not block before fstat can refuse it.
    fd = openSync(file, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0));
  } catch (e) {
    throw cannot(file, what, e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`${file}: cannot read${what ? ` ${what}` : ''}: ${kindOf(st)}, not a regular file`);
    if (st.size > max) throw new UsageError(`${file}: ${what || 'file'} ${overLimit(cap, st.size)}`);
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === st.size ? buf : buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** Async {@link readFileBounded}. */
export async function readFileBoundedAsync(file: string, cap: LimitName, what = 'file'): Promise<Buffer> {
  const max = limit(cap);
  let fh;
  try {
    fh = await openAsync(file, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0));
  } catch (e) {
    throw cannot(file, what, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UsageError(`${file}: cannot read${what ? ` ${what}` : ''}: ${kindOf(st)}, not a regular file`);
    if (st.size > max) throw new UsageError(`${file}: ${what || 'file'} ${overLimit(cap, st.size)}`);
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const { bytesRead } = await fh.read(buf, off, st.size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return off === st.size ? buf : buf.subarray(0, off);
  } finally {
    await fh.close();
  }
}

export { stripBom };

/** Reads a bounded UTF-8 text file, without a leading BOM (sync). */
export function readTextBounded(file: string, cap: LimitName = 'textBytes', what = 'file'): string {
  return stripBom(readFileBounded(file, cap, what).toString('utf8'));
}

/** Async {@link readTextBounded}. */
export async function readTextBoundedAsync(file: string, cap: LimitName = 'textBytes', what = 'file'): Promise<string> {
  return stripBom((await readFileBoundedAsync(file, cap, what)).toString('utf8'));
}

/**
 * Reads and parses a bounded JSON file (BOM dropped).
 * @throws UsageError naming the file for read failures, size, or invalid JSON.
 */
export function readJsonBounded(file: string, what = 'JSON file'): unknown {
  const text = readTextBounded(file, 'jsonBytes', what);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`${file}: invalid JSON in ${what}: ${(e as Error).message}`, { cause: e });
  }
}
