// The permuted-weights control: the same network with each weight tensor's values shuffled (seeded).
import { lcg32 } from '../../src/util/random.js';

/** Deterministic in-place shuffle of each tensor's elements in a tfjs weight buffer. */
export function permuteWeights(buf: ArrayBuffer, specs: { shape: number[]; dtype: string; quantization?: { dtype: string } }[]): ArrayBuffer {
  const data = new Uint8Array(buf.slice(0));
  // The sequence the control's margins in the acceptance specs were measured with (see lcg32).
  const rnd = lcg32(12345);
  let off = 0;
  for (const w of specs) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const size = w.quantization ? (w.quantization.dtype === 'uint8' ? 1 : 2) : 4;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      for (let b = 0; b < size; b++) {
        const t = data[off + i * size + b]!;
        data[off + i * size + b] = data[off + j * size + b]!;
        data[off + j * size + b] = t;
      }
    }
    off += n * size;
  }
  return data.buffer;
}

