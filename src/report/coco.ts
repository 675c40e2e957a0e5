/**
 * COCO-format export of predicted boxes (pseudo-labels for training detectors): one category ("object" by default),
 * `bbox` as [x, y, width, height] in original image pixels, `score` per box.
 */
import { edgeArea, edgesToXYWH, roundCenti, type EdgeBox, type XYWHBox } from '../util/box.js';

/** One image's predictions in original pixels; boxes are [x0,y0,x1,y1] with x1,y1 exclusive edges. */
export interface CocoImagePrediction {
  fileName: string;
  width: number;
  height: number;
  boxes: { box: EdgeBox; score: number }[];
}

/** The COCO document (images, annotations, categories). */
export interface CocoDocument {
  info: { description: string; version: string; date_created: string };
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: XYWHBox; area: number; score: number; iscrowd: 0 }[];
  categories: { id: number; name: string; supercategory: string }[];
}

/** Builds a COCO document. Image and annotation ids start at 1, in input order. */
export function toCoco(preds: CocoImagePrediction[], tool: string, category = 'object'): CocoDocument {
  const doc: CocoDocument = {
    info: { description: `pseudo-labels from ${tool}`, version: '1.0', date_created: new Date().toISOString() },
    images: [],
    annotations: [],
    categories: [{ id: 1, name: category, supercategory: category }],
  };
  let ann = 0;
  preds.forEach((p, i) => {
    const id = i + 1;
    doc.images.push({ id, file_name: p.fileName, width: p.width, height: p.height });
    for (const b of p.boxes) {
      doc.annotations.push({ id: ++ann, image_id: id, category_id: 1, bbox: edgesToXYWH(b.box), area: roundCenti(edgeArea(b.box)), score: Math.round(b.score * 1e4) / 1e4, iscrowd: 0 });
    }
  });
  return doc;
}
