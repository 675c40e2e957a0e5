/**
 * `uol serve [--port P] [--host H] [--dir DIR]`: serves the static web app (built by `npm run build:web` into
 * dist-web/) on this machine, until interrupted. The page runs everything in the browser; the server only hands out
 * files (src/util/static-server.ts).
 */
import type { Argv, CommandModule } from 'yargs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, type GlobalArgs } from '../context.js';

interface ServeArgs extends GlobalArgs {
  port: number;
  host: string;
  dir?: string;
}

/** The built app: `<package>/dist-web` (this file is src/cli/commands/ or dist/cli/commands/). */
function defaultAppDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist-web');
}

export const serveCommand: CommandModule<GlobalArgs, ServeArgs> = {
  command: 'serve',
  describe: 'serve the web app (fit and localize in the browser) on localhost',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('port', { type: 'number', default: 8080, describe: 'port (0: any free one)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'interface to listen on (0.0.0.0: every one)' })
      .option('dir', { type: 'string', describe: 'folder to serve (default: the built app, dist-web/)' }) as Argv<ServeArgs>,
  handler: async (a) => {
    const { existsSync } = await import('node:fs');
    const { UsageError } = await import('../../util/errors.js');
    const { serveStatic } = await import('../../util/static-server.js');
    const dir = path.resolve(a.dir ?? defaultAppDir());
    if (!existsSync(path.join(dir, 'index.html'))) throw new UsageError(`${dir}: no web app there (no index.html): run \`npm run build:web\` first${a.dir ? '' : ' (npm run build does it too)'}`);
    if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new UsageError(`--port ${a.port}: expected an integer in 0…65535`);
    const s = await serveStatic({ root: dir, port: a.port, host: a.host });
    emit(a, { url: s.url, dir, port: s.port, host: s.host }, [`serving ${dir} at ${s.url} (Ctrl-C stops)`]);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await s.close();
  },
};
