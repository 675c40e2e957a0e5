/**
 * The common dataset record and reader interface. One reader per on-disk format (src/data/datasets/<format>.ts), all
 * listed in the registry (index.ts).
 */
import type { RGBImage } from '../image-io.js';
import type { MaskKind } from '../transforms.js';
import type { CornerBox } from '../../util/box.js';

/** One image of a split. */
export interface DatasetRecord {
  /** Stable id, unique within the split (the format's own image id or relative path, e.g. `001.Black_footed_Albatross/X.jpg`). */
  id: string;
  /** Image file (resolved path). Absent for in-memory sources. */
  file?: string;
  /** In-memory / raw source (CIFAR): returns the RGB pixels. Used when `file` is absent. */
  pixels?: () => Promise<RGBImage>;
  /** 0-based class index. */
  label?: number;
  /** Human-readable class name. */
  className?: string;
  /**
   * GT boxes [x0, y0, x1, y1] in original pixel coordinates, exactly as the format defines them (see each reader's
   * `boxConvention`); the release feeds them to the box transform unchanged.
   */
  boxes?: CornerBox[];
  /** GT mask files (CUB segmentations, OpenImages instance masks + ignore mask). */
  mask?: { files: string[]; ignoreFile?: string; kind: MaskKind };
  /** Image size as the annotations state it (image_sizes.txt, XML <size>), when they do. */
  size?: { width: number; height: number };
}

/** An opened dataset. */
export interface Dataset {
  /** Registry name (`cub`, `wsol`, …). */
  format: string;
  /** Folder the records were read from. */
  root: string;
  /** Splits this copy has, in a natural order (train, val, test, …). */
  splits: string[];
  /** Class names by index, when the format names its classes. */
  classNames?: string[];
  /** What the box numbers mean for this format. */
  boxConvention: string;
  /** The release's evaluation protocol for this dataset: Resize((resize,resize)) → CenterCrop(crop). */
  evalProtocol: { resize: number; crop: number };
  /** Records of a split, in the format's order. @throws UsageError for an unknown split or a bad metadata file. */
  records(split: string): Promise<DatasetRecord[]>;
}

/** Where a dataset lives. */
export interface DatasetOptions {
  /** The folder holding the format's own top files (CUB: the folder with images.txt; wsol: the image root). */
  dataDir: string;
  /** wsolevaluation metadata folder (with train/, val/, test/ subfolders), for `wsol`. */
  metadata?: string;
  /** Root of OpenImages mask files (default: dataDir), for `wsol`. */
  maskRoot?: string;
}

/** A reader of one on-disk format. */
export interface DatasetReader {
  /** Registry name. */
  name: string;
  /** One line for help texts. */
  description: string;
  /** The files and line formats it parses (documentation, shown by `uol data formats`). */
  layout: string;
  /** Opens the dataset, checking that the format's top files exist. @throws UsageError naming what is missing. */
  open(opts: DatasetOptions): Promise<Dataset>;
}
