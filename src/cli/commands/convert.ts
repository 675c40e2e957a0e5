/**
 * `uol convert CHECKPOINT --arch ARCH [--patch P] [--key-map M | --prefix STR] [--out DIR]`: a PyTorch `.pth`
 * (zip or legacy) or `.safetensors` checkpoint → a TF.js backbone directory (model.json + ≤ 4 MB shards + provenance).
 * `uol convert FILE --release NAME [--allow-missing]`: a file of the authors' release, loaded as their main.py loads it
 * (src/weights/release-layouts.ts), strictly, reporting what its strict=False ignored. `--release-list` prints the table.
 */
import type { Argv, CommandModule } from 'yargs';
import * as path from 'node:path';
import { UsageError } from '../../util/errors.js';
import { ARCH_NAMES } from '../../backbones/arch-names.js';
import type { ReleaseLoadReport } from '../../backbones/node/convert.js';
import { listReleaseNetworks, releaseByName } from '../../weights/release-layouts.js';
import { modelsDir } from '../../backbones/node/paths.js';
import { KEY_MAPS } from '../../weights/keymaps.js';
import { sharedDecls, withShared, type SharedArgs } from './shared-options.js';
import { emit, progressFor, type GlobalArgs } from '../context.js';

interface ConvertArgs extends GlobalArgs, SharedArgs<'models-dir' | 'force' | 'arch-config'> {
  checkpoint?: string;
  arch?: string;
  release?: string;
  'release-list': boolean;
  'allow-missing': boolean;
  patch?: number;
  'key-map': string;
  prefix?: string;
  name?: string;
  out?: string;
  'allow-nonfinite': boolean;
}

/** Model name from a checkpoint file name: the base name without .pth/.pth.tar/.pt/.tar/.safetensors/.bin. */
export function checkpointStem(file: string): string {
  return path.basename(file).replace(/(\.pth\.tar|\.pth|\.pt|\.tar|\.safetensors|\.bin|\.ckpt)$/i, '');
}

/** Keys for text output: all of them when few, else counted per group (prefix + first component, or two components). */
function keyLines(keys: string[], prefix: string): string[] {
  if (keys.length <= 30) return keys.map((k) => `    ${k}`);
  const groups = new Map<string, string[]>();
  for (const k of keys) {
    const g = prefix && k.startsWith(prefix) ? prefix + k.slice(prefix.length).split('.')[0]! : k.split('.').slice(0, 2).join('.');
    groups.set(g, [...(groups.get(g) ?? []), k]);
  }
  return [...[...groups].map(([g, ks]) => (ks.length === 1 ? `    ${ks[0]!}` : `    ${g}.* (${ks.length})`)), '    (--json lists every key)'];
}

function reportLines(r: ReleaseLoadReport): string[] {
  const out = [`  the release loads ${r.loaded.length} tensor(s) from ${r.container.length ? r.container.join('.') : 'the root'}${r.prefix ? ` under prefix "${r.prefix}"` : ''}`];
  out.push(`  ignored silently by its strict=False: ${r.ignored.length}`, ...keyLines(r.ignored, r.prefix));
  const absent = r.missing;
  if (r.missingCounters.length) out.push(`  BatchNorm step counters absent (unused at inference): ${r.missingCounters.length}`);
  out.push(`  left at random init by the release: ${absent.length}${r.filled.length ? ` (filled with PyTorch-default values: --allow-missing)` : ''}`, ...keyLines(absent, r.prefix));
  return out;
}

function listRelease(a: ConvertArgs): void {
  const nets = listReleaseNetworks();
  emit(
    a,
    { networks: nets },
    [
      'the release\'s --loc_network values (main.py order; a name resolves by substring like main.py):',
      ...nets.map((n) => {
        const where = `${n.container.length ? `ckpt[${n.container.map((c) => `'${c}'`).join('][')}]` : 'ckpt'}${n.prefix ? ` → "${n.prefix}"` : ''}`;
        const src = n.source.kind === 'public' ? n.source.url : `authors' download folder only (${n.source.note})`;
        const opts = Object.keys(n.archConfig).length ? ` ${JSON.stringify(n.archConfig)}` : '';
        return `  ${n.name.padEnd(8)} ${n.file}  ${where}  ${n.arch}${opts}  _${n.modelName}\n           ${src}`;
      }),
    ],
  );
}

