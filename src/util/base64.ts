/**
 * Base64 of byte arrays without Node's `Buffer` (platform-neutral: the predictor format is read and written in the
 * browser too). Built on `btoa`/`atob`, which Node ≥ 16 and every browser provide; the few lines here exist because
 * no dependency is worth adding for them and `Buffer` is not available outside Node.
 */

/** Characters per `String.fromCharCode` call (well under engines' argument-count limits). */
const CHUNK = 0x8000;

/** Standard base64 (with padding) of `bytes`. */
export function bytesToBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += CHUNK) s += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(s);
}

/** Bytes of a float array's storage (a view, no copy). */
export function floatBytes(a: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Decodes standard base64 (padding optional). Returns undefined when `b64` is not base64 (characters outside the
 * alphabet, or a length no encoder produces), so callers can name the file and key in their own error.
 */
export function base64ToBytes(b64: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
