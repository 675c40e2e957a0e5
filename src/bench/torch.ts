/**
 * The PyTorch timing reference (tools/bench_torch.py under Debian's /usr/bin/python3), run as a child process in the
 * same benchmark run so ratios compare like with like. Skipped, with the reason, when the script, Python or torch is
 * missing. The child gets OPENBLAS_CORETYPE (chosen from the CPU flags when unset, as for the addon) and 2 threads
 * unless told otherwise.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseCoretype, cpuFlags } from '../engine/native.js';
import { childProcessEnv, settings } from '../util/settings.js';

/** Python used for references (Debian's, with torch 1.13); env `UOL_TORCH_PYTHON` overrides. */
export function torchPython(): string {
  return settings().bench.torchPython ?? '/usr/bin/python3';
}

/** Absolute path of tools/bench_torch.py. */
export function torchScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', '..', 'tools', 'bench_torch.py');
}

/** One op for the `ops` mode (shapes exactly as TF.js receives them; see tools/bench_torch.py). */
export type TorchOp =
  | { name: string; kind: 'matmul'; a: number[]; b: number[]; transA?: boolean; transB?: boolean }
  | { name: string; kind: 'conv2d'; x: [number, number, number, number]; filter: [number, number, number, number]; strides: [number, number]; pad: 'same' | 'valid'; dilations: [number, number] };

/** Timing of one op by torch. */
export interface TorchOpResult {
  name: string;
  /** Median milliseconds per op. */
  ms: number;
  gflops: number;
  flops: number;
}

/** Environment the reference ran in. */
export interface TorchEnv {
  torch: string;
  threads: number;
  coretype: string | null;
}

/** Either the parsed JSON reply or why there is none. */
export type TorchReply<T> = { ok: true; value: T & TorchEnv } | { ok: false; reason: string };

function childEnv(): NodeJS.ProcessEnv {
  const env = childProcessEnv();
  if (!env.OPENBLAS_CORETYPE) {
    const ct = chooseCoretype(cpuFlags());
    if (ct) env.OPENBLAS_CORETYPE = ct;
  }
  return env;
}

/** Runs tools/bench_torch.py with `args` (and `stdin`), parsing its JSON reply. Never throws. */
export async function runTorch<T>(args: string[], stdin?: string): Promise<TorchReply<T>> {
  const script = torchScript();
  if (!existsSync(script)) return { ok: false, reason: `${script} not found` };
  const py = torchPython();
  if (!existsSync(py)) return { ok: false, reason: `${py} not found` };
  return new Promise((resolve) => {
    const child = spawn(py, [script, ...args], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => resolve({ ok: false, reason: `${py}: ${e.message}` }));
    child.on('close', (code) => {
      const text = Buffer.concat(out).toString('utf8').trim();
      let j: unknown;
      try {
        j = JSON.parse(text.split('\n').pop() ?? '');
      } catch {
        const why = Buffer.concat(err).toString('utf8').trim().split('\n').pop() ?? '';
        resolve({ ok: false, reason: `bench_torch.py exited ${code}: ${why || 'no JSON on stdout'}` });
        return;
      }
      const o = j as { error?: string };
      if (code !== 0 || o.error) resolve({ ok: false, reason: o.error ?? `bench_torch.py exited ${code}` });
      else resolve({ ok: true, value: j as T & TorchEnv });
    });
    child.stdin.end(stdin ?? '');
  });
}

/** Times `ops` in torch (`threads` threads, default 2). */
export async function torchOps(ops: TorchOp[], opts: { rounds: number; minMs: number; threads?: number }): Promise<TorchReply<{ results: TorchOpResult[] }>> {
  return runTorch<{ results: TorchOpResult[] }>(['ops', '--threads', String(opts.threads ?? 2)], JSON.stringify({ rounds: opts.rounds, min_ms: opts.minMs, ops }));
}

/**
 * A long-lived `bench_torch.py serve` process, so a benchmark can interleave its own timings with torch's case by case
 * (on a shared machine, load bursts then hit both sides alike). Call {@link TorchServer.close} when done.
 */
export class TorchServer {
  private child: ReturnType<typeof spawn> | undefined;
  private buf = '';
  private waiting: ((line: string | undefined) => void)[] = [];
  private lines: string[] = [];
  private closed = false;
  /** Torch version and threads, once started. */
  env: TorchEnv | undefined;

