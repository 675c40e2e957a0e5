/**
 * `uol fetch NAME`: download a known checkpoint (converted-models/registry.json) with progress and resume, verify its
 * checksum, convert it into `<models-dir>/NAME/`.
 */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../util/errors.js';
import { sharedDecls, withShared, type SharedArgs } from './shared-options.js';
import { emit, progressFor, type GlobalArgs } from '../context.js';

interface FetchArgs extends GlobalArgs, SharedArgs<'models-dir' | 'force'> {
  name?: string;
  list: boolean;
  registry?: string;
  'keep-download': boolean;
}

export const fetchCommand: CommandModule<GlobalArgs, FetchArgs> = {
  command: 'fetch [name]',
  describe: 'download, verify and convert a known checkpoint (uol info lists them)',
  builder: (y: Argv<GlobalArgs>) =>
    withShared(y, { 'models-dir': true, force: 'download and convert again' })
      .positional('name', { type: 'string', describe: 'registry name' })
      .options(sharedDecls({ list: 'list the registry: URL and exactly what is verified for each entry' }))
      .option('registry', { type: 'string', describe: 'registry file (default $UOL_REGISTRY or converted-models/registry.json)' })
      .option('keep-download', { type: 'boolean', default: false, describe: 'keep the checkpoint file after conversion' }) as Argv<FetchArgs>,
  handler: async (a) => {
    const { fetchBackbone, readRegistry, registryVerification } = await import('../../backbones/node/registry.js');
    const { registryFile } = await import('../../backbones/node/paths.js');
    if (a.list) {
      const rows = readRegistry(registryFile(a.registry)).map((c) => ({ name: c.name, url: c.url, verified: registryVerification(c) }));
      emit(a, { checkpoints: rows }, rows.map((r) => `${r.name}\n  ${r.url}\n  verified: ${r.verified}`));
      return;
    }
    if (!a.name) throw new UsageError('uol fetch: give a registry NAME (or --list)');
    const prog = progressFor(a);
    try {
      const o: Parameters<typeof fetchBackbone>[1] = { force: a.force, keepDownload: a['keep-download'], onProgress: prog.callback };
      if (a['models-dir']) o.modelsDir = a['models-dir'];
      if (a.registry) o.registryFile = a.registry;
      const r = await fetchBackbone(a.name, o);
      prog.stop();
      const json = {
        name: r.name,
        dir: r.dir,
        fetched: r.fetched,
        ...(r.download ? { sha256: r.download.sha256, bytes: r.download.bytes, resumedFrom: r.download.resumedFrom } : {}),
        ...(r.verified ? { verified: r.verified } : {}),
        ...(r.warnings?.length ? { warnings: r.warnings } : {}),
        ...(r.convert ? { tensors: r.convert.tensors } : {}),
      };
      const text = r.fetched
        ? [...(r.warnings ?? []).map((w) => `warning: ${w}`), `fetched ${r.name}: ${((r.download?.bytes ?? 0) / 1e6).toFixed(1)} MB${r.download?.resumedFrom ? ` (resumed at ${r.download.resumedFrom} bytes)` : ''}, sha256 ${r.download?.sha256}`, `verified: ${r.verified ?? 'nothing'}`, `converted → ${r.dir}`]
        : [`${r.name} is already converted in ${r.dir} (--force to fetch again)`];
      emit(a, json, text);
    } finally {
      prog.stop();
    }
  },
};
