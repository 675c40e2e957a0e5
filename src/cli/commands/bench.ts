/**
 * `uol bench [--suite NAME] [--filter STR] [--quick] [--no-reference] [--out DIR]`: run benchmark suites and write
 * results as JSON + Markdown.
 */
import type { Argv, CommandModule } from 'yargs';
import * as path from 'node:path';
import * as os from 'node:os';
import { UsageError } from '../../util/errors.js';
import { writeFileAtomicSync } from '../../util/fs.js';
import { TOOL } from '../../version.js';
import { SUITE_NAMES } from '../../bench/suite-names.js';
import type { BenchResult } from '../../bench/types.js';
import { emit, progressFor, startEngine, type GlobalArgs } from '../context.js';
import { sharedDecls } from './shared-options.js';

interface BenchArgs extends GlobalArgs {
  suite?: string[];
  filter?: string;
  quick: boolean;
  reference: boolean;
  out: string;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3);
}

/** Markdown table of results. */
export function benchMarkdown(results: BenchResult[], header: string): string {
  const lines = [header, '', '| suite | case | metric | value | reference | ratio | details |', '|---|---|---|---:|---|---:|---|'];
  for (const r of results) {
    const ref = r.reference ? `${r.reference.name}: ${fmt(r.reference.value)}` : '';
    const det = r.details ? Object.entries(r.details).map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : v}`).join(', ') : '';
    lines.push(`| ${r.suite} | ${r.case} | ${r.metric} | ${fmt(r.value)} | ${ref} | ${r.speedup !== undefined ? r.speedup.toFixed(2) + '×' : ''} | ${det} |`);
  }
  for (const r of results) if (r.markdown) lines.push('', `## ${r.suite}: ${r.case}`, '', r.markdown.trimEnd());
  return lines.join('\n') + '\n';
}

export const benchCommand: CommandModule<GlobalArgs, BenchArgs> = {
  command: 'bench',
  describe: 'measure throughput per stage and per backbone (with references timed in the same run)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('suite', { type: 'string', array: true, describe: `suites to run (default all): ${SUITE_NAMES.join(', ')}` })
      .options(sharedDecls({ filter: 'only cases whose name contains this' }))
      .option('quick', { type: 'boolean', default: false, describe: 'fewer repetitions' })
      .option('reference', { type: 'boolean', default: true, describe: 'time external references (PyTorch); --no-reference skips' })
      .option('out', { type: 'string', default: 'bench-results', describe: 'directory for bench.json and bench.md' }) as Argv<BenchArgs>,
  handler: async (a) => {
    const { suites } = await import('../../bench/index.js');
    const chosen = a.suite?.length ? a.suite.map((n) => suites.find((s) => s.name === n) ?? n) : suites;
    const unknown = chosen.filter((s): s is string => typeof s === 'string');
    if (unknown.length) throw new UsageError(`unknown bench suite "${unknown[0]}"; known: ${suites.map((s) => s.name).join(', ')}`);
    const engine = await startEngine(a);
    const prog = progressFor(a);
    const results: BenchResult[] = [];
    try {
      for (const s of chosen as typeof suites) {
        const opts: Parameters<typeof s.run>[0] = { quick: a.quick, noReference: !a.reference, onProgress: prog.callback, outDir: a.out };
        if (a.filter) opts.filter = a.filter;
        results.push(...(await s.run(opts)));
      }
    } finally {
      prog.stop();
    }
    const env = { tool: TOOL, date: new Date().toISOString(), backend: engine.backend, native: engine.native.enabled, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '' };
    writeFileAtomicSync(path.join(a.out, 'bench.json'), JSON.stringify({ env, results }, null, 2) + '\n');
    const md = benchMarkdown(results, `# uol bench — ${env.date}\n\n${env.tool}, backend ${env.backend}${env.native ? ' + native BLAS' : ''}, ${env.cpus} × ${env.cpu}`);
    writeFileAtomicSync(path.join(a.out, 'bench.md'), md);
    emit(a, { env, results }, md);
  },
};
