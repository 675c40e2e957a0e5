/**
 * HTTP(S) download for checkpoints: streams into `<dest>.part`, resumes an interrupted download with a `Range`
 * request, follows redirects, reports progress, verifies size and checksum (sha256, or the sha256/md5 prefixes some
 * projects publish), and only then renames the file into place. A file that fails verification is deleted.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, statfsSync } from 'node:fs';
import { formatBytes, limit, limitEnv } from '../../util/limits.js';
import * as path from 'node:path';
import type { ProgressCallback } from '../../util/progress.js';
import { TOOL } from '../../version.js';

/** What the downloaded file must match. */
export interface ExpectedChecksum {
  /** Full sha256, hex. */
  sha256?: string;
  /** Leading hex digits of the sha256 (torchvision file names carry 8). */
  sha256Prefix?: string;
  /** Leading hex digits of the md5 (MoCo's README lists these). */
  md5Prefix?: string;
  /** Exact size in bytes. */
  size?: number;
  /** Largest acceptable size when `size` is not known (default: the `downloadBytes` cap). */
  maxBytes?: number;
}

/** What {@link download} can check for `e`, in words (e.g. `sha256 (full)`, `md5 prefix b251726a (8 hex)`, `nothing`). */
export function describeVerification(e: ExpectedChecksum | undefined): string {
  const parts: string[] = [];
  if (e?.sha256) parts.push('sha256 (full)');
  if (e?.sha256Prefix) parts.push(`sha256 prefix ${e.sha256Prefix} (${e.sha256Prefix.length} hex digits)`);
  if (e?.md5Prefix) parts.push(`md5 prefix ${e.md5Prefix} (${e.md5Prefix.length} hex digits)`);
  if (e?.size !== undefined) parts.push(`size ${e.size} bytes`);
  return parts.length ? parts.join(', ') : 'nothing (no checksum or size is pinned)';
}

/** Options of {@link download}. */
export interface DownloadOptions {
  url: string;
  /** Final file path. */
  dest: string;
  expected?: ExpectedChecksum;
  onProgress?: ProgressCallback;
  /** Abort when no data arrives for this long (default 60 s). */
  idleTimeoutMs?: number;
  /** Redirects followed (default 5). */
  maxRedirects?: number;
}

/** Result of {@link download}. */
export interface DownloadResult {
  file: string;
  bytes: number;
  sha256: string;
  md5: string;
  /** Bytes that were already in the `.part` file and not downloaded again. */
  resumedFrom: number;
  /** True when `dest` existed already and verified (nothing downloaded). */
  cached: boolean;
}

/** The download finished but does not match the expected size or checksum; the file was deleted. */
export class IntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntegrityError';
  }
}

/** Free bytes on the file system holding `dir`, when the platform tells. */
function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

async function hashFile(file: string, onProgress?: ProgressCallback): Promise<{ sha256: string; md5: string; bytes: number }> {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  const total = statSync(file).size;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(file, { highWaterMark: 1 << 20 });
    s.on('data', (c: string | Buffer) => {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      sha.update(b);
      md5.update(b);
      done += b.length;
      onProgress?.({ stage: 'verify', done, total, unit: 'B' });
    });
    s.on('error', reject);
    s.on('end', () => resolve());
  });
  return { sha256: sha.digest('hex'), md5: md5.digest('hex'), bytes: total };
}

function verify(h: { sha256: string; md5: string; bytes: number }, e: ExpectedChecksum | undefined, url: string): string | undefined {
  if (!e) return undefined;
  if (e.size !== undefined && h.bytes !== e.size) return `${url}: size ${h.bytes} bytes, expected ${e.size}`;
  if (e.sha256 && h.sha256 !== e.sha256.toLowerCase()) return `${url}: sha256 ${h.sha256}, expected ${e.sha256}`;
  if (e.sha256Prefix && !h.sha256.startsWith(e.sha256Prefix.toLowerCase())) return `${url}: sha256 ${h.sha256} does not start with ${e.sha256Prefix}`;
  if (e.md5Prefix && !h.md5.startsWith(e.md5Prefix.toLowerCase())) return `${url}: md5 ${h.md5} does not start with ${e.md5Prefix}`;
  return undefined;
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  stream: http.IncomingMessage;
}

function request(url: string, headers: Record<string, string>, idleMs: number): Promise<Response> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
    if (!mod) {
      reject(new Error(`${url}: unsupported protocol ${u.protocol}`));
      return;
    }
    const req = mod.get(u, { headers: { 'user-agent': TOOL, ...headers } }, (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, stream: res }));
    req.setTimeout(idleMs, () => req.destroy(new Error(`${url}: no response for ${idleMs / 1000} s`)));
    req.on('error', reject);
  });
}

/**
 * Downloads `url` to `dest` with resume and verification.
 * @throws IntegrityError when the finished file fails verification (it is deleted); Error for HTTP/network failures
 *   (the partial `.part` file is kept so the next call resumes).
 */
