/**
 * PASCAL-VOC-style XML annotations (Stanford Dogs `Annotation/<breed>/<id>`, ImageNet bbox XML), parsed with
 * fast-xml-parser. Documents are untrusted: entities are not expanded (processEntities: false), attributes ignored,
 * nothing is evaluated.
 */
import { XMLParser } from 'fast-xml-parser';
import { UsageError } from '../util/errors.js';
import type { CornerBox } from '../util/box.js';
import { readTextBoundedAsync } from '../util/safe-read.js';

/** One annotated object. */
export interface VocObject {
  name: string;
  /** [xmin, ymin, xmax, ymax] as written. */
  box: CornerBox;
}

/** A parsed annotation file. */
export interface VocAnnotation {
  filename?: string;
  size?: { width: number; height: number };
  objects: VocObject[];
}

const parser = new XMLParser({
  ignoreAttributes: true,
  processEntities: false,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => name === 'object',
});

function numberAt(v: unknown, where: string, what: string): number {
  const n = Number(typeof v === 'string' ? v : NaN);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${where}: <${what}> is ${v === undefined ? 'missing' : `"${String(v)}"`}, not a number`);
  return n;
}

/** Parses VOC XML text. @throws UsageError naming `where` on malformed XML or a bad box. */
export function parseVocXml(text: string, where: string): VocAnnotation {
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text, true) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`${where}: malformed XML: ${(e as Error).message}`);
  }
  const ann = doc.annotation as Record<string, unknown> | undefined;
  if (!ann || typeof ann !== 'object') throw new UsageError(`${where}: no <annotation> element`);
  const out: VocAnnotation = { objects: [] };
  if (typeof ann.filename === 'string') out.filename = ann.filename;
  const size = ann.size as Record<string, unknown> | undefined;
  if (size && typeof size === 'object') out.size = { width: numberAt(size.width, where, 'size/width'), height: numberAt(size.height, where, 'size/height') };
  for (const o of (ann.object as Record<string, unknown>[] | undefined) ?? []) {
    const b = o.bndbox as Record<string, unknown> | undefined;
    if (!b || typeof b !== 'object') throw new UsageError(`${where}: <object> without <bndbox>`);
    out.objects.push({
      name: typeof o.name === 'string' ? o.name : '',
      box: [numberAt(b.xmin, where, 'xmin'), numberAt(b.ymin, where, 'ymin'), numberAt(b.xmax, where, 'xmax'), numberAt(b.ymax, where, 'ymax')],
    });
  }
  return out;
}

/** Reads and parses a VOC XML file. */
export async function readVocXml(file: string): Promise<VocAnnotation> {
  const text = await readTextBoundedAsync(file, 'textBytes', 'annotation');
  return parseVocXml(text, file);
}
