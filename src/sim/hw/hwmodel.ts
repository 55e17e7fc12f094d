// Hardware models: the accelerator descriptions of hw-models/*.json (DESIGN.md §4, docs/HW_MODELS.md).
// Loading = read the JSON, apply `--set key=value` overrides, validate against hw-models/schema.json with
// ajv (defaults filled in), and report the first violation as one line naming the file, the field, the
// allowed values and the value found.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import AjvModule, { type ErrorObject, type ValidateFunction } from "ajv";
import { NipqInputError, UsageError, describeValue } from "../../errors.js";
import { misplacedSource, type NoiseConfig } from "../noise/sources.js";

export type Dataflow = "os" | "ws" | "is";
export type Scaling = "fixed" | "fused" | "bitserial" | "analog";

export interface DigitalCompute {
  kind: "digital";
  rows: number;
  cols: number;
  dataflow: Dataflow;
}

export interface AnalogCompute {
  kind: "analog";
  tileRows: number;
  tileCols: number;
  /** Tiles on the chip; a layer needing more is time-multiplexed. */
  tiles: number;
  /** Latency of one tile MVM, ns. */
  mvmNs: number;
  /** DAC bits; 0 = ideal. */
  dac: { bits: number };
  /** ADC bits (0 = ideal) and full scale ±outBound in normalized units. */
  adc: { bits: number; outBound: number };
  gMaxMicroS: number;
}

export interface HwModel {
  name: string;
  description?: string;
  compute: DigitalCompute | AnalogCompute;
  precision: { weightBits: number[]; activationBits: number[]; scaling: Scaling; nativeBits: number; promote: boolean };
  accumulator: { bits: number; overflow: "wrap" | "saturate"; partialSums: "per-mac" | "per-k-tile"; kTile?: number };
  requant: { multiplierBits: number; rounding: "half-up" | "half-even" | "truncate" };
  memory: { weightSramKiB: number; activationSramKiB: number; dramGBps: number };
  clockMHz: number;
  energy: {
    mult8Pj: number;
    add32Pj: number;
    sramPjPerByte: number;
    dramPjPerByte: number;
    adcPjPerConversion?: number;
    dacPjPerConversion?: number;
    analogMacPj?: number;
  };
  noise: NoiseConfig;
}

/** The shipped models' directory: <package>/hw-models (three levels above src/sim/hw or dist/sim/hw). */
export const HW_MODELS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "hw-models");
export const SHIPPED_MODELS = ["int8-systolic-16x16", "lowbit-npu", "bitserial-edge", "analog-pcm-crossbar"] as const;

let validator: ValidateFunction | undefined;
let schemaDoc: Record<string, unknown> | undefined;

function schema(): Record<string, unknown> {
  schemaDoc ??= JSON.parse(readFileSync(join(HW_MODELS_DIR, "schema.json"), "utf8")) as Record<string, unknown>;
  return schemaDoc;
}

function validate(): ValidateFunction {
  if (!validator) {
    // ajv's CJS default export under NodeNext.
    const Ajv = (AjvModule as unknown as { default: typeof AjvModule }).default ?? AjvModule;
    const ajv = new (Ajv as unknown as new (o: object) => { compile(s: object): ValidateFunction })({ allErrors: true, useDefaults: true, strict: false, verbose: true });
    validator = ajv.compile(schema());
  }
  return validator;
}

