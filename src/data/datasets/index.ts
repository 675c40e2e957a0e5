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

// Dataset names, in help order (names.ts, light for the CLI): they must name exactly the readers above.
import { DATASET_NAMES } from './names.js';
export { DATASET_NAMES };
if (Object.keys(datasetReaders).join() !== DATASET_NAMES.join()) {
  throw new Error(`datasets/names.ts lists ${DATASET_NAMES.join(', ')} but the readers are ${Object.keys(datasetReaders).join(', ')}`);
}

/** Opens a dataset by registry name. @throws UsageError for an unknown name or a folder not in the format's layout. */
export async function openDataset(name: string, opts: DatasetOptions): Promise<Dataset> {
  const r = datasetReaders[name];
  if (!r) throw new UsageError(`\`dataset\` ${name}: unknown dataset; known: ${DATASET_NAMES.join(', ')}`, { options: ['dataset'] });
  return r.open(opts);
}
