/**
 * EXIF orientation in JPEG files: find the Orientation tag (0x0112) of IFD0 in the APP1 "Exif" segment.
 *
 * PIL's `Image.open(...).convert('RGB')` ignores EXIF orientation (pixels stay as stored, and dataset boxes and sizes are
 * given in that frame), but jimp rotates on read. To keep jimp's output in the stored frame we hand it a copy of the
 * bytes whose Orientation value is 1. Hand-written (a few dozen lines of TIFF-header walking) because we need the
 * byte offset of the tag, which EXIF libraries do not expose.
 */

/** Where the Orientation value lives in a JPEG buffer, and its value (1–8). */
export interface ExifOrientation {
  value: number;
  /** Byte offset of the 16-bit value. */
  offset: number;
  littleEndian: boolean;
}

/** Finds the EXIF Orientation of a JPEG buffer; undefined when absent or not a JPEG. Never throws. */
export function findJpegOrientation(buf: Uint8Array): ExifOrientation | undefined {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return undefined;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 2;
  while (p + 4 <= buf.length) {
    if (buf[p] !== 0xff) return undefined;
    const marker = buf[p + 1]!;
    if (marker === 0xff) {
      p++;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // start of scan / end: no more headers
    const len = dv.getUint16(p + 2);
    if (len < 2) return undefined;
    const seg = p + 4;
    if (marker === 0xe1 && seg + 14 <= buf.length && buf[seg] === 0x45 && buf[seg + 1] === 0x78 && buf[seg + 2] === 0x69 && buf[seg + 3] === 0x66 && buf[seg + 4] === 0 && buf[seg + 5] === 0) {
      const tiff = seg + 6;
      const end = Math.min(p + 2 + len, buf.length);
      const le = buf[tiff] === 0x49 && buf[tiff + 1] === 0x49;
      const be = buf[tiff] === 0x4d && buf[tiff + 1] === 0x4d;
      if (!le && !be) return undefined;
      const ifd = tiff + dv.getUint32(tiff + 4, le);
      if (ifd + 2 > end) return undefined;
      const n = dv.getUint16(ifd, le);
      for (let i = 0; i < n; i++) {
        const e = ifd + 2 + i * 12;
        if (e + 12 > end) return undefined;
        if (dv.getUint16(e, le) === 0x0112 && dv.getUint16(e + 2, le) === 3) {
          return { value: dv.getUint16(e + 8, le), offset: e + 8, littleEndian: le };
        }
      }
      return undefined;
    }
    p += 2 + len;
  }
  return undefined;
}

/** A copy of `buf` whose EXIF Orientation is 1 (or `buf` itself when it has none or it is already 1). */
export function withoutOrientation(buf: Uint8Array): Uint8Array {
  const o = findJpegOrientation(buf);
  if (!o || o.value === 1) return buf;
  const copy = new Uint8Array(buf);
  new DataView(copy.buffer).setUint16(o.offset, 1, o.littleEndian);
  return copy;
}
