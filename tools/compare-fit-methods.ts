/**
 * Closed form vs loss optimisation on the real sample photos (issue 7: "the logistic maps localise the sample photos
 * at least as well as the closed form"), written as a Markdown result.
 *
 *   node --import tsx tools/compare-fit-methods.ts [--backbone B] [--loss logistic] [--lambda 1e-3,1e-2,1e-1]
 *        [--kappa 0.5,1,2,5] [--out docs/results/fit-methods.md]
 *
 * Every fit uses all photos of data/ (21, no labels: the method is unsupervised). Maps are scored, as `uol localize
 * IMAGES` makes them (whole image resized to S×S), on two sets built from the same photos:
 * - the 13 photos with hand-drawn boxes (data/manifest.json): large, mostly centred objects;
 * - 26 composites (src/data/composites.ts): each annotated object pasted at 40 % of a 448² canvas into a corner of an
 *   unannotated photo: small, off-centre objects.
 * Scores: src/pipeline/compare-fits.ts (pointing game, MaxBoxAcc/MaxBoxAccV2/BoxAcc from src/evaluate/box-metrics.ts,
 * mean IoU at the best τ). The grid κ × λ is swept; the library default (OPTIMIZE_DEFAULTS) is always included and
 * reported in detail. Backbone: the registry's default (the embedded MobileNetV2).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initEngine } from '../src/engine/backend.js';
import { DEFAULT_BACKBONE, loadBackbone } from '../src/backbones/node/registry.js';
import { sampleComposites } from '../src/data/composites.js';
import type { DatasetRecord } from '../src/data/datasets/types.js';
import type { LossName } from '../src/rps/losses.js';
import { OPTIMIZE_DEFAULTS } from '../src/rps/optimize.js';
import { compareFits, scorePredictor, type FitScore } from '../src/pipeline/compare-fits.js';
import { writeFileAtomicSync } from '../src/util/fs.js';
import { TOOL } from '../src/version.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const list = (s: string) => s.split(',').map(Number);

const engine = await initEngine({ backend: 'wasm' });
const backboneName = arg('--backbone') ?? DEFAULT_BACKBONE;
const backbone = await loadBackbone(backboneName);
const size = backbone.identity.input.defaultSize;
const manifest = JSON.parse(readFileSync('data/manifest.json', 'utf8')) as { file: string; approx_boxes: [number, number, number, number][] }[];
const training: DatasetRecord[] = manifest.map((e) => ({ id: e.file, file: path.resolve('data', e.file) }));
const annotated = manifest.filter((e) => e.approx_boxes.length);
const photos: DatasetRecord[] = annotated.map((e) => ({ id: e.file, file: path.resolve('data', e.file), boxes: e.approx_boxes }));
const compDir = mkdtempSync(path.join(os.tmpdir(), 'uol-composites-'));
const composites = await sampleComposites('data', compDir);
const loss = (arg('--loss') ?? 'logistic') as LossName;
const D = { lambda: OPTIMIZE_DEFAULTS.lambda, kappa: OPTIMIZE_DEFAULTS.kappa };
const lambdas = [...new Set([...list(arg('--lambda') ?? '1e-3,1e-2,1e-1'), D.lambda])].sort((a, b) => a - b);
const kappas = [...new Set([...list(arg('--kappa') ?? '0.5,1,2,5'), D.kappa])].sort((a, b) => a - b);
const out = arg('--out') ?? 'docs/results/fit-methods.md';

interface Row {
  name: string;
  isDefault: boolean;
  photos: FitScore;
  composites: FitScore;
  fit: string;
}
const tau = (t: number) => t.toFixed(2);
const brief = (s: FitScore) => `${s.pointingHits}/${s.images} | ${s.maxBoxAcc.toFixed(1)} | ${s.maxBoxAccV2.toFixed(1)} | ${s.meanIoU.toFixed(3)}`;
const full = (s: FitScore) => `${s.pointingHits}/${s.images} | ${s.maxBoxAcc.toFixed(1)} (τ ${tau(s.maxBoxAccTau)}) | ${s.maxBoxAccV2.toFixed(1)} | ${s.boxAccAtFixedTau.toFixed(1)} | ${s.meanIoU.toFixed(3)} (τ ${tau(s.meanIoUTau)})`;
/** Images with IoU ≥ 0.5 at each set's MaxBoxAcc τ, pooled over both sets. */
const boxHits = (r: Pick<Row, 'photos' | 'composites'>) => Math.round((r.photos.maxBoxAcc * r.photos.images + r.composites.maxBoxAcc * r.composites.images) / 100);

let closed: Row | undefined;
const rows: Row[] = [];
let n = 0;
for (const kappa of kappas) {
  for (const lambda of lambdas) {
    process.stderr.write(`[${++n}/${kappas.length * lambdas.length}] κ=${kappa} λ=${lambda}\n`);
    const r = await compareFits(backbone, { training, test: photos, optimize: { loss, lambda, kappa, topK: 0 } });
    if (!closed) {
      closed = { name: 'closed form (release)', isDefault: false, photos: r.closedForm, composites: await scorePredictor(backbone, r.predictors.closedForm, composites, size), fit: `${training.length} images` };
    }
    rows.push({
      name: `${loss} κ=${kappa}, λ=${lambda}`,
      isDefault: kappa === D.kappa && lambda === D.lambda,
      photos: r.optimized,
      composites: await scorePredictor(backbone, r.predictors.optimized, composites, size),
      fit: `${r.fit.stop}, ${r.fit.iterations} it / ${r.fit.passes} passes, residual ${r.fit.residual.toExponential(1)}, cos to closed form ${r.fit.cosineToClosedForm.toFixed(3)}`,
    });
  }
}
backbone.dispose();
rmSync(compDir, { recursive: true, force: true });
const cf = closed!;
const def = rows.find((r) => r.isDefault)!;
const atLeast = (r: Row) =>
  r.photos.pointingHits + r.composites.pointingHits >= cf.photos.pointingHits + cf.composites.pointingHits &&
  boxHits(r) >= boxHits(cf) &&
  r.photos.maxBoxAccV2 >= cf.photos.maxBoxAccV2 - 1e-9 &&
  r.composites.maxBoxAccV2 >= cf.composites.maxBoxAccV2 - 1e-9 &&
  r.photos.meanIoU >= cf.photos.meanIoU &&
  r.composites.meanIoU >= cf.composites.meanIoU;
