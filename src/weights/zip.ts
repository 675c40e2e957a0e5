/**
 * Random-access reading of zip archives (PyTorch ≥ 1.6 checkpoints are zips of STORED entries) through `yauzl`, which
 * reads the central directory and then only the entries asked for — a 343 MB ViT-B checkpoint is never held twice.
 */
import yauzl from 'yauzl';
import { formatBytes, limit, limitEnv, type LimitName } from '../util/limits.js';

/** One archive entry. */
export interface ZipEntryInfo {
  /** Path inside the archive. */
  name: string;
  /** Uncompressed size in bytes. */
  size: number;
}

/** An open zip archive. Call {@link ZipArchive.close} when done. */
export class ZipArchive {
  private constructor(
    private readonly zip: yauzl.ZipFile,
    private readonly entries: Map<string, yauzl.Entry>,
  ) {}

  /**
   * Opens `file` and reads its central directory.
   * @throws Error from yauzl for a file that is not a valid zip.
   */
  static open(file: string): Promise<ZipArchive> {
    return new Promise((resolve, reject) => {
      yauzl.open(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true }, (err, zip) => {
        if (err || !zip) {
          reject(err ?? new Error('cannot open zip'));
          return;
        }
        const entries = new Map<string, yauzl.Entry>();
        zip.on('entry', (e: yauzl.Entry) => {
          entries.set(e.fileName, e);
          zip.readEntry();
        });
        zip.on('end', () => resolve(new ZipArchive(zip, entries)));
        zip.on('error', (e: Error) => {
          zip.close();
          reject(e);
        });
        zip.readEntry();
      });
    });
  }

  /** All entries, in central-directory order. */
  list(): ZipEntryInfo[] {
    return [...this.entries.values()].map((e) => ({ name: e.fileName, size: e.uncompressedSize }));
  }

  /** True when the archive has an entry `name`. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Uncompressed size of `name`, or undefined. */
  size(name: string): number | undefined {
    return this.entries.get(name)?.uncompressedSize;
  }

  /**
   * Reads a whole entry. Before anything is allocated the declared size is checked against `cap` (default
   * `zipEntryBytes`) and, for a compressed entry, against `zipInflateBytes` (torch writes STORED entries; a deflated
   * one that inflates past the cap is a bomb); the stream is cut off at the declared size.
   * @throws Error when the entry does not exist, is over a cap, or the data is corrupt.
   */
  read(name: string, cap: LimitName = 'zipEntryBytes'): Promise<Uint8Array> {
    const e = this.entries.get(name);
    if (!e) return Promise.reject(new Error(`zip entry "${name}" not found`));
    const over = (c: LimitName, what: string): Error =>
      new Error(`zip entry "${name}" declares ${formatBytes(e.uncompressedSize)} (${e.uncompressedSize} bytes)${what}, over the ${formatBytes(limit(c))} cap (raise it with ${limitEnv(c)} if the file is genuine)`);
    if (!Number.isSafeInteger(e.uncompressedSize) || e.uncompressedSize > limit(cap)) return Promise.reject(over(cap, ''));
    if (e.compressionMethod !== 0 && e.uncompressedSize > limit('zipInflateBytes')) return Promise.reject(over('zipInflateBytes', ` when inflated from ${formatBytes(e.compressedSize)}`));
    return new Promise((resolve, reject) => {
      this.zip.openReadStream(e, (err, stream) => {
        if (err || !stream) {
          reject(err ?? new Error(`cannot read zip entry "${name}"`));
          return;
        }
        const out = new Uint8Array(e.uncompressedSize);
        let off = 0;
        stream.on('data', (chunk: Buffer) => {
          if (off + chunk.length > out.length) {
            stream.destroy(new Error(`zip entry "${name}" is longer than its declared size`));
            return;
          }
          out.set(chunk, off);
          off += chunk.length;
        });
        stream.on('error', reject);
        stream.on('end', () => (off === out.length ? resolve(out) : reject(new Error(`zip entry "${name}" is truncated (${off} of ${out.length} bytes)`))));
      });
    });
  }

  /** Closes the file. */
  close(): void {
    this.zip.close();
  }
}
