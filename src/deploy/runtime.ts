// The edge runtime: the entry point that `npm run build:runtime` bundles (esbuild, src/deploy/build.ts) into
// the zero-dependency ES module `nipq-runtime.mjs` that `nipq export` ships. It is the same engine as
// `nipq run --backend wasm` — the .qmodel codec (src/ir/qmodel.ts), the prepare step (src/kernels/) and
// the whole-program runner in linear memory (src/exec/wasm-program.ts) — with only the loading done
// differently: the kernels are fetched (or handed over as bytes) and compiled asynchronously, since
// browsers allow no file system and no synchronous compile of a module this size on the main thread.
//
// createPool runs the same on workers started from this module's own URL, one model copy each
// (docs/DEPLOY.md "Workers"). Works in current browsers and in Node ≥ 20. Nothing here may import a package
// or a Node API (the build fails if anything does); in Node, `file:` URLs and plain paths are read, and
// workers started, through process.getBuiltinModule.

import { NipqInputError, QModelFormatError, describeValue } from "../errors.js";
import { decodeQModel } from "../ir/qmodel.js";
import { sizeOf, type Program } from "../ir/types.js";
import { KernelEngine } from "../kernels/wasm/engine.js";
import { kernelImports, resolveFlavor, simdSupported, type KernelExports, type WasmFlavor } from "../kernels/wasm/features.js";
import { probeRelaxedDot } from "../kernels/wasm/relaxed.js";
import { WasmProgram } from "../exec/wasm-program.js";
import { MAX_WORKERS } from "../limits.js";

export { NipqInputError, QModelFormatError, decodeQModel, simdSupported };
export type { Program, WasmFlavor };

/** Bytes, or where to get them: a URL (fetched; in Node `file:` URLs are read from disk) or, in Node, a path. */
export type Source = Uint8Array | ArrayBuffer | URL | string;

/** File names of the compiled kernels in a bundle, next to nipq-runtime.mjs. */
export const WASM_FILES: Record<WasmFlavor, string> = { simd: "nipq-simd.wasm", scalar: "nipq-scalar.wasm", relaxed: "nipq-relaxed.wasm" };

/** Options of loadModel. */
export interface LoadOptions {
  /**
   * The kernel build. "auto" (default): relaxed SIMD when this engine computes it right (a probe), else SIMD
   * when it validates WASM SIMD, else the scalar twin. Forcing "relaxed" where the probe fails is an error.
   */
  flavor?: WasmFlavor | "auto";
  /** Where the compiled kernels are (default: nipq-{simd,scalar,relaxed}.wasm next to this module). */
  wasm?: Partial<Record<WasmFlavor, Source>>;
  /** Largest batch one kernel call runs, an integer in [1, 65536] (default 16); predict() splits bigger batches. */
  maxBatch?: number;
  /** Cap on the kernels' linear memory in bytes, an integer in [1 MiB, 4 GiB] (default 256 MiB). */
  memoryLimit?: number;
  /** A name for the model in error messages (default: the URL or path, else "model"). */
  name?: string;
}

/** Options of createPool: loadModel's, and the number of workers. */
export interface PoolOptions extends LoadOptions {
  /** Workers, an integer in [1, 64]; each holds its own copy of the model and of the kernels' memory. */
  workers: number;
}

/** The result of predict(): int16 logits (n × classes, row-major) and the argmax of each row. */
export interface Prediction {
  n: number;
  classes: number;
  logits: Int16Array;
  predictions: Int32Array;
}

const DEFAULT_MAX_BATCH = 16;
const DEFAULT_MEMORY_LIMIT = 256 * 2 ** 20; // 268435456

/** A Node built-in module without importing it (a browser never gets here); null where there is no Node. */
async function nodeModule<T>(id: string): Promise<T | null> {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc?.versions?.node) return null;
  if (proc.getBuiltinModule) return proc.getBuiltinModule(id) as T;
  // Node 20.0–20.15 lack getBuiltinModule; computed, so bundlers leave it alone
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ "node:" + id)) as T;
}

function describe(src: Source): string {
  if (src instanceof URL) return src.protocol === "file:" ? decodeURIComponent(src.pathname) : src.href;
  return typeof src === "string" ? src : "<bytes>";
}

