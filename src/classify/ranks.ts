/**
 * The class rank behind Top-1 / Top-5 Loc, and the `--predictions` CSV that supplies it without a classifier.
 *
 * The authors' release (`validation.py`, `localization`) ranks the true class by counting the classes whose logit is
 * at least the true class's: `topk = (logit >= logit[target]).sum()` — the true class counts itself, so rank 1 is a
 * strict winner and every class tied with the true class pushes it down (a tie is never resolved in its favour).
 * A Top-1 hit at τ needs IoU ≥ 0.5 and rank ≤ 1, a Top-5 hit rank ≤ 5 (src/evaluate/box-metrics.ts counts them).
 */
import { readTextBounded } from '../util/safe-read.js';
import { UsageError } from '../util/errors.js';

/**
 * The release's rank of class `truth`: the number of classes k with `scores[k] >= scores[truth]` (1-based, ≥ 1).
 * @param scores one image's class scores (logits or probabilities; any monotone transform gives the same rank), length K.
 * @param truth 0-based true class, in [0, K).
 * @throws UsageError for a class outside [0, K) or a non-finite score.
 */
export function classRank(scores: ArrayLike<number>, truth: number, where = 'class scores'): number {
  const K = scores.length;
  if (!Number.isInteger(truth) || truth < 0 || truth >= K) throw new UsageError(`${where}: true class ${truth} is outside the ${K} scored classes 0…${K - 1}`);
  const t = scores[truth]!;
  let r = 0;
  for (let k = 0; k < K; k++) {
    const v = scores[k]!;
    if (!Number.isFinite(v)) throw new UsageError(`${where}: score of class ${k} is ${v} (must be finite)`);
    if (v >= t) r++;
  }
  return r;
}

/**
 * Ranks of every row of a `[B, K]` score matrix (row-major) against `labels` (length B), by {@link classRank}.
 * @returns Int32Array of B ranks, each in 1…K.
 */
export function classRanks(scores: ArrayLike<number>, K: number, labels: readonly number[]): Int32Array {
  const B = labels.length;
  if (scores.length !== B * K) throw new UsageError(`class scores: ${scores.length} values for ${B} images × ${K} classes`);
  const out = new Int32Array(B);
  const row = new Float64Array(K);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) row[k] = scores[b * K + k]!;
    out[b] = classRank(row, labels[b]!, `image ${b}`);
  }
  return out;
}

/** Index of the largest score (the first one on ties, as torch's argmax on CPU and numpy's). */
export function argmaxClass(scores: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < scores.length; k++) if (scores[k]! > scores[best]!) best = k;
  return best;
}

/** One image's prediction as read from a CSV. */
export type ImagePrediction =
  /** All K class scores (`image_id,score_0,…,score_{K-1}`): ranked by the release's tie rule. */
  | { kind: 'scores'; scores: Float64Array; line: number }
  /** The classifier's top-k classes, best first (`image_id,top1,…,topk`, k ≥ 5). */
  | { kind: 'topk'; classes: number[]; line: number };

/** A parsed `--predictions` file. */
export interface Predictions {
  file: string;
  kind: 'scores' | 'topk';
  /** K for `scores`, k for `topk`. */
  columns: number;
  byId: Map<string, ImagePrediction>;
}

/** Minimum list length of a top-k file: Top-5 Loc needs to know whether the true class is among the first five. */
export const MIN_TOPK = 5;

const INT = /^\d+$/;
// A decimal or exponent float as Python's float() and numpy's loadtxt write them (inf/nan refused below).
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses a predictions CSV. Two layouts, told apart by the header line:
 *
 * - `image_id,score_0,score_1,…,score_{K-1}` then one row per image: the id and K finite numbers (logits, or any
 *   monotone transform of them). The rank is the release's: the number of classes scoring ≥ the true class.
 * - `image_id,top1,top2,…,topk` (k ≥ 5) then one row per image: the id and k distinct 0-based class indices, best first.
 *   The rank is the true class's position in the list, k + 1 when absent.
 * - Without a header (the earlier format): rows `image_id,c1,…,ck` (k ≥ 5), read as top-k lists.
 *
 * Every row must have the header's column count; ids must be unique; blank lines are ignored; `\r\n` is accepted.
 * @throws UsageError naming `file:line` for any malformed line.
 */