/** Reads the value at a JSON pointer ("/a/0/b") of a document. */
function atPointer(doc: unknown, pointer: string): unknown {
  let v: unknown = doc;
  for (const raw of pointer.split("/").slice(1)) {
    const k = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** "/compute/adc/bits" → "compute.adc.bits" (the spelling --set uses). */
function dotted(pointer: string): string {
  return pointer.split("/").slice(1).join(".") || "(root)";
}

/** One line for the most specific ajv error: file, field, what is allowed, what was found. */
function describeError(file: string, doc: unknown, errors: ErrorObject[]): string {
  // "if"/"then" wrappers say nothing the nested error does not; prefer the deepest concrete error.
  const concrete = errors.filter((e) => e.keyword !== "if" && e.keyword !== "then" && e.keyword !== "else");
  const list = concrete.length ? concrete : errors;
  list.sort((a, b) => b.instancePath.length - a.instancePath.length);
  const e = list.find((x) => x.keyword === "additionalProperties") ?? list[0];
  const field = dotted(e.instancePath);
  const found = describeValue(atPointer(doc, e.instancePath));
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "additionalProperties": {
      const key = String(p.additionalProperty);
      const allowed = Object.keys(((e.parentSchema as { properties?: object })?.properties ?? {}) as object);
      return `${file}: ${field === "(root)" ? key : `${field}.${key}`}: unknown field; allowed fields: ${allowed.join(", ")}`;
    }
    case "enum":
      return `${file}: ${field}: expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}, found ${found}`;
    case "const":
      return `${file}: ${field}: expected ${JSON.stringify(p.allowedValue)}, found ${found}`;
    case "required":
      return `${file}: ${field === "(root)" ? "" : field + "."}${String(p.missingProperty)}: required field is missing`;
    case "type":
      return `${file}: ${field}: expected ${String(p.type)}, found ${found}`;
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return `${file}: ${field}: expected a number ${String(p.comparison)} ${String(p.limit)}, found ${found}`;
    default:
      return `${file}: ${field}: ${e.message ?? "invalid"}, found ${found}`;
  }
}

/**
 * Validates a parsed hw-model document (filling schema defaults in place) and returns it typed.
 * Throws NipqInputError naming the file, the field, the allowed values and the value found.
 */
export function validateHwModel(doc: unknown, file = "<memory>"): HwModel {
  const v = validate();
  if (!v(doc)) throw new NipqInputError(describeError(file, doc, v.errors ?? []));
  const hw = doc as HwModel;
  hw.noise ??= {};
  // Cross-field rules the schema cannot say.
  if (hw.compute.kind === "digital" && hw.precision.scaling === "analog")
    throw new NipqInputError(`${file}: precision.scaling: expected one of "fixed", "fused", "bitserial" for a digital chip, found "analog"`);
  if (hw.compute.kind === "analog" && hw.precision.scaling !== "analog")
    throw new NipqInputError(`${file}: precision.scaling: expected "analog" for an analog chip, found ${JSON.stringify(hw.precision.scaling)}`);
  const misplaced = misplacedSource(hw.noise, hw.compute.kind);
  if (misplaced) throw new NipqInputError(`${file}: noise.${misplaced.key}: ${misplaced.label} needs an ${misplaced.compute} chip (compute.kind "${misplaced.compute}"), found compute.kind "${hw.compute.kind}"`);
  return hw;
}

/** Resolves `--hw`: a path to a JSON file, or the bare name of a shipped model ("lowbit-npu"). */
export function resolveHwPath(spec: string): string {
  if (existsSync(spec)) return spec;
  const shipped = join(HW_MODELS_DIR, `${spec.replace(/\.json$/, "")}.json`);
  if (!spec.includes("/") && existsSync(shipped)) return shipped;
  throw new NipqInputError(`${spec}: no such hw-model file, and not a shipped model (shipped: ${SHIPPED_MODELS.join(", ")})`);
}

/**
 * Parses one `--set key=value`: key a dotted path ("noise.weightGaussian.sigma", "compute.adc.bits"),
 * value JSON when it parses as JSON (numbers, booleans, arrays, quoted strings), else the raw string.
 */
export function parseSet(s: string): { path: string[]; value: unknown } {
  const eq = s.indexOf("=");
  if (eq <= 0) throw new UsageError(`--set ${JSON.stringify(s)}: expected key=value (e.g. noise.weightGaussian.sigma=0.5)`);
  const key = s.slice(0, eq).trim();
  const raw = s.slice(eq + 1).trim();
  const path = key.split(".");
  if (path.some((p) => p === "" || !/^[A-Za-z0-9_$-]+$/.test(p))) throw new UsageError(`--set ${JSON.stringify(s)}: malformed key ${JSON.stringify(key)} (expected a dotted path like compute.adc.bits)`);
  if (raw === "") throw new UsageError(`--set ${JSON.stringify(s)}: missing value after "="`);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* a bare string such as saturate */
  }
  return { path, value };
}