/** Reads a Source into bytes; failures are NipqInputError naming what could not be read and why. */
export async function readSource(src: Source, what = describe(src)): Promise<Uint8Array> {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  const fs = await nodeModule<{ readFileSync(p: string | URL): Uint8Array }>("fs");
  const isUrl = src instanceof URL || /^[a-z][a-z0-9+.-]+:/i.test(src);
  if (fs && (!isUrl || String(src).startsWith("file:"))) {
    try {
      return new Uint8Array(fs.readFileSync(isUrl ? new URL(String(src)) : (src as string)));
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new NipqInputError(`${what}: cannot read: ${code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
    }
  }
  let res: Response;
  try {
    res = await fetch(src);
  } catch (e) {
    throw new NipqInputError(`${what}: cannot fetch: ${(e as Error).message}`);
  }
  if (!res.ok) throw new NipqInputError(`${what}: cannot fetch: HTTP ${res.status} ${res.statusText}`.trimEnd());
  return new Uint8Array(await res.arrayBuffer());
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

/** Compiles the kernels of a flavor (once per source URL); the default source is next to this module. */
async function compileKernels(flavor: WasmFlavor, src: Source | undefined): Promise<WebAssembly.Module> {
  const source = src ?? new URL(`./${WASM_FILES[flavor]}`, import.meta.url);
  const key = source instanceof URL || typeof source === "string" ? String(source) : null;
  const hit = key === null ? undefined : compiled.get(key);
  if (hit) return hit;
  const p = readSource(source).then(async (bytes) => {
    try {
      return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      throw new NipqInputError(`${describe(source)}: not valid ${flavor} kernels for this engine: ${(e as Error).message}`);
    }
  });
  if (key !== null) {
    compiled.set(key, p);
    p.catch(() => compiled.delete(key));
  }
  return p;
}

/** A loaded model: the validated program, prepared once in its own kernel instance. */
export class NipqModel {
  /** Bytes of one input image (H·W·C u8 pixels). */
  readonly inputSize: number;
  readonly classes: number;
  private readonly runner: WasmProgram;

  /** Use loadModel(); this wires an already decoded program to instantiated kernels. */
  constructor(
    readonly program: Program,
    kernels: KernelExports,
    readonly flavor: WasmFlavor,
    /** Size of the .qmodel file in bytes. */
    readonly modelBytes: number,
    o: Pick<LoadOptions, "maxBatch" | "memoryLimit"> = {},
  ) {
    const engine = new KernelEngine({ exports: kernels, flavor }, o.memoryLimit ?? DEFAULT_MEMORY_LIMIT);
    // The runner splits any batch into micro-batches of at most min(maxBatch, MICRO_BATCH) images, the
    // most a kernel call runs (its arena is sized for them): predict() hands it the whole batch.
    this.runner = new WasmProgram(engine, program, o.maxBatch ?? DEFAULT_MAX_BATCH);
    this.inputSize = sizeOf(program.layers[0].out.shape);
    this.classes = sizeOf(program.layers[program.layers.length - 1].out.shape);
  }

  /** The model's name as lowered (e.g. "cnn-s-w4a4"). */
  get name(): string {
    return this.program.name;
  }

  /** Input shape per sample, [H, W, C] (28×28×1 for the shipped datasets). */
  get inputShape(): number[] {
    return this.program.layers[0].out.shape.slice();
  }

  /**
   * Runs n images (u8 pixels, n × inputSize bytes, NHWC) and returns the int16 logits and predictions —
   * the same integers as the reference kernels (DESIGN.md §3). n defaults to images.length / inputSize.
   */
  predict(images: Uint8Array, n = images?.length / this.inputSize): Prediction {
    checkImages(this, images, n);
    return this.runner.run(images, n);
  }
}

/** Checks a batch: exactly u8 pixels (a Float32Array or a plain array would be converted silently, 300.7 → 44). */
function checkImages(m: { inputSize: number; inputShape: number[] }, images: Uint8Array, n: number): void {
  if (!(images instanceof Uint8Array) || !Number.isInteger(n) || n < 0 || images.length !== n * m.inputSize)
    throw new NipqInputError(`images: expected a Uint8Array of a multiple of ${m.inputSize} bytes (${m.inputShape.join("×")} u8 per image), found ${describeValue(images)}`);
}

/** The flavor "auto" resolves to here (src/kernels/wasm/features.ts, resolveFlavor). */
export function detectFlavor(): WasmFlavor {
  return resolveFlavor("auto");
}

/** Rejects options that would hang (maxBatch 0 loops forever), overflow or index a table with a stray key. */
function checkOptions(o: Partial<PoolOptions>, pool = false): void {
  const bad = (k: keyof PoolOptions, want: string) => new NipqInputError(`${k}: expected ${want}, found ${describeValue(o[k])}`);
  if (![undefined, "auto", "simd", "scalar", "relaxed"].includes(o.flavor)) throw bad("flavor", '"auto", "simd", "scalar" or "relaxed"');
  const p = o.flavor === "relaxed" && probeRelaxedDot();
  if (p && !p.correct) throw new NipqInputError(`flavor: relaxed SIMD unavailable: ${p.detail}`);
  for (const [k, lo, hi] of [["maxBatch", 1, 65536], ["memoryLimit", 2 ** 20, 2 ** 32], ["workers", 1, MAX_WORKERS]] as const) {
    const v = o[k];
    if ((v !== undefined || (pool && k === "workers")) && !(Number.isInteger(v) && v! >= lo && v! <= hi)) throw bad(k, `an integer in [${lo}, ${hi}]`);
  }
}

/** What loadModel and createPool share: the options checked, the flavor resolved, the model read, the kernels compiled. */
async function open(model: Source, o: Partial<PoolOptions>, pool?: boolean) {
  checkOptions(o ?? {}, pool);
  const flavor = !o.flavor || o.flavor === "auto" ? detectFlavor() : o.flavor;
  const name = o.name ?? (model instanceof Uint8Array || model instanceof ArrayBuffer ? "model" : describe(model));
  const [bytes, mod] = await Promise.all([readSource(model, name), compileKernels(flavor, o.wasm?.[flavor])]);
  return { flavor, name, bytes, mod };
}

/** The model on its own kernel instance (in this thread or in a pool's worker). */
async function instantiate({ flavor, name, bytes, mod }: Awaited<ReturnType<typeof open>>, o: LoadOptions): Promise<NipqModel> {
  const program = decodeQModel(bytes, name);
  const inst = await WebAssembly.instantiate(mod, kernelImports());
  return new NipqModel(program, inst.exports as unknown as KernelExports, flavor, bytes.length, o);
}

/**
 * Loads a .qmodel (bytes, URL or — in Node — a path), validates it, and prepares it on the WASM kernels.
 * Throws NipqInputError (QModelFormatError for a corrupt model) with a one-line message on bad input.
 */
export async function loadModel(model: Source, o: LoadOptions = {}): Promise<NipqModel> {
  return instantiate(await open(model, o), o);
}

/** A pool of workers, each with its own copy of the model; see createPool. */
export interface NipqPool {
  readonly workers: number;
  readonly flavor: WasmFlavor;
  readonly inputSize: number;
  readonly classes: number;
  readonly inputShape: number[];
  /** Like NipqModel.predict, with the batch split by images over the workers: the same logits as one thread. */
  run(images: Uint8Array, n?: number): Promise<Prediction>;
  /** Ends the workers; runs still pending reject. */
  close(): Promise<void>;
}

/** The name a pool gives its workers, so that the runtime imported in someone else's worker stays a library. */
const TAG = "nipq-pool";

/** A browser Worker or a Node worker_threads Worker, as the pool uses it. */
interface AnyWorker {
  postMessage(m: unknown, transfer?: ArrayBuffer[]): void;
  terminate(): unknown;
  ref?(): void;
  unref?(): void;
}

/** A worker's answer: a result, or the one line of what failed there (input: it was a NipqInputError). */
type Reply = Prediction & { error?: string; input?: boolean };

/**
 * Starts `workers` workers (Web Workers in browsers, worker_threads in Node), each running this module and
 * its own copy of the model. Nothing is shared: the model bytes and the compiled kernels are copied to each
 * worker and every batch's images are posted, so no SharedArrayBuffer and no COOP/COEP headers are needed.
 * The model is read and validated here first, with loadModel's errors. Close the pool when done.
 */
export async function createPool(model: Source, o: PoolOptions): Promise<NipqPool> {
  const src = await open(model, o, true);
  const L = decodeQModel(src.bytes, src.name).layers;
  const inputShape = L[0].out.shape;
  const inputSize = sizeOf(inputShape);
  const classes = sizeOf(L[L.length - 1].out.shape);
  const wt = await nodeModule<{ Worker: new (u: URL, o: object) => AnyWorker & { on(e: string, f: (x: never) => void): void } }>("worker_threads");
  let failed: string | undefined;
  const queues: ((r: Reply) => void)[][] = [];
  const stop = (why: string) => {
    failed ??= why;
    for (const q of queues) for (const f of q.splice(0)) f({ error: `pool: ${failed}` } as Reply);
    return Promise.all(ws.map((w) => w.terminate())).then(() => {});
  };
  const ws = Array.from({ length: o.workers }, (_, i): AnyWorker => {
    const q: ((r: Reply) => void)[] = (queues[i] = []);
    const reply = (r: Reply) => {
      q.shift()?.(r);
      if (!q.length) w.unref?.();
    };
    const died = (e: unknown) => void stop(`worker ${i} failed: ${(e as Error)?.message || e}`);
    const url = new URL(import.meta.url);
    let w: AnyWorker;
    if (wt) {
      const n = new wt.Worker(url, { workerData: TAG });
      n.on("message", reply);
      n.on("error", died);
      n.on("exit", (c: number) => died(`exit code ${c}`));
      w = n;
    } else {
      const b = new Worker(url, { type: "module", name: TAG });
      b.onmessage = (e) => reply(e.data);
      b.onerror = (e) => (e.preventDefault(), died(e.message || "could not start"));
      w = b as AnyWorker;
    }
    return w;
  });
  const ask = (i: number, m: unknown, transfer?: ArrayBuffer[]) =>
    new Promise<Reply>((ok, no) => {
      if (failed) return no(new Error(`pool: ${failed}`));
      queues[i].push((r) => (r.error === undefined ? ok(r) : no(r.input ? new NipqInputError(r.error) : new Error(r.error))));
      ws[i].ref?.();
      ws[i].postMessage(m, transfer);
    });
  try {
    await Promise.all(ws.map((_, i) => ask(i, { ...src, o: { maxBatch: o.maxBatch, memoryLimit: o.memoryLimit } })));
  } catch (e) {
    await stop("closed");
    throw e;
  }
  const pool: NipqPool = {
    workers: o.workers,
    flavor: src.flavor,
    inputSize,
    classes,
    inputShape,
    async run(images, n = images?.length / inputSize) {
      checkImages(pool, images, n);
      const r: Prediction = { n, classes, logits: new Int16Array(n * classes), predictions: new Int32Array(n) };
      // Images [n·i/W, n·(i+1)/W) to the i-th least busy worker: sizes differ by at most one image.
      const order = ws.map((_, i) => i).sort((a, b) => queues[a].length - queues[b].length);
      const W = Math.min(n, o.workers);
      await Promise.all(
        order.slice(0, W).map(async (w, i) => {
          const a = Math.floor((n * i) / W);
          const b = Math.floor((n * (i + 1)) / W);
          const part = images.slice(a * inputSize, b * inputSize);
          const p = await ask(w, { images: part, n: b - a }, [part.buffer]);
          r.logits.set(p.logits, a * classes);
          r.predictions.set(p.predictions, a);
        }),
      );
      return r;
    },
    close: () => stop("closed"),
  };
  return pool;
}

/** A pool's worker: the first message loads the model, each later one is a batch; one reply per message, in order. */
function serve(port: { postMessage(m: unknown, t?: ArrayBuffer[]): void }, listen: (f: (m: never) => void) => void): void {
  let model: Promise<NipqModel>;
  listen(async (m: { images?: Uint8Array; n: number; o: LoadOptions } & Awaited<ReturnType<typeof open>>) => {
    try {
      if (!m.images) {
        await (model = instantiate(m, m.o));
        return port.postMessage({});
      }
      const r = (await model).predict(m.images, m.n);
      port.postMessage(r, [r.logits.buffer, r.predictions.buffer] as ArrayBuffer[]);
    } catch (e) {
      port.postMessage({ error: (e as Error).message, input: e instanceof NipqInputError });
    }
  });
}

declare const WorkerGlobalScope: unknown;
if (typeof WorkerGlobalScope !== "undefined" && (self as { name?: string }).name === TAG) serve(self as never, (f) => (self.onmessage = (e) => f(e.data as never)));
else
  void nodeModule<{ workerData?: unknown; parentPort: { postMessage(m: unknown, t?: ArrayBuffer[]): void; on(e: string, f: (m: never) => void): void } }>("worker_threads").then(
    (wt) => wt?.workerData === TAG && serve(wt.parentPort, (f) => wt.parentPort.on("message", f)),
  );
