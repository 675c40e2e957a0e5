/**
 * Shared CLI plumbing: global options, engine start-up, output (text or one JSON object) and progress.
 */
import type { Argv } from 'yargs';
import { BACKEND_CHOICES, initEngine, type BackendChoice, type EngineInfo } from '../engine/backend.js';
import { createProgress, type ProgressMode, type ProgressSink } from './progress.js';

/** Options every command accepts. */
export interface GlobalArgs {
  backend: BackendChoice;
  native: 'auto' | 'off';
  json: boolean;
  progress: ProgressMode;
}

/** Adds the global options to a yargs instance. */
export function globalOptions<T>(y: Argv<T>): Argv<T & GlobalArgs> {
  return y
    .option('backend', {
      choices: BACKEND_CHOICES,
      default: 'auto' as BackendChoice,
      describe: 'TF.js backend (auto: tfjs-node-gpu → tfjs-node → wasm → cpu)',
      global: true,
    })
    .option('native', { choices: ['auto', 'off'] as const, default: 'auto' as const, describe: 'native BLAS kernels on wasm', global: true })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object on stdout', global: true })
    .option('progress', {
      choices: ['auto', 'bar', 'json', 'none'] as const,
      default: 'auto' as ProgressMode,
      describe: 'progress display (auto: bar on a TTY, else none)',
      global: true,
    }) as unknown as Argv<T & GlobalArgs>;
}

/** Starts the engine as the global options ask. */
export async function startEngine(a: GlobalArgs): Promise<EngineInfo> {
  return initEngine({ backend: a.backend, native: a.native });
}

/** Writes a command's result: JSON on stdout with --json, else the text lines. */
export function emit(a: GlobalArgs, json: unknown, text: string | string[]): void {
  if (a.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  else {
    const t = Array.isArray(text) ? text.join('\n') : text;
    if (t.length) process.stdout.write(t + '\n');
  }
}

/** Progress sink honouring --progress (JSON mode never draws a bar on stdout). */
export function progressFor(a: GlobalArgs): ProgressSink {
  return createProgress(a.progress);
}
