/** The predictor file on disk (Node only); the format itself is platform-neutral (`../predictor.ts`). */
import { readTextBounded } from '../../util/safe-read.js';
import { writeFileAtomicSync } from '../../util/fs.js';
import { decodePredictor, encodePredictor, type Predictor } from '../predictor.js';

/** Writes a predictor atomically (no partial file is ever left at `file`). */
export function savePredictor(p: Predictor, file: string): void {
  writeFileAtomicSync(file, encodePredictor(p));
}

/** Reads a predictor. @throws UsageError naming the file. */
export function loadPredictor(file: string): Predictor {
  return decodePredictor(readTextBounded(file, 'jsonBytes', 'predictor'), file);
}
