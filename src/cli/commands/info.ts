/**
 * `uol info [--json]`: version, active backend and why the others were skipped, native acceleration, versions.
 */
import type { CommandModule } from 'yargs';
import { TOOL } from '../../version.js';
import { emit, startEngine, type GlobalArgs } from '../context.js';
import { DEFAULT_BACKBONE } from '../../backbones/defaults.js';
import { PROTOCOL_NAMES, releaseDefaultsTable } from '../../data/protocol.js';

export const infoCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'info',
  describe: 'show the engine: active backend and why, native kernels, versions',
  handler: async (a) => {
    const { listBackbones } = await import('../../backbones/node/registry.js');
    const e = await startEngine(a);
    const backbones = listBackbones();
    const protocols = { names: PROTOCOL_NAMES, default: "release for cub, wsol, cars, aircraft, dogs, cifar*; wsoleval otherwise", release: Object.fromEntries(releaseDefaultsTable().map((r) => [r.dataset, r.defaults])) };
    const json = { tool: TOOL, backend: e.backend, choice: e.choice, attempts: e.attempts, native: e.native, wasmSimd: e.wasmSimd, versions: e.versions, defaultBackbone: DEFAULT_BACKBONE, backbones, protocols };
    const lines = [
      TOOL,
      `backend: ${e.backend} (${e.choice}${e.wasmSimd !== undefined ? `, SIMD ${e.wasmSimd ? 'on' : 'off'}` : ''})`,
      ...e.attempts.filter((t) => !t.active).flatMap((t) => [`  skipped ${t.name}: ${t.reason}`, ...(t.hint ?? []).map((h) => `    ${h}`)]),
      `native kernels: ${e.native.enabled ? `on (${e.native.kernels.join(', ')})` : 'off'} — ${e.native.reason}`,
      ...(e.native.library
        ? [`  ${e.native.library.config}${e.native.library.isa ? `; ISA ${e.native.library.isa} (UOL_ISA; CPU: ${e.native.library.isaDetected ?? '?'})` : ''}; ${e.native.library.threads} threads (addon pool; UOL_NATIVE_THREADS)${e.native.library.directConv ? '; direct + Winograd conv kernels' : ''}`]
        : []),
      ...(e.native.coretype && e.native.library?.blas === 'openblas' ? [`  OPENBLAS_CORETYPE: ${e.native.coretype.value ?? '(detected by OpenBLAS)'} — ${e.native.coretype.note}`] : []),
      'versions:',
      ...Object.entries(e.versions).map(([k, v]) => `  ${k} ${v}`),
      `backbones (default ${DEFAULT_BACKBONE}; offline = usable now without network):`,
      ...backbones.map((b) => `  ${b.name.padEnd(24)} ${b.arch.padEnd(16)} ${b.source.padEnd(9)} ${b.offline ? 'offline' : 'uol fetch'}`),
      `protocols (--protocol): ${PROTOCOL_NAMES.join(', ')}; default ${protocols.default}. The release's per-dataset defaults (bilinear, PIL-exact, fit 224 whole):`,
      ...releaseDefaultsTable().map(
        ({ dataset, defaults: d }) =>
          `  ${dataset.padEnd(10)} ${`${d.imageSize}→${d.cropSize}`.padEnd(8)} stride ${String(d.resnetDownscale).padEnd(3)} eval ${d.evalSplit.padEnd(5)} τ ${d.valSplit ? `${d.valSplit}→${d.evalSplit}` : `oracle on ${d.evalSplit}`}`,
      ),
    ];
    emit(a, json, lines);
  },
};
