/**
 * Optional per-stage timing hooks for pipelines (used by `uol bench` for per-stage breakdowns). Library code calls a
 * {@link TimingCallback} only when one is given, so timing costs nothing when off.
 */

/** Pipeline stages that report timings. */
export type PipelineStage =
  /** Decode + resize + crop of one image (in a decode worker: overlaps the main thread's compute). */
  | 'decode'
  /** Main thread blocked waiting for decoded images (the part of decoding not hidden behind compute). */
  | 'wait'
  /** 8-bit images → normalised input tensor. */
  | 'preprocess'
  /** Backbone forward pass. */
  | 'backbone'
  /** Activation maps (score, clamp, min-max, upsample) and their download from the engine. */
  | 'map'
  /** Boxes from the maps. */
  | 'boxes'
  /** Map/overlay files and per-image callbacks. */
  | 'write';

/** One timing: `ms` milliseconds spent on `stage` for `images` images. */
export interface StageTiming {
  stage: PipelineStage;
  ms: number;
  images: number;
}

/** Receives timings; must be cheap and must not throw. */
export type TimingCallback = (t: StageTiming) => void;

/** Sums timings per stage: `{stage: {ms, images}}`. */
export class StageTotals {
  readonly totals = new Map<PipelineStage, { ms: number; images: number }>();

  /** The callback to pass to a pipeline. */
  readonly callback: TimingCallback = (t) => {
    const e = this.totals.get(t.stage) ?? { ms: 0, images: 0 };
    e.ms += t.ms;
    e.images += t.images;
    this.totals.set(t.stage, e);
  };

  /** Milliseconds per image of `stage` (0 when it never reported). */
  perImage(stage: PipelineStage): number {
    const e = this.totals.get(stage);
    return e && e.images > 0 ? e.ms / e.images : 0;
  }
}
