/**
 * `uol demo [--out DIR]`: the README's first command. Offline, with the embedded backbone and the sample photos in
 * data/: fit w* on every photo (no labels), choose τ on the annotated photos of data/tiny-cub (train split) and check it
 * on their test split, localize every photo, explain one photo's foreground by its representer points, and write an
 * index page linking the reports. It runs the real commands
 * (printed as it goes), so what it shows is what a user gets.
 */
import type { Argv, CommandModule } from 'yargs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import { writeFileAtomicSync } from '../../util/fs.js';
import { TOOL } from '../../version.js';
import { esc, gallery, htmlPage, htmlTable } from '../../report/html.js';
import { withShared, type SharedArgs } from './shared-options.js';
import type { GlobalArgs } from '../context.js';

interface DemoArgs extends GlobalArgs, SharedArgs<'backbone'> {
  out: string;
}

/** The package's bundled data directory. */
export function dataDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'data');
}

export const demoCommand: CommandModule<GlobalArgs, DemoArgs> = {
  command: 'demo',
  describe: 'offline demo on the bundled photos: fit, evaluate (choose τ), localize, explain, report',
  builder: (y: Argv<GlobalArgs>) =>
    withShared(y, { backbone: 'backbone (default: the embedded one)' })
      .option('out', { type: 'string', default: 'uol-demo', describe: 'output directory' }) as Argv<DemoArgs>,
  handler: async (a) => {
    const { main } = await import('../main.js');
    const data = dataDir();
    const out = path.resolve(a.out);
    const pred = path.join(out, 'predictor.json');
    const common = ['--backend', a.backend, '--native', a.native, '--progress', a.progress];
    const bb = a.backbone ? ['--backbone', a.backbone] : [];
    const steps: [string, string[]][] = [
      ['fit w* on every bundled photo (no labels)', ['fit', '--images', path.join(data, '*.jpg'), ...bb, '--out', pred]],
      [
        'choose τ on the annotated photos (tiny-cub train), check on tiny-cub test; whole images at 224 as localize uses them',
        ['evaluate', '--predictor', pred, '--dataset', 'cub', '--data-dir', path.join(data, 'tiny-cub'), '--val-split', 'train', '--whole-size', '224', '--out', path.join(out, 'evaluate')],
      ],
      ['localize every photo with the stored τ', ['localize', path.join(data, '*.jpg'), '--predictor', pred, '--overlays', '--coco', '--out', path.join(out, 'localize')]],
      [
        "explain the eagle's foreground: the training patches with the largest representer values (exact: every training point)",
        ['explain', path.join(data, 'darknet_eagle.jpg'), '--predictor', pred, '--train-images', path.join(data, '*.jpg'), '--region', 'pixel', '--top', '6', '--out', path.join(out, 'explain')],
      ],
    ];
    const t0 = Date.now();
    for (const [what, args] of steps) {
      if (!a.json) process.stdout.write(`\n# ${what}\n$ uol ${args.map((s) => (/[\s*]/.test(s) ? `'${s}'` : s)).join(' ')}\n`);
      const code = await main([...args, ...common, ...(a.json ? ['--json'] : [])]);
      if (code !== 0) throw new UsageError(`demo step "uol ${args[0]}" failed with exit code ${code}`);
    }
    const ev = JSON.parse(readFileSync(path.join(out, 'evaluate', 'results.json'), 'utf8')) as { splits: Record<string, Record<string, number>>; threshold: { value: number } };
    const rows: (string | number)[][] = [['metric (%)', ...Object.keys(ev.splits)]];
    for (const k of ['MaxBoxAcc', 'MaxBoxAccV2', 'IoU30', 'IoU50', 'IoU70']) rows.push([k, ...Object.values(ev.splits).map((s) => s[k]!)]);
    const loc = JSON.parse(readFileSync(path.join(out, 'localize', 'boxes.json'), 'utf8')) as { images: { id: string; overlay?: string; box: number[] | null; score: number | null }[] };
    const tiles = loc.images
      .filter((i) => i.overlay)
      .slice(0, 10)
      .map((i) => ({ src: path.join('localize', i.overlay!), title: path.basename(i.id), lines: [i.box ? `box ${i.box.map((v) => Math.round(v)).join(', ')} · score ${(i.score ?? 0).toFixed(2)}` : 'no box'] }));
    const index = htmlPage(
      'uol-rps demo',
      `<p>Fitted on ${esc(path.join(data, '*.jpg'))} with no labels; τ = ${ev.threshold.value.toFixed(2)} chosen on tiny-cub train.</p>
<h2>Reports</h2><ul><li><a href="localize/report.html">Localization of every photo</a> (boxes.json, coco.json beside it)</li><li><a href="evaluate/report.html">Evaluation on the annotated photos</a> (metrics, τ curves, best/worst)</li><li><a href="explain/index.html">Why is the eagle foreground?</a> (the training patches whose representer values sum to its score)</li></ul>
<h2>Evaluation</h2>${htmlTable(rows)}
<h2>Some of the photos</h2><p class="meta">heatmap: the activation map; red: the predicted box</p>${gallery(tiles)}`,
      { tool: TOOL, seconds: ((Date.now() - t0) / 1000).toFixed(1) },
    );
    writeFileAtomicSync(path.join(out, 'index.html'), index);
    if (!a.json) process.stdout.write(`\nDone in ${((Date.now() - t0) / 1000).toFixed(1)} s. Open ${path.join(out, 'index.html')} (reports: ${path.join(out, 'localize', 'report.html')}, ${path.join(out, 'evaluate', 'report.html')}, ${path.join(out, 'explain', 'index.html')}).\n`);
  },
};