/**
 * The sub-schema that describes a dotted path, or why there is none: "unknown hw-model field", or an array
 * index out of range. Only the schema's own properties count ("__proto__", "constructor" name nothing),
 * and an array index must be below the array's maxItems and at most its current length (an override
 * appends at most one item, never leaves holes).
 */
export function lookupSchema(path: string[], doc: unknown): Record<string, unknown> | string {
  const unknown = "unknown hw-model field (see hw-models/schema.json and docs/HW_MODELS.md)";
  let s: Record<string, unknown> | undefined = schema();
  let d: unknown = doc;
  for (const key of path) {
    if (!s) return unknown;
    // compute: pick the branch the document's kind selects (if/then/else).
    if (s.if && s.then && s.else) {
      const kind = (d as { kind?: string } | undefined)?.kind;
      s = (kind === "analog" ? s.else : s.then) as Record<string, unknown>;
    }
    if (s.type === "array" || Array.isArray(d)) {
      if (!/^\d+$/.test(key)) return unknown;
      const length = Array.isArray(d) ? d.length : 0;
      const max = Math.min(length, (s.maxItems as number) - 1);
      if (Number(key) > max) return `array index ${key.length > 12 ? key.slice(0, 12) + "…" : key} out of range: expected 0..${max} (the array has ${length} item(s), at most ${String(s.maxItems)})`;
      s = s.items as Record<string, unknown> | undefined;
    } else {
      const props = s.properties as Record<string, Record<string, unknown>> | undefined;
      if (!props || !Object.hasOwn(props, key)) return unknown;
      s = props[key];
    }
    d = d !== null && typeof d === "object" && Object.hasOwn(d, key) ? (d as Record<string, unknown>)[key] : undefined;
  }
  return s ?? unknown;
}

/**
 * Applies one override to a (parsed, not yet validated) hw-model document: the key must name a field of
 * the schema (unknown keys are an error); missing parent objects (an absent noise source) are created.
 */
export function applySet(doc: Record<string, unknown>, path: string[], value: unknown, file = "<memory>"): void {
  const s = lookupSchema(path, doc);
  if (typeof s === "string") throw new UsageError(`--set ${path.join(".")}: ${s}`);
  let o: Record<string, unknown> = doc;
  for (const k of path.slice(0, -1)) {
    if (o[k] === undefined) o[k] = {};
    if (typeof o[k] !== "object" || o[k] === null) throw new UsageError(`--set ${path.join(".")}: ${file}: ${k} is not an object`);
    o = o[k] as Record<string, unknown>;
  }
  o[path[path.length - 1]] = value;
}

/** A hw-model document's JSON text as an object, before validation (`name` is the file or blob in errors). */
export function parseHwJson(read: () => string, name: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(read());
  } catch (e) {
    throw new NipqInputError(`${name}: not valid JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new NipqInputError(`${name}: expected a JSON object, found ${describeValue(doc)}`);
  return doc as Record<string, unknown>;
}

/** Loads `--hw` (path or shipped name), applies `--set` overrides in order, validates. */
export function loadHwModel(spec: string, sets: string[] = []): { hw: HwModel; file: string } {
  const file = resolveHwPath(spec);
  const doc = parseHwJson(() => readFileSync(file, "utf8"), file);
  for (const s of sets) {
    const { path, value } = parseSet(s);
    applySet(doc, path, value, file);
  }
  const where = sets.length ? `${file} (with --set ${sets.join(" ")})` : file;
  return { hw: validateHwModel(doc, where), file };
}

/** A deep copy with one more override, validated (sweeps vary one knob over copies of a model). */
export function withSet(hw: HwModel, path: string[], value: unknown): HwModel {
  const doc = structuredClone(hw) as unknown as Record<string, unknown>;
  applySet(doc, path, value);
  return validateHwModel(doc, `${hw.name} (with ${path.join(".")}=${JSON.stringify(value)})`);
}
