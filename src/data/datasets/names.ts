/**
 * Dataset names (`--dataset`), in help order, in a module that imports no reader: the CLI declares its options from
 * this list without loading the readers. datasets/index.ts checks at load that it names exactly the registered readers.
 */

/** Dataset names, in help order. */
export const DATASET_NAMES: readonly string[] = Object.freeze(['cub', 'wsol', 'cars', 'aircraft', 'dogs', 'cifar10', 'cifar100', 'cifar100c', 'folder']);
