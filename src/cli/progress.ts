/**
 * Rendering of library progress events: a bar with rate and ETA on a TTY (cli-progress), JSON lines on stderr with
 * `--progress json`, nothing otherwise.
 */
import cliProgress from 'cli-progress';
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

/** Creates a progress sink for `mode` (auto = bar on a TTY stderr, else none). */
export function createProgress(mode: ProgressMode = 'auto'): ProgressSink {
  const resolved = mode === 'auto' ? (process.stderr.isTTY ? 'bar' : 'none') : mode;
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
  const bars = new Map<string, { bar: cliProgress.SingleBar; start: number; offset: number }>();
  const multi = new cliProgress.MultiBar(
    {
      format: ' {stage} |{bar}| {value}/{total} {unit} | {rate} | ETA {etaf} {detail}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      stream: process.stderr,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    callback: (e: ProgressEvent) => {
      let b = bars.get(e.stage);
      const unit = e.unit ?? 'it';
      if (!b) {
        b = { bar: multi.create(e.total ?? 0, 0), start: Date.now(), offset: e.done };
        bars.set(e.stage, b);
      }
      const secs = (Date.now() - b.start) / 1000;
      const doneHere = e.done - b.offset;
      const eta = e.total !== undefined && doneHere > 0 ? ((e.total - e.done) * secs) / doneHere : NaN;
      if (e.total !== undefined) b.bar.setTotal(e.total);
      b.bar.update(e.done, {
        stage: e.stage.padEnd(9),
        unit,
        rate: fmtRate(doneHere, secs, unit),
        etaf: fmtEta(eta),
        detail: e.detail ?? '',
      });
    },
    stop: () => multi.stop(),
  };
}
