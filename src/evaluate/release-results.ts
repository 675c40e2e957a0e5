/**
 * The authors' release's result files, key for key: `resultval.json` / `resulttest.json` as validation.py's
 * `localization()` returns them (`MaxBoxAccV2`, `IOU30`, `IOU50`, `IOU70`, `Top-1`, `Top-5`, `BestThreshold`) and as
 * `segmentation()` returns them (`PxAP`, `p-IOU`), written the way Python's `json.dump(…, indent=2)` writes floats.
 *
 * Semantics (validation.py): accuracies are (hits / seen)·100 with the largest contour's raw cv2 box; `MaxBoxAccV2` is
 * the max over τ of (IOU70 + IOU50 + IOU30)/3 (one shared τ); `IOU30/50/70` are each their own max over τ — on a
 * split read at one τ (test after val) that is the value at that τ; `Top-1`/`Top-5` their own max over τ, 0 without a
 * classifier; `BestThreshold` the τ of `MaxBoxAccV2` (on test: val's τ, the only one tried).
 */
import type { BoxMetrics } from './box-metrics.js';
import type { MaskMetrics } from './mask-metrics.js';

/** validation.py `localization()`'s result, in its key order. Percentages; BestThreshold in (0, 1). */
export interface ReleaseBoxResult {
  MaxBoxAccV2: number;
  IOU30: number;
  IOU50: number;
  IOU70: number;
  'Top-1': number;
  'Top-5': number;
  BestThreshold: number;
}

/** validation.py `segmentation()`'s result. Percentages. */
export interface ReleaseMaskResult {
  PxAP: number;
  'p-IOU': number;
}

/** The release's keys of box metrics (δ must include 30, 50 and 70). */
export function releaseBoxResult(b: BoxMetrics): ReleaseBoxResult {
  const iou = (d: string): number => {
    const v = b.release.IoU[d];
    if (v === undefined) throw new Error(`release results need IoU δ=${d} (evaluated: ${b.iouThresholds.join(', ')})`);
    return v;
  };
  return {
    MaxBoxAccV2: b.MaxBoxAccV2_release,
    IOU30: iou('30'),
    IOU50: iou('50'),
    IOU70: iou('70'),
    'Top-1': b.release.top1Loc ?? 0,
    'Top-5': b.release.top5Loc ?? 0,
    BestThreshold: b.bestThreshold,
  };
}

/** The release's keys of mask metrics. */
export function releaseMaskResult(m: MaskMetrics): ReleaseMaskResult {
  return { PxAP: m.PxAP, 'p-IOU': m.PIoU };
}

/** A number as Python's `repr(float)` writes it (shortest round-trip digits; `1e-05`, `100.0`, `NaN`). */
export function pythonFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const [mant, expS] = v.toExponential().split('e') as [string, string];
  const e = Number(expS);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let body: string;
  if (e >= -4 && e < 16) {
    if (e >= 0) {
      const int = digits.slice(0, e + 1).padEnd(e + 1, '0');
      const frac = digits.slice(e + 1);
      body = `${int}.${frac || '0'}`;
    } else body = `0.${'0'.repeat(-e - 1)}${digits}`;
  } else {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    body = `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return (neg ? '-' : '') + body;
}

/** `json.dump(obj, f, indent=2)` of a flat object of numbers (no trailing newline, as Python writes it). */
export function pythonJsonDump(obj: Readonly<Record<string, number>>): string {
  const lines = Object.entries(obj).map(([k, v]) => `  ${JSON.stringify(k)}: ${pythonFloat(v)}`);
  return `{\n${lines.join(',\n')}\n}`;
}
