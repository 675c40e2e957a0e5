/**
 * Rendering of library progress events: a bar with rate and ETA on a TTY (cli-progress), JSON lines on stderr with
 * `--progress json`, nothing otherwise.
 */
import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';
import type { ProgressCallback, ProgressEvent } from '../util/progress.js';

/** Progress display mode. */
export type ProgressMode = 'auto' | 'bar' | 'json' | 'none';

/** A progress sink for one command; call `stop()` at the end. */
export interface ProgressSink {
  callback: ProgressCallback;
  stop(): void;
}

function fmtRate(done: number, seconds: number, unit: string): string {
  if (seconds <= 0 || done <= 0) return `-- ${unit}/s`;
  const r = done / seconds;
  if (unit === 'B') return `${(r / 1e6).toFixed(1)} MB/s`;
  return r >= 10 ? `${r.toFixed(0)} ${unit}/s` : `${r.toFixed(2)} ${unit}/s`;
}

function fmtEta(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** What `mode` draws here: `auto` is a bar on a TTY stderr, else nothing. */
export function resolveProgressMode(mode: ProgressMode = 'auto'): Exclude<ProgressMode, 'auto'> {
  return mode === 'auto' ? (process.stderr.isTTY ? 'bar' : 'none') : mode;
}

/** Fields of one bar line. */
interface BarPayload {
  stage: string;
  unit: string;
  rate: string;
  etaf: string;
  detail: string;
  /** False while the library has not said how many items there are (no `/0`, no bar). */
  known: boolean;
}

/**
 * One bar line, cut to the terminal width: a line that wraps breaks the redraw (cli-progress moves the cursor up by
 * bars, not by screen lines) and leaves fragments of earlier lines behind.
 */
export function barLine(value: number, total: number, bar: string, p: BarPayload, columns: number): string {
  const base = p.known ? ` ${p.stage} |${bar}| ${value}/${total} ${p.unit} | ${p.rate} | ETA ${p.etaf}` : ` ${p.stage} ${value} ${p.unit} | ${p.rate}`;
  const max = Math.max(20, columns - 1);
  const room = max - base.length - 1;
  const detail = room < 4 || !p.detail ? '' : p.detail.length > room ? '…' + p.detail.slice(-(room - 1)) : p.detail;
  const s = detail ? `${base} ${detail}` : base;
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** Width of the bar itself for a terminal of `columns` (8–30 characters, leaving room for the counts and rate). */
export function barWidth(columns: number): number {
  return Math.max(8, Math.min(30, columns - 64));
}

/** Creates a progress sink for `mode` (auto = bar on a TTY stderr, else none). */
export function createProgress(mode: ProgressMode = 'auto'): ProgressSink {
  const resolved = resolveProgressMode(mode);
  if (resolved === 'none') return { callback: () => undefined, stop: () => undefined };
  if (resolved === 'json') {
    let last = 0;
    return {
      callback: (e: ProgressEvent) => {
        const now = Date.now();
        if (now - last < 500 && e.done !== e.total) return;
        last = now;
        process.stderr.write(JSON.stringify({ progress: e }) + '\n');
      },
      stop: () => undefined,
    };
  }
  // cli-progress is loaded only when a bar is drawn (start-up time of --help and usage errors).
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
  const bars = new Map<string, { bar: CliProgress.SingleBar; start: number; offset: number }>();
  const multi = new cliProgress.MultiBar(
    {
      format: (options, params, payload: BarPayload) => {
        const size = barWidth(process.stderr.columns || 80);
        const full = Math.round(Math.max(0, Math.min(1, params.progress)) * size);
        const bar = (options.barCompleteString ?? '').slice(0, full) + (options.barIncompleteString ?? '').slice(0, size - full);
        return barLine(params.value, params.total, bar, payload, process.stderr.columns || 80);
      },
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      stream: process.stderr,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let stopped = false;
  return {
    callback: (e: ProgressEvent) => {
      if (stopped) return;
      let b = bars.get(e.stage);
      const unit = e.unit ?? 'it';
      if (!b) {
        b = { bar: multi.create(e.total ?? 0, 0), start: Date.now(), offset: e.done };
        bars.set(e.stage, b);
      }
      const secs = (Date.now() - b.start) / 1000;
      const doneHere = e.done - b.offset;
      // A total of 0 (or below what is done) means the library does not know it yet: no "20/0", no ETA.
      const known = e.total !== undefined && e.total > 0 && e.total >= e.done;
      const eta = known && doneHere > 0 ? ((e.total! - e.done) * secs) / doneHere : NaN;
      if (known) b.bar.setTotal(e.total!);
      b.bar.update(e.done, {
        stage: e.stage.padEnd(9),
        unit,
        rate: fmtRate(doneHere, secs, unit),
        etaf: fmtEta(eta),
        detail: e.detail ?? '',
        known,
      });
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      multi.stop();
    },
  };
}