export function parsePredictions(text: string, file: string): Predictions {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  let i = 0;
  while (i < lines.length && !lines[i]!.trim()) i++;
  if (i >= lines.length) throw new UsageError(`${file}: empty predictions file (expected "image_id,score_0,…" or "image_id,top1,…,top5" rows)`);
  const first = lines[i]!.split(',').map((c) => c.trim());
  let kind: 'scores' | 'topk' = 'topk';
  let columns = -1;
  let start = i;
  if (first[0] === 'image_id') {
    const rest = first.slice(1);
    if (rest.length && rest.every((c, k) => c === `score_${k}`)) kind = 'scores';
    else if (rest.length && rest.every((c, k) => c === `top${k + 1}`)) kind = 'topk';
    else throw new UsageError(`${file}:${i + 1}: header must be "image_id,score_0,…,score_{K-1}" or "image_id,top1,…,topk", got ${JSON.stringify(lines[i])}`);
    columns = rest.length;
    start = i + 1;
    if (kind === 'topk' && columns < MIN_TOPK) throw new UsageError(`${file}:${i + 1}: a top-k header needs k ≥ ${MIN_TOPK} columns (top1…top5) for Top-5 Loc, got k = ${columns}`);
  }
  const byId = new Map<string, ImagePrediction>();
  const usage = kind === 'scores' ? '"<image_id>,<score_0>,…,<score_{K-1}>"' : '"<image_id>,<class>,…" (top-k predicted classes, best first, k ≥ 5)';
  for (let n = start; n < lines.length; n++) {
    const raw = lines[n]!;
    if (!raw.trim()) continue;
    const where = `${file}:${n + 1}`;
    const cells = raw.split(',').map((c) => c.trim());
    const id = cells[0]!;
    const vals = cells.slice(1);
    if (!id || vals.length === 0) throw new UsageError(`${where}: expected ${usage}, got ${JSON.stringify(raw)}`);
    if (columns < 0) {
      columns = vals.length;
      if (columns < MIN_TOPK) throw new UsageError(`${where}: expected ${usage}: a top-k row needs at least ${MIN_TOPK} classes for Top-5 Loc, got ${columns} in ${JSON.stringify(raw)}`);
    }
    if (vals.length !== columns) throw new UsageError(`${where}: ${vals.length} values after the image id, expected ${columns} (as ${start > i ? 'the header' : 'the first row'}) in ${JSON.stringify(raw)}`);
    if (byId.has(id)) throw new UsageError(`${where}: image id "${id}" repeated (first on line ${byId.get(id)!.line})`);
    if (kind === 'scores') {
      const scores = new Float64Array(columns);
      vals.forEach((v, k) => {
        if (!FLOAT.test(v)) throw new UsageError(`${where}: score_${k} ${JSON.stringify(v)} is not a finite number`);
        scores[k] = Number(v);
        if (!Number.isFinite(scores[k])) throw new UsageError(`${where}: score_${k} ${JSON.stringify(v)} is not a finite number`);
      });
      byId.set(id, { kind, scores, line: n + 1 });
    } else {
      const classes = vals.map((v, k) => {
        if (!INT.test(v)) throw new UsageError(`${where}: class ${JSON.stringify(v)} (column ${k + 2}) is not a non-negative integer; expected ${usage}`);
        return Number(v);
      });
      const seen = new Set<number>();
      for (const c of classes) {
        if (seen.has(c)) throw new UsageError(`${where}: class ${c} listed twice`);
        seen.add(c);
      }
      byId.set(id, { kind, classes, line: n + 1 });
    }
  }
  if (!byId.size) throw new UsageError(`${file}: no prediction rows`);
  return { file, kind, columns, byId };
}

/** Reads and parses a predictions CSV ({@link parsePredictions}). @throws UsageError naming the file (and line). */
export function readPredictions(file: string): Predictions {
  // Bounded like every reader (docs/security.md): a regular file under the JSON cap (256 MiB by default; a class-score
  // CSV of 50,000 ImageNet images is about that size, top-k CSVs far less).
  return parsePredictions(readTextBounded(file, 'jsonBytes', 'predictions CSV'), file);
}

/**
 * The rank of `truth` for image `id` from parsed predictions.
 * @throws UsageError when the image has no row, or its true class is outside the scored classes.
 */
export function predictedRank(p: Predictions, id: string, truth: number): number {
  const e = p.byId.get(id);
  if (!e) throw new UsageError(`${p.file}: no prediction for image "${id}"`);
  if (e.kind === 'scores') return classRank(e.scores, truth, `${p.file}:${e.line}`);
  const k = e.classes.indexOf(truth);
  return k < 0 ? e.classes.length + 1 : k + 1;
}

/** The predicted class (argmax / top-1) of image `id`, or undefined when it has no row. */
export function predictedClass(p: Predictions, id: string): number | undefined {
  const e = p.byId.get(id);
  if (!e) return undefined;
  return e.kind === 'scores' ? argmaxClass(e.scores) : e.classes[0];
}