  /**
   * Starts the server; resolves to undefined when ready, else to the reason it is unavailable. `env` adds variables
   * to the child's environment (e.g. `OMP_WAIT_POLICY`).
   */
  async start(threads = 2, env: Record<string, string> = {}): Promise<string | undefined> {
    const script = torchScript();
    if (!existsSync(script)) return `${script} not found`;
    const py = torchPython();
    if (!existsSync(py)) return `${py} not found`;
    const child = spawn(py, [script, 'serve', '--threads', String(threads)], { env: { ...childEnv(), ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    const err: string[] = [];
    child.stderr!.on('data', (d: Buffer) => err.push(d.toString('utf8')));
    child.stdout!.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    const done = (): void => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w(undefined);
    };
    child.on('close', done);
    child.on('error', done);
    const first = await this.next();
    if (first === undefined) return `bench_torch.py serve exited: ${err.join('').trim().split('\n').pop() ?? 'no output'}`;
    try {
      const j = JSON.parse(first) as TorchEnv & { ready?: boolean; error?: string };
      if (j.error || !j.ready) return j.error ?? 'bench_torch.py serve did not start';
      this.env = { torch: j.torch, threads: j.threads, coretype: j.coretype };
    } catch {
      return `bench_torch.py serve: unexpected output ${first.slice(0, 80)}`;
    }
    return undefined;
  }

  private next(): Promise<string | undefined> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Times `ops`; resolves to the results or to the reason there are none. */
  async ops(ops: TorchOp[], opts: { rounds: number; minMs: number }): Promise<TorchOpResult[] | string> {
    if (!this.child || this.closed) return 'torch server not running';
    this.child.stdin!.write(JSON.stringify({ rounds: opts.rounds, min_ms: opts.minMs, ops }) + '\n');
    const line = await this.next();
    if (line === undefined) return 'torch server exited';
    const j = JSON.parse(line) as { results?: TorchOpResult[]; error?: string };
    return j.results ?? j.error ?? 'no results';
  }

  /**
   * Times a whole model (tools/bench_torch.py builds it once and caches it with its input; `warmup` runs only on the
   * first request for it); resolves to per-iteration milliseconds or to the reason there are none.
   */
  async model(req: TorchModelRequest): Promise<TorchServedModel | string> {
    if (!this.child || this.closed) return 'torch server not running';
    this.child.stdin!.write(JSON.stringify({ model: req }) + '\n');
    const line = await this.next();
    if (line === undefined) return 'torch server exited';
    const j = JSON.parse(line) as TorchServedModel & { error?: string };
    return j.error ?? j;
  }

  /** Ends the process (closing its stdin). */
  async close(): Promise<void> {
    if (!this.child || this.closed) return;
    const c = this.child;
    await new Promise<void>((resolve) => {
      c.once('close', () => resolve());
      c.stdin!.end();
    });
  }
}

/** A whole-model request to {@link TorchServer.model}. */
export interface TorchModelRequest {
  /** tools/bench_torch.py model name (vit_small16, vit_small8, resnet50, vgg16_bn_loc, mobilenet_v2, …). */
  name: string;
  size: number;
  batch: number;
  iters: number;
  warmup?: number;
  /** ResNet output stride (32 default). */
  stride?: number;
}

/** Reply of {@link TorchServer.model}. */
export interface TorchServedModel {
  model: string;
  batch: number;
  size: number;
  /** Milliseconds per iteration (per batch). */
  ms: number[];
  ms_median: number;
  output_shape: number[];
}

/** Whole-model timing reply (tools/bench_torch.py `model`). */
export interface TorchModelResult {
  model: string;
  batch: number;
  size: number;
  images_per_s: number;
  ms_per_batch: number;
  ms_median: number;
  output_shape: number[];
}

/** Times a whole model in torch (phase 2 compares our backbones with it). */
export async function torchModel(
  name: string, opts: { batch?: number; size?: number; threads?: number; iters?: number; warmup?: number; stride?: number } = {},
): Promise<TorchReply<TorchModelResult>> {
  const args = ['model', name];
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) args.push(`--${k}`, String(v));
  return runTorch<TorchModelResult>(args);
}
