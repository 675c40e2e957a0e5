/**
 * The dataset registry: name (`--dataset`) → reader. One module per on-disk format; no name checks elsewhere.
 */
import { UsageError } from '../../util/errors.js';
import type { Dataset, DatasetOptions, DatasetReader } from './types.js';
import { cubReader } from './cub.js';
import { wsolReader } from './wsol.js';
import { carsReader } from './cars.js';
import { aircraftReader } from './aircraft.js';
import { dogsReader } from './dogs.js';
import { cifar10Reader, cifar100Reader, cifar100cReader } from './cifar.js';
import { folderReader } from './folder.js';

export type { Dataset, DatasetOptions, DatasetReader, DatasetRecord } from './types.js';

/** Every reader by `--dataset` name. */
export const datasetReaders: Readonly<Record<string, DatasetReader>> = Object.freeze(
  Object.fromEntries([cubReader, wsolReader, carsReader, aircraftReader, dogsReader, cifar10Reader, cifar100Reader, cifar100cReader, folderReader].map((r) => [r.name, r])),
);

/** Dataset names, in help order. */
export const DATASET_NAMES: readonly string[] = Object.keys(datasetReaders);

/** Opens a dataset by registry name. @throws UsageError for an unknown name or a folder not in the format's layout. */
export async function openDataset(name: string, opts: DatasetOptions): Promise<Dataset> {
  const r = datasetReaders[name];
  if (!r) throw new UsageError(`--dataset ${name}: unknown dataset; known: ${DATASET_NAMES.join(', ')}`);
  return r.open(opts);
}