const sweep = [cf, ...rows].map(
  (r) =>
    `| ${r.isDefault ? `**${r.name}** (default)` : r.name} | ${brief(r.photos)} | ${brief(r.composites)} | ${r.photos.pointingHits + r.composites.pointingHits}/${r.photos.images + r.composites.images} | ${boxHits(r)}/${r.photos.images + r.composites.images} | ${r === cf ? '—' : atLeast(r) ? 'yes' : 'no'} |`,
);
const perImage = cf.photos.perImage.map((p, i) => {
  const q = def.photos.perImage[i]!;
  return `| ${p.id} | ${p.pointing ? 'yes' : 'no'}, ${p.iou.toFixed(3)} | ${q.pointing ? 'yes' : 'no'}, ${q.iou.toFixed(3)} |`;
});
const winners = rows.filter(atLeast).map((r) => r.name);

const md = `# Closed form vs ${loss} optimisation on the sample photos

Produced by \`node --import tsx tools/compare-fit-methods.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\` (${TOOL}, backend ${engine.backend}).

- Backbone: \`${backboneName}\` (${backbone.identity.arch}, feature layer ${backbone.identity.featureLayer}, C = ${backbone.identity.channels}), input ${size}×${size}.
- Fit: all ${training.length} photos of \`data/\` (no labels), every photo resized whole; each closed form / optimised pair uses
  the same streamed points (the optimisation's first pass sums the closed form's statistics).
- Scored on two sets built from the same photos, maps made as \`uol localize IMAGES\` makes them (whole image resized, map
  upsampled to the input frame, GT boxes moved there by the release's formula):
  - **photos**: the ${photos.length} photos with hand-drawn boxes (\`data/manifest.json\`, ±3 % of the object size) — large,
    mostly centred objects;
  - **composites**: ${composites.length} images, each annotated object pasted at 40 % of a 448² canvas into a corner of an
    unannotated photo (\`src/data/composites.ts\`) — small, off-centre objects.
- Pointing game: the map's peak inside a box. MaxBoxAcc / MaxBoxAccV2 / BoxAcc: \`src/evaluate/box-metrics.ts\`
  (wsolevaluation, τ ∈ 0.01…0.99, best τ per set). Mean IoU: largest-contour box vs best GT box, mean over the set, at the
  τ where it is best. Pooled: hits over both sets (MaxBoxAcc hits at each set's own best τ).

## Sweep

Per set: pointing, MaxBoxAcc %, MaxBoxAccV2 % (V2), mean IoU (mIoU). "≥ closed form" means: pooled pointing and pooled
MaxBoxAcc hits not below the closed form's, and MaxBoxAccV2 and mean IoU not below it on either set.

| fit | photos pointing | photos MaxBoxAcc | photos V2 | photos mIoU | comp. pointing | comp. MaxBoxAcc | comp. V2 | comp. mIoU | pooled pointing | pooled IoU≥0.5 | ≥ closed form |
|---|---|---|---|---|---|---|---|---|---|---|---|
${sweep.join('\n')}

Settings at least as good as the closed form on every measure above: ${winners.length ? winners.join('; ') : 'none'}.

## The default (${def.name}) in detail

| fit | set | pointing | MaxBoxAcc % | MaxBoxAccV2 % | BoxAcc % at τ 0.50 | mean IoU (best τ) |
|---|---|---|---|---|---|---|
| closed form | photos | ${full(cf.photos)} |
| ${def.name} | photos | ${full(def.photos)} |
| closed form | composites | ${full(cf.composites)} |
| ${def.name} | composites | ${full(def.composites)} |

Optimisation: ${def.fit}.

The best τ depends on the fit and on the set: for MaxBoxAcc it is ${tau(def.photos.maxBoxAccTau)} (optimised) against
${tau(cf.photos.maxBoxAccTau)} (closed form) on the photos and ${tau(def.composites.maxBoxAccTau)} against ${tau(cf.composites.maxBoxAccTau)} on the composites, so \`uol localize\`'s
default τ 0.50 suits neither everywhere: pick τ for a predictor with \`uol evaluate\` on annotated images like yours (it
stores τ in the predictor).

Per photo (IoU at each fit's best τ for mean IoU):

| image | closed form: peak in box, IoU | ${def.name}: peak in box, IoU |
|---|---|---|
${perImage.join('\n')}

## Caveats

Thirteen photos and 26 composites made from them are a small set: one photo is 7.7 points of BoxAcc on the photos and 3.8
on the composites. The default (κ, λ) was chosen on these same images (there is no held-out set here), so the
comparison shows the optimised fit *can* match the closed form, not that it generalises better. With small λ the
optimised maps are broader (better on the small composite objects, worse at τ 0.50 on the large photo objects); as λ grows
the optimum approaches the closed form (cosine → 1). \`spec/representers-compare.spec.ts\` recomputes the default's row and
checks it against the closed form.
`;
writeFileAtomicSync(out, md);
console.log(md);
