/**
 * A static file server for the web app (`uol serve`, and the browser specs): GET/HEAD of regular files under one root,
 * MIME types by extension (application/wasm included, which browsers require for streaming compilation), `/` and
 * folders answered by their index.html. Nothing outside the root is served: paths with `..` segments, NUL bytes,
 * backslashes or encoded separators are refused, and a symlink whose target leaves the root is refused (real path
 * checked). node:http rather than a framework: the job is this small.
 */
import * as http from 'node:http';
import * as path from 'node:path';
import { createReadStream, promises as fsp } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { UsageError } from './errors.js';

/** Content types by file extension (lower case, with the dot); others are application/octet-stream. */
export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Options of {@link serveStatic}. */
export interface StaticServerOptions {
  /** Folder to serve (must exist). */
  root: string;
  /** Port (default 0: a free one). */
  port?: number;
  /** Interface (default 127.0.0.1: this machine only). */
  host?: string;
}

/** A running server. */
export interface StaticServer {
  /** `http://host:port/`. */
  url: string;
  port: number;
  host: string;
  /** Stops accepting connections and closes open ones. */
  close(): Promise<void>;
}

/** The file a request path maps to, or undefined when it must be refused (outside the root, or malformed). */
export function resolveRequestPath(root: string, urlPath: string): string | undefined {
  let p: string;
  try {
    p = decodeURIComponent(urlPath.split('?')[0]!.split('#')[0]!);
  } catch {
    return undefined;
  }
  if (p.includes('\0') || p.includes('\\') || !p.startsWith('/')) return undefined;
  if (p.split('/').some((seg) => seg === '..')) return undefined;
  const abs = path.resolve(root, `.${p}`);
  const rel = path.relative(root, abs);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return abs;
}

function send(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(`${text}\n`);
}

/**
 * Serves `root` over HTTP.
 * @throws UsageError when the root is not a folder or the port cannot be bound (in use, not allowed).
 */
export async function serveStatic(o: StaticServerOptions): Promise<StaticServer> {
  const root = path.resolve(o.root);
  let realRoot: string;
  try {
    if (!(await fsp.stat(root)).isDirectory()) throw new Error('not a folder');
    realRoot = await fsp.realpath(root);
  } catch (e) {
    throw new UsageError(`${root}: cannot serve it (${(e as Error).message})`);
  }
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return send(res, 405, 'method not allowed');
      }
      let file = resolveRequestPath(realRoot, req.url ?? '/');
      if (!file) return send(res, 400, 'bad path');
      try {
        let st = await fsp.stat(file);
        if (st.isDirectory()) {
          file = path.join(file, 'index.html');
          st = await fsp.stat(file);
        }
        const real = await fsp.realpath(file);
        const rel = path.relative(realRoot, real);
        if (rel.startsWith('..') || path.isAbsolute(rel) || !st.isFile()) return send(res, 404, 'not found');
        res.writeHead(200, {
          'Content-Type': MIME_TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream',
          'Content-Length': st.size,
          'Cache-Control': 'no-cache',
          'X-Content-Type-Options': 'nosniff',
        });
        if (req.method === 'HEAD') return void res.end();
        createReadStream(real).on('error', () => res.destroy()).pipe(res);
      } catch {
        send(res, 404, 'not found');
      }
    })();
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new UsageError(`cannot listen on ${host}:${o.port ?? 0} (${e.code ?? e.message})`)));
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    host,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
