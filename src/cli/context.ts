/**
 * Shared CLI plumbing: global options, engine start-up, output (text or one JSON object) and progress.
 *
 * This module and every command module load no engine, codec or model code at import time (only yargs, node:* and
 * small constant modules): `uol --help` and usage errors answer before TF.js is loaded. Commands import what they run
 * inside their handlers (`await import(…)`); spec/cli-acceptance.spec.ts checks the start-up time.
 */
import type { Argv } from 'yargs';
import * as path from 'node:path';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { BACKEND_CHOICES, type BackendChoice } from '../engine/choices.js';
import type { EngineInfo } from '../engine/backend.js';
import { createProgress, resolveProgressMode, type ProgressMode, type ProgressSink } from './progress.js';
import { settings } from '../util/settings.js';

/** Options every command accepts. */
export interface GlobalArgs {
  backend: BackendChoice;
  native: 'auto' | 'off';
  json: boolean;
  progress: ProgressMode;
  debug: boolean;
}

/** Adds the global options to a yargs instance. */
export function globalOptions<T>(y: Argv<T>): Argv<T & GlobalArgs> {
  return y
    .option('backend', {
      choices: BACKEND_CHOICES,
      default: 'auto' as BackendChoice,
      describe: 'TF.js backend (auto: tfjs-node-gpu → webgpu → tfjs-node → wasm → cpu)',
      global: true,
    })
    .option('native', { choices: ['auto', 'off'] as const, default: 'auto' as const, describe: 'native BLAS kernels on wasm', global: true })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object on stdout (the result, or {"error": …})', global: true })
    .option('progress', {
      choices: ['auto', 'bar', 'json', 'none'] as const,
      default: 'auto' as ProgressMode,
      describe: 'progress display (auto: bar on a TTY, else none)',
      global: true,
    })
    .option('debug', { type: 'boolean', default: false, describe: 'print stack traces of failures', global: true }) as unknown as Argv<T & GlobalArgs>;
}

/** Progress sinks drawing now; stopped before any result line is printed so the two never share a line. */
const activeSinks = new Set<ProgressSink>();

/** A one-line status on a progress-bar terminal ("loading the engine…"), cleared by the next output. */
let statusShown = false;

/** Shows `text` as a transient status line on stderr when progress bars are drawn (TTY); no-op otherwise. */
export function status(a: Pick<GlobalArgs, 'progress'>, text: string): void {
  if (resolveProgressMode(a.progress) !== 'bar') return;
  const cols = process.stderr.columns || 80;
  process.stderr.write(`\r\x1b[K${text.length >= cols ? text.slice(0, cols - 2) + '…' : text}`);
  statusShown = true;
}

function clearStatus(): void {
  if (!statusShown) return;
  process.stderr.write('\r\x1b[K');
  statusShown = false;
}

/** Stops every progress bar and clears the status line (before printing results or errors). */
export function settleDisplay(): void {
  for (const s of [...activeSinks]) s.stop();
  clearStatus();
}

/**
 * One line, shown once per user (a marker under $XDG_CACHE_HOME/uol-rps or ~/.cache/uol-rps), when a run uses plain
 * wasm kernels because the native addon is not built: the exact commands that build it.
 */
function nativeHint(a: GlobalArgs, e: EngineInfo): void {
  if (a.json || settings().noHints || e.backend !== 'wasm' || e.native.enabled || !e.native.hint) return;
  const cache = settings().cacheHome || path.join(homedir(), '.cache');
  const marker = path.join(cache, 'uol-rps', 'native-hint-shown');
  if (existsSync(marker)) return;
  try {
    mkdirSync(path.dirname(marker), { recursive: true });
    writeFileSync(marker, `${new Date().toISOString()}\n`);
  } catch {
    return; // no writable cache: stay quiet rather than repeat the hint on every run
  }
  clearStatus();
  process.stderr.write(`uol: tip: ${e.native.hint} (shown once)\n`);
}

/** Starts the engine as the global options ask (says what is loading on a terminal). */
export async function startEngine(a: GlobalArgs): Promise<EngineInfo> {
  status(a, `uol: starting the TF.js engine (--backend ${a.backend})…`);
  // Engine state (chosen backend, installed native kernels) lives in engine/backend.ts and engine/native.ts. Where this
  // module runs as CommonJS (the test runner's TypeScript loader), import() would load second copies of them with their
  // own state, so the copy the rest of the process uses is taken with require(); built (ESM) code has no require.
  const { initEngine } =
    typeof require === 'function'
      ? // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: CommonJS only
        (require('../engine/backend.js') as typeof import('../engine/backend.js'))
      : await import('../engine/backend.js');
  const e = await initEngine({ backend: a.backend, native: a.native });
  status(a, `uol: engine ${e.backend}${e.native.enabled ? ' + native kernels' : ''} ready; loading inputs…`);
  nativeHint(a, e);
  return e;
}

/** Writes a command's result: JSON on stdout with --json, else the text lines. Progress bars are stopped first. */
export function emit(a: GlobalArgs, json: unknown, text: string | string[]): void {
  settleDisplay();
  if (a.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  else {
    const t = Array.isArray(text) ? text.join('\n') : text;
    if (t.length) process.stdout.write(t + '\n');
  }
}

/** A note for the user on stderr (not part of the result, also under --json): merged duplicates, renamed outputs, … */
export function notice(text: string): void {
  settleDisplay();
  process.stderr.write(`uol: note: ${text}\n`);
}

/** Progress sink honouring --progress (JSON mode never draws a bar on stdout). */
export function progressFor(a: GlobalArgs): ProgressSink {
  clearStatus();
  const sink = createProgress(a.progress);
  const stop = sink.stop;
  const tracked: ProgressSink = {
    callback: sink.callback,
    stop: () => {
      activeSinks.delete(tracked);
      stop();
    },
  };
  activeSinks.add(tracked);
  return tracked;
}
