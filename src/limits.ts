// Every input limit in one place (docs/SECURITY.md lists them; test/security/limits.test.ts checks that the
// document and this table agree). Each bounds what one input can make the tool allocate or do, far above
// any real use: no number a user types and no field of a file is ever trusted to size an allocation
// before it has been checked against its limit here.
//
// Plain constants, one per limit, so that the edge runtime's bundler keeps only those the decoder uses.

// .qmodel files (docs/FORMAT.md)
/** Bytes of the JSON header. */
export const MAX_HEADER_BYTES = 64 * 2 ** 20; // 67108864
/** Nesting depth of arrays and objects in the header (the format itself needs 5), checked before parsing. */
export const MAX_HEADER_DEPTH = 8;
/** Layers of a program. */
export const MAX_LAYERS = 100_000;
/** Elements of one tensor per sample. */
export const MAX_TENSOR_ELEMENTS = 2 ** 26; // 67108864

// Datasets
/** Images in one split of a dataset (IDX files are checked against it before they are inflated). */
export const MAX_DATASET_IMAGES = 1_000_000;

// Counts on the command line
/** --limit: images used from a dataset. */
export const MAX_LIMIT = MAX_DATASET_IMAGES;
/** --trials: Monte-Carlo trials (chip instances) per configuration. */
export const MAX_TRIALS = 10_000;
/** --vary …:steps: points of a sweep. */
export const MAX_SWEEP_STEPS = 1_000;
/** Trials of a whole sweep: steps × --trials. */
export const MAX_SWEEP_TRIALS = 100_000;
/** --batch: images per batch. */
export const MAX_BATCH = 65_536;
/** --workers: worker threads. */
export const MAX_WORKERS = 64;
/** export --samples: test images in a bundle. */
export const MAX_SAMPLES = 10_000;
/** train --epochs. */
export const MAX_EPOCHS = 10_000;

// Memory
/** Activation memory of one batch on the plain-TS reference and simulator backends, as the WASM engine's default limit. */
export const MAX_ACTIVATION_BYTES = 2 ** 30; // 1 GiB

// Queued studies (docs/DISTRIBUTED.md)
/** Bytes of one content-addressed blob a `nipq worker` fetches from Redis (a model, a hw-model, a dataset). */
export const MAX_BLOB_BYTES = 512 * 2 ** 20; // 536870912, Redis' own limit for one string
