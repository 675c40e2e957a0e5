/**
 * Progress reporting. Library code calls a {@link ProgressCallback}; only the CLI renders it (bar with rate and ETA on
 * a TTY, JSON lines or nothing otherwise).
 */

/** One progress event. */
export interface ProgressEvent {
  /** Short stage name, e.g. `fit`, `localize`, `download`. */
  stage: string;
  /** Units done so far (≥ 0). */
  done: number;
  /** Total units when known. */
  total?: number;
  /** Unit name, e.g. `img`, `B` (bytes). */
  unit?: string;
  /** Optional free text (current file, etc.). */
  detail?: string;
}

/** Receives progress events; must be cheap and must not throw. */
export type ProgressCallback = (e: ProgressEvent) => void;
