// Library errors name options, the CLI names flags (issue 16): a UsageError lists the options its message quotes
// (`batchSize`), `withFlags` (src/cli/main.ts) turns each into its flag when the CLI prints it, and no library error
// message under src/ (outside src/cli/) spells a flag of uol's CLI.
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { failureReport, flagOf, withFlags } from '../src/cli/main.js';
import { UsageError } from '../src/util/errors.js';
import { loadBatches } from '../src/data/loader.js';
import { wholeProtocol } from '../src/data/transforms.js';
import { runCli } from './helpers/cli.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('library errors name options; the CLI maps them to flags', () => {
  it('flagOf: kebab-case of the option; flags and phrases unchanged', () => {
    expect(flagOf('batchSize')).to.equal('--batch-size');
    expect(flagOf('dataDir')).to.equal('--data-dir');
    expect(flagOf('topK')).to.equal('--top-k');
    expect(flagOf('threshold')).to.equal('--threshold');
    expect(flagOf('--whole-size')).to.equal('--whole-size');
    expect(flagOf('stored threshold')).to.equal('stored threshold');
  });

  it('withFlags rewrites only the quoted option names; failureReport uses it (flag of the JSON error too)', () => {
    expect(withFlags('give `dataset` D `dataDir` DIR (dataset folder)', ['dataset', 'dataDir'])).to.equal('give --dataset D --data-dir DIR (dataset folder)');
    const e = new UsageError('`batchSize` 0: must be a positive integer', { options: ['batchSize'] });
    expect(failureReport(e)).to.deep.include({ code: 'usage', exitCode: 2, message: '--batch-size 0: must be a positive integer', flag: '--batch-size' });
  });

  it('a library caller reads the option name', () => {
    let err: unknown;
    try {
      loadBatches({ records: [], protocol: wholeProtocol(224), contract: { mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', defaultSize: 224, minSize: 32, sizeMultiple: 1 } as never, batchSize: 0 });
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.equal('`batchSize` 0: must be a positive integer');
    expect((err as UsageError).options).to.deep.equal(['batchSize']);
  });

  it('the CLI prints the flag (end to end)', async () => {
    const r = await runCli(['localize', path.resolve('data/darknet_eagle.jpg'), '--caam', '--batch-size', '0', '--out', path.join('/tmp', `uol-flags-${process.pid}`)]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('--batch-size 0: must be a positive integer');
  });

  it('no library error message under src/ (outside src/cli/) spells a flag', () => {
    const offenders: string[] = [];
    for (const f of sources('src').filter((p) => !p.startsWith(path.join('src', 'cli')))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/new UsageError\(\s*(`(?:[^`\\]|\\.)*`|'(?:[^'\\]|\\.)*')/gs)) {
        // main.py's own flags (--loc_network, …) and `uol reproduce --list` name another program's or a command's flags.
        const flags = [...m[1]!.matchAll(/(?<![\w-])--([a-z][a-z-]*)(?![\w_])/g)].map((x) => x[1]).filter((x) => x !== 'list');
        if (flags.length) offenders.push(`${f}: ${flags.join(', ')}`);
      }
    }
    expect(offenders).to.deep.equal([]);
  });
});
