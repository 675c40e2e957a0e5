// Runs the CLI (from the TypeScript sources, like spec/helpers/uol-ts.ts) in a child process and measures it: exit
// code, output, wall time, and peak RSS (VmHWM of /proc/self/status reported at exit by rss-report.mjs, and
// /proc/<pid>/status VmHWM polled while it runs, for children killed before they can report).
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

export interface ChildResult {
  /** Exit code, or null when killed by a signal (e.g. the time cap). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time, ms. */
  ms: number;
  /** Peak resident set size, MiB. */
  peakMB: number;
  /** True when the time cap killed it. */
  timedOut: boolean;
}

function vmHWM(pid: number): number {
  try {
    // Before exec the child is a copy of this (large) test runner: only read it once it runs the CLI.
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('rss-report')) return 0;
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs `uol <args>` in a child; kills it (SIGKILL) after `timeoutMs`.
 * @param o.env extra environment; o.memCapMB: kill the child as soon as its RSS passes this (so a regression cannot
 *   take the machine down), reported as its peak.
 */
export function runChild(args: string[], o: { timeoutMs?: number; env?: Record<string, string>; memCapMB?: number; onSpawn?: (pid: number) => void } = {}): Promise<ChildResult> {
  const rssFile = path.join(os.tmpdir(), `uol-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', pathToFileURL(path.resolve('spec/helpers/rss-report.mjs')).href, '--import', 'tsx', 'spec/helpers/uol-ts.ts', ...args, '--progress', 'none'], {
    env: { ...process.env, UOL_BACKEND: process.env.UOL_BACKEND ?? 'cpu', ...o.env, UOL_TEST_RSS_FILE: rssFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  o.onSpawn?.(child.pid!);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let polled = 0;
  let timedOut = false;
  const poll = setInterval(() => {
    polled = Math.max(polled, vmHWM(child.pid!));
    if (o.memCapMB && polled > o.memCapMB * 1024) child.kill('SIGKILL');
  }, 25);
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, o.timeoutMs ?? 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      let reported: number;
      try {
        reported = Number(readFileSync(rssFile, 'utf8'));
      } catch {
        reported = 0;
      }
      rmSync(rssFile, { force: true });
      resolve({ code, stdout, stderr, ms: Date.now() - t0, peakMB: (reported || polled) / 1024, timedOut });
    }),
  );
}
