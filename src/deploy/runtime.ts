// The edge runtime: the entry point that `npm run build:runtime` bundles (esbuild, src/deploy/build.ts) into
// the zero-dependency ES module `nipq-runtime.mjs` that `nipq export` ships. It is the same engine as
// `nipq run --backend wasm` — the .qmodel codec (src/ir/qmodel.ts), the prepare step (src/kernels/) and
// the whole-program runner in linear memory (src/exec/wasm-program.ts) — with only the loading done
// differently: the kernels are fetched (or handed over as bytes) and compiled asynchronously, since
// browsers allow no file system and no synchronous compile of a module this size on the main thread.
//
// Works in current browsers and in Node ≥ 20. Nothing here may import a package or a Node API (the build
// fails if anything does); in Node, `file:` URLs and plain paths are read through process.getBuiltinModule.

import { NipqInputError, QModelFormatError, describeValue } from "../errors.js";
import { decodeQModel } from "../ir/qmodel.js";
import { sizeOf, type Program } from "../ir/types.js";
import { WasmEngine } from "../kernels/wasm/engine.js";
import { kernelImports, resolveFlavor, simdSupported, type KernelExports, type WasmFlavor } from "../kernels/wasm/features.js";
import { probeRelaxedDot } from "../kernels/wasm/relaxed.js";
import { WasmProgram } from "../exec/wasm-program.js";

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

/** The result of predict(): int16 logits (n × classes, row-major) and the argmax of each row. */
export interface Prediction {
  n: number;
  classes: number;
  logits: Int16Array;
  predictions: Int32Array;
}

const DEFAULT_MAX_BATCH = 16;
const DEFAULT_MEMORY_LIMIT = 256 * 2 ** 20; // 268435456

interface NodeFs {
  readFileSync(p: string | URL): Uint8Array;
}

/** Node's fs without importing it (a browser never gets here); null where there is no such thing. */
async function nodeFs(): Promise<NodeFs | null> {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc?.versions?.node) return null;
  if (proc.getBuiltinModule) return proc.getBuiltinModule("fs") as NodeFs;
  const id = ["node", "fs"].join(":"); // Node 20.0–20.15 lack getBuiltinModule; computed, so bundlers leave it alone
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ id)) as NodeFs;
}

function describe(src: Source): string {
  if (src instanceof URL) return src.protocol === "file:" ? decodeURIComponent(src.pathname) : src.href;
  return typeof src === "string" ? src : "<bytes>";
}

/** Reads a Source into bytes; failures are NipqInputError naming what could not be read and why. */
export async function readSource(src: Source, what = describe(src)): Promise<Uint8Array> {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  const fs = await nodeFs();
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
    const engine = new WasmEngine({ kernels: { exports: kernels, flavor }, memoryLimit: o.memoryLimit ?? DEFAULT_MEMORY_LIMIT });
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
    // Exactly u8 pixels: a Float32Array or a plain array would be converted silently (300.7 → 44, NaN → 0).
    if (!(images instanceof Uint8Array) || !Number.isInteger(n) || n < 0 || images.length !== n * this.inputSize)
      throw new NipqInputError(`images: expected a Uint8Array of a multiple of ${this.inputSize} bytes (${this.inputShape.join("×")} u8 per image), found ${describeValue(images)}`);
    const logits = new Int16Array(n * this.classes);
    const predictions = new Int32Array(n);
    const max = this.runner.maxBatch;
    for (let b = 0; b < n; b += max) {
      const nb = Math.min(max, n - b);
      const r = this.runner.run(images.subarray(b * this.inputSize, (b + nb) * this.inputSize), nb);
      logits.set(r.logits, b * this.classes);
      predictions.set(r.predictions, b);
    }
    return { n, classes: this.classes, logits, predictions };
  }
}

/** The flavor "auto" resolves to here (src/kernels/wasm/features.ts, resolveFlavor). */
export function detectFlavor(): WasmFlavor {
  return resolveFlavor("auto");
}

/** Rejects options that would hang (maxBatch 0 loops forever), overflow or index a table with a stray key. */
function checkOptions(o: LoadOptions): void {
  const bad = (k: keyof LoadOptions, want: string) => new NipqInputError(`${k}: expected ${want}, found ${describeValue(o[k])}`);
  if (![undefined, "auto", "simd", "scalar", "relaxed"].includes(o.flavor)) throw bad("flavor", '"auto", "simd", "scalar" or "relaxed"');
  const p = o.flavor === "relaxed" && probeRelaxedDot();
  if (p && !p.correct) throw new NipqInputError(`flavor: relaxed SIMD unavailable: ${p.detail}`);
  for (const [k, lo, hi] of [["maxBatch", 1, 65536], ["memoryLimit", 2 ** 20, 2 ** 32]] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= lo && v <= hi)) throw bad(k, `an integer in [${lo}, ${hi}]`);
  }
}

/**
 * Loads a .qmodel (bytes, URL or — in Node — a path), validates it, and prepares it on the WASM kernels.
 * Throws NipqInputError (QModelFormatError for a corrupt model) with a one-line message on bad input.
 */
export async function loadModel(model: Source, o: LoadOptions = {}): Promise<NipqModel> {
  checkOptions(o);
  const flavor = !o.flavor || o.flavor === "auto" ? detectFlavor() : o.flavor;
  const name = o.name ?? (model instanceof Uint8Array || model instanceof ArrayBuffer ? "model" : describe(model));
  const [bytes, mod] = await Promise.all([readSource(model, name), compileKernels(flavor, o.wasm?.[flavor])]);
  const program = decodeQModel(bytes, name);
  const inst = await WebAssembly.instantiate(mod, kernelImports());
  return new NipqModel(program, inst.exports as unknown as KernelExports, flavor, bytes.length, o);
}