export async function download(o: DownloadOptions): Promise<DownloadResult> {
  const idle = o.idleTimeoutMs ?? 60_000;
  mkdirSync(path.dirname(path.resolve(o.dest)), { recursive: true });
  if (existsSync(o.dest)) {
    const h = await hashFile(o.dest, o.onProgress);
    if (!verify(h, o.expected, o.url)) return { file: o.dest, ...h, resumedFrom: h.bytes, cached: true };
    rmSync(o.dest, { force: true });
  }
  const part = `${o.dest}.part`;
  let url = o.url;
  let redirects = 0;
  let resumedFrom = 0;
  let restarts = 0;
  const cap = o.expected?.size ?? o.expected?.maxBytes ?? limit('downloadBytes');
  const capWhy = o.expected?.size !== undefined ? 'the size the registry gives' : o.expected?.maxBytes !== undefined ? 'the largest size expected for this entry' : `the ${formatBytes(cap)} cap (${limitEnv('downloadBytes')})`;
  const keep = `the partial download is kept in ${part} for the next run to resume; delete it to start over`;
  for (;;) {
    const have = existsSync(part) ? statSync(part).size : 0;
    if (have > cap) {
      // A .part longer than the file can be is garbage (an earlier endless body): start over.
      rmSync(part, { force: true });
      continue;
    }
    const res = await request(url, have > 0 ? { range: `bytes=${have}-` } : {}, idle);
    if (res.status >= 300 && res.status < 400 && res.headers.location) {
      res.stream.resume();
      if (++redirects > (o.maxRedirects ?? 5)) throw new Error(`${o.url}: too many redirects`);
      url = new URL(res.headers.location, url).toString();
      continue;
    }
    if (res.status === 416 && have > 0) {
      // Range not satisfiable: the .part is already complete (or longer than the file) — verify below or restart.
      res.stream.resume();
      const total = Number(/\/(\d+)$/.exec(res.headers['content-range'] ?? '')?.[1] ?? NaN);
      if (total === have) break;
      rmSync(part, { force: true });
      continue;
    }
    let start: number;
    if (res.status === 206 && have > 0) {
      const m = /^bytes (\d+)-/.exec(res.headers['content-range'] ?? '');
      if (!m || Number(m[1]) !== have) {
        res.stream.destroy();
        // The .part cannot be resumed against this answer: drop it and download from the start (once).
        if (restarts++ === 0) {
          rmSync(part, { force: true });
          continue;
        }
        throw new Error(`${url}: server answered range ${have}- with ${res.headers['content-range'] ?? 'no Content-Range'}; delete ${part} to start over`);
      }
      start = have;
    } else if (res.status === 200) {
      start = 0; // full body (server ignored Range or none was sent)
    } else {
      res.stream.resume();
      throw new Error(`${url}: HTTP ${res.status}`);
    }
    resumedFrom = start;
    const len = Number(res.headers['content-length'] ?? NaN);
    const total = Number.isFinite(len) ? start + len : o.expected?.size;
    if (total !== undefined && total > cap) {
      res.stream.destroy();
      throw new Error(`${url}: the server announces ${total} bytes, more than ${capWhy} (${cap} bytes); nothing more was downloaded (${keep})`);
    }
    if (o.expected?.size !== undefined && Number.isFinite(len) && start + len !== o.expected.size) {
      res.stream.destroy();
      throw new Error(`${url}: the server announces ${start + len} bytes, the registry expects ${o.expected.size}; nothing more was downloaded (${keep})`);
    }
    const free = freeBytes(path.dirname(path.resolve(part)));
    if (free !== undefined && (total ?? 0) - start > free) {
      res.stream.destroy();
      throw new Error(`${url}: needs ${formatBytes((total ?? 0) - start)} more but only ${formatBytes(free)} are free in ${path.dirname(path.resolve(part))}`);
    }
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(part, { flags: start > 0 ? 'a' : 'w' });
      let done = start;
      let failed = false;
      const fail = (e: Error): void => {
        if (failed) return;
        failed = true;
        res.stream.destroy();
        out.destroy();
        reject(e);
      };
      res.stream.setTimeout(idle, () => fail(new Error(`${url}: stalled for ${idle / 1000} s at byte ${done}; run again to resume`)));
      res.stream.on('data', (c: Buffer) => {
        done += c.length;
        if (done > cap) {
          fail(new Error(`${url}: the body runs past ${capWhy} (${cap} bytes); download stopped and ${part} deleted`));
          rmSync(part, { force: true });
          return;
        }
        const ev: Parameters<ProgressCallback>[0] = { stage: 'download', done, unit: 'B', detail: path.basename(o.dest) };
        if (total !== undefined) ev.total = total;
        o.onProgress?.(ev);
      });
      res.stream.on('aborted', () => fail(new Error(`${url}: connection closed at byte ${done}; run again to resume (${keep})`)));
      res.stream.on('error', (e) => fail(new Error(`${url}: ${e.message} at byte ${done}; run again to resume (${keep})`)));
      res.stream.on('end', () => {
        if (Number.isFinite(len) && done !== start + len) fail(new Error(`${url}: connection closed at byte ${done} of ${start + len}; run again to resume (${keep})`));
      });
      out.on('error', (e) => fail(e));
      out.on('finish', () => (failed ? undefined : resolve()));
      res.stream.pipe(out);
    });
    break;
  }
  const h = await hashFile(part, o.onProgress);
  const bad = verify(h, o.expected, o.url);
  if (bad) {
    rmSync(part, { force: true });
    throw new IntegrityError(`${bad}; the download was deleted`);
  }
  renameSync(part, o.dest);
  return { file: o.dest, ...h, resumedFrom, cached: false };
}
