/**
 * Benchmark suites for `uol bench`. Each area contributes a suite (one file in src/bench/, listed in bench/index.ts);
 * results carry their own reference timings (e.g. PyTorch on the same inputs, in the same run) so ratios are honest.
 */
import type { ProgressCallback } from '../util/progress.js';

/** One measured quantity. */
export interface BenchResult {
  /** Suite name. */
  suite: string;
  /** Case name, e.g. `vit_small16@224`. */
  case: string;
  /** Metric name, e.g. `images/s`, `ms/map`. */
  metric: string;
  /** Our value. */
  value: number;
  /** Reference value (same metric, same inputs, timed in the same run), when there is one. */
  reference?: { name: string; value: number };
  /** value/reference (or reference/value for lower-is-better metrics): >1 means we are faster. */
  speedup?: number;
  /** Extra numbers (per-stage breakdown, RSS, tensors alive, …). */
  details?: Record<string, number | string>;
  /** Extra Markdown shown after the results table (a per-stage table, a memory curve, …). */
  markdown?: string;
  /** Files the suite wrote into {@link BenchOptions.outDir} (relative paths). */
  files?: string[];
}

/** Options passed to every suite. */
export interface BenchOptions {
  /** Quick mode: fewer repetitions (for CI smoke runs). */
  quick: boolean;
  /** Case-name filter (substring), when given. */
  filter?: string;
  /** Skip external references (PyTorch). */
  noReference: boolean;
  /** Directory for extra result files (curves, CSV); suites write nothing there when it is undefined. */
  outDir?: string;
  onProgress?: ProgressCallback;
}

/** A named benchmark suite. */
export interface BenchSuite {
  name: string;
  description: string;
  run(opts: BenchOptions): Promise<BenchResult[]>;
}