export const convertCommand: CommandModule<GlobalArgs, ConvertArgs> = {
  command: 'convert [checkpoint]',
  describe: 'convert a PyTorch .pth (zip or legacy) or .safetensors checkpoint into a TF.js backbone',
  builder: (y: Argv<GlobalArgs>) =>
    withShared(y, { 'models-dir': true, force: true })
      .positional('checkpoint', { type: 'string', describe: 'checkpoint file' })
      .option('arch', { type: 'string', choices: ARCH_NAMES as string[], describe: 'architecture (required unless --release)' })
      .option('release', { type: 'string', describe: "a file of the authors' release: its --loc_network (mocov1, detcoAA, ccam, …; see --release-list)" })
      .option('release-list', { type: 'boolean', default: false, alias: 'list-release', describe: "print the release's networks: file, container key, prefix, URL" })
      .option('allow-missing', { type: 'boolean', default: false, describe: 'with --release: convert although the release left tensors at random init' })
      .option('patch', { type: 'number', describe: 'ViT patch size (checked against the checkpoint)' })
      .option('key-map', { type: 'string', default: 'auto', choices: ['auto', ...KEY_MAPS.map((k) => k.name)], describe: 'where the backbone sits in the checkpoint' })
      .option('prefix', { type: 'string', describe: 'explicit key prefix of the backbone (overrides --key-map)' })
      .options(sharedDecls({ 'arch-config': true }))
      .option('name', { type: 'string', describe: 'model name (default: checkpoint file stem)' })
      .option('out', { type: 'string', describe: 'output directory (default: <models-dir>/<name>)' })
      .option('allow-nonfinite', { type: 'boolean', default: false, describe: 'convert tensors holding NaN/Inf (refused by default)' }) as Argv<ConvertArgs>,
  handler: async (a) => {
    if (a['release-list']) return listRelease(a);
    if (a.checkpoint === undefined) throw new UsageError('convert: a checkpoint file is required (or --release-list)');
    const checkpoint = a.checkpoint;
    const { convertCheckpoint, convertReleaseCheckpoint } = await import('../../backbones/node/convert.js');
    let archConfig: Record<string, unknown> | undefined;
    if (a['arch-config'] !== undefined) {
      try {
        archConfig = JSON.parse(a['arch-config']) as Record<string, unknown>;
      } catch (e) {
        throw new UsageError(`--arch-config: invalid JSON: ${(e as Error).message}`);
      }
      if (typeof archConfig !== 'object' || archConfig === null || Array.isArray(archConfig)) throw new UsageError('--arch-config: expected a JSON object');
    }
    if (a.release !== undefined) {
      for (const k of ['arch', 'patch', 'prefix'] as const) if (a[k] !== undefined) throw new UsageError(`--${k} cannot be combined with --release (the release's table sets it)`);
      if (a['key-map'] !== 'auto') throw new UsageError('--key-map cannot be combined with --release (the release\'s table sets it)');
      const prog = progressFor(a);
      try {
        const net = releaseByName(a.release);
        const name = a.name ?? net.uolId;
        const outDir = a.out ?? path.join(modelsDir(a['models-dir']), name);
        const ro: Parameters<typeof convertReleaseCheckpoint>[0] = { name: a.release, file: checkpoint, outDir, modelName: name, force: a.force, allowMissing: a['allow-missing'], allowNonFinite: a['allow-nonfinite'], onProgress: prog.callback };
        if (archConfig) ro.archConfig = archConfig;
        const r = await convertReleaseCheckpoint(ro);
        emit(
          a,
          { out: ro.outDir, name, network: net.name, arch: net.arch, archConfig: net.archConfig, modelName: net.modelName, tensors: r.tensors, bytes: r.bytes, weightsSha256: r.json.weightsSha256, report: r.report, provenance: r.json.provenance },
          [
            `converted ${checkpoint} → ${ro.outDir}`,
            `  release network ${net.name}${net.name !== a.release ? ` (main.py resolves "${a.release}" to it)` : ''}: ${net.arch}${Object.keys(net.archConfig).length ? ` ${JSON.stringify(net.archConfig)}` : ''}, printed as _${net.modelName}`,
            ...reportLines(r.report),
            `  ${r.tensors} tensors, ${(r.bytes / 1e6).toFixed(1)} MB; source sha256 ${r.json.provenance.sourceSha256}`,
            `use it with: --backbone ${ro.outDir}`,
          ],
        );
      } finally {
        prog.stop();
      }
      return;
    }
    if (a.arch === undefined) throw new UsageError('convert: --arch is required (or --release NAME for a file of the authors\' release)');
    const arch = a.arch;
    const name = a.name ?? checkpointStem(checkpoint);
    const out = a.out ?? path.join(modelsDir(a['models-dir']), name);
    const prog = progressFor(a);
    try {
      const o: Parameters<typeof convertCheckpoint>[0] = { checkpoint, arch, keyMap: a['key-map'], out, name, force: a.force, onProgress: prog.callback };
      if (a.patch !== undefined) o.patch = a.patch;
      if (a.prefix !== undefined) o.prefix = a.prefix;
      if (archConfig) o.archConfig = archConfig;
      if (a['allow-nonfinite']) o.allowNonFinite = true;
      const r = await convertCheckpoint(o);
      const p = r.json.provenance;
      emit(
        a,
        { out, name, arch, tensors: r.tensors, bytes: r.bytes, shards: r.json.weightsManifest[0]!.paths.length, weightsSha256: r.json.weightsSha256, provenance: p },
        [
          `converted ${a.checkpoint} → ${out}`,
          `  ${arch}: ${r.tensors} tensors, ${(r.bytes / 1e6).toFixed(1)} MB in ${r.json.weightsManifest[0]!.paths.length} shard(s)`,
          `  key map ${p.keyMap} (v${p.keyMapVersion})${p.prefix ? `, prefix "${p.prefix}"` : ''}${p.container.length ? `, from ${p.container.join('.')}` : ''}${p.droppedHeads.length ? `, dropped ${p.droppedHeads.length} head tensor(s)` : ''}`,
          `  source sha256 ${p.sourceSha256}`,
          `use it with: --backbone ${out}`,
        ],
      );
    } finally {
      prog.stop();
    }
  },
};
