// `--vary key=from:to:steps[:log]`: the knob values of a robustness sweep.

import { UsageError } from "../../errors.js";
import { MAX_SWEEP_STEPS } from "../../limits.js";
import type { Program } from "../../ir/types.js";
import { lookupSchema, withSet, type HwModel } from "../hw/hwmodel.js";
import { chipWarnings } from "../hw/resolve.js";

export interface Vary {
  /** The flag as given. */
  spec: string;
  key: string;
  path: string[];
  from: number;
  to: number;
  steps: number;
  scale: "linear" | "log";
  values: number[];
}

/**
 * Parses and expands `key=from:to:steps[:log]` against a hw-model: `steps` values from `from` to `to`
 * inclusive, evenly spaced (or geometrically with `:log`, which needs from, to > 0). The key must name a
 * numeric field of the schema; integer fields get rounded values (duplicates dropped).
 */
export function parseVary(spec: string, hw: HwModel): Vary {
  const bad = (why: string) => new UsageError(`--vary ${JSON.stringify(spec)}: ${why} (expected key=from:to:steps[:log], e.g. noise.weightGaussian.sigma=0:1:6)`);
  const eq = spec.indexOf("=");
  if (eq <= 0) throw bad("missing key=");
  const key = spec.slice(0, eq).trim();
  const parts = spec.slice(eq + 1).split(":");
  if (parts.length < 3 || parts.length > 4) throw bad(`expected 3 or 4 ":"-separated fields, found ${parts.length}`);
  if (parts.length === 4 && parts[3] !== "log") throw bad(`the 4th field must be "log", found ${JSON.stringify(parts[3])}`);
  const num = (s: string, what: string) => {
    const v = Number(s);
    if (s.trim() === "" || !Number.isFinite(v)) throw bad(`${what} is not a number: ${JSON.stringify(s)}`);
    return v;
  };
  const from = num(parts[0], "from");
  const to = num(parts[1], "to");
  const steps = num(parts[2], "steps");
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_SWEEP_STEPS) throw bad(`steps must be an integer in [1, ${MAX_SWEEP_STEPS}], found ${parts[2]}`);
  const scale = parts.length === 4 ? "log" : "linear";
  if (scale === "log" && (from <= 0 || to <= 0)) throw bad("a log sweep needs from > 0 and to > 0");
  const path = key.split(".");
  const sch = lookupSchema(path, hw);
  if (typeof sch === "string") throw new UsageError(`--vary ${key}: ${sch}`);
  if (sch.type !== "number" && sch.type !== "integer") throw new UsageError(`--vary ${key}: not a numeric field (schema type ${JSON.stringify(sch.type ?? sch.enum ?? "?")})`);
  // (1 − t)·from + t·to stays finite for any finite ends (from + (to − from)·t overflows for ±1e308); the log
  // scale interpolates the logarithms for the same reason (to/from can overflow). The ends are exact.
  let values: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = steps === 1 ? 0 : i / (steps - 1);
    values.push(i === 0 ? from : i === steps - 1 ? to : scale === "log" ? Math.exp((1 - t) * Math.log(from) + t * Math.log(to)) : (1 - t) * from + t * to);
  }
  if (sch.type === "integer") values = [...new Set(values.map((v) => Math.round(v)))];
  else values = values.map((v) => Number(v.toPrecision(12)));
  // Every point must make a valid hw-model: say so now, not after the first points have run.
  for (const v of values) {
    try {
      withSet(hw, path, v);
    } catch (e) {
      throw new UsageError(`--vary ${JSON.stringify(spec)}: ${(e as Error).message}`);
    }
  }
  return { spec, key, path, from, to, steps, scale, values };
}

/**
 * The chip's warnings over a whole sweep: the base chip's when every point gives the same ones (a knob that
 * does not touch them), else each point's own, prefixed by its value (`--vary accumulator.bits=10:20:6`
 * warns at the points whose accumulators are narrower than a layer's bound, and only there).
 */
export function sweepWarnings(program: Program, hw: HwModel, vary: Vary): string[] {
  const base = chipWarnings(program, hw);
  const perPoint = vary.values.map((v) => chipWarnings(program, withSet(hw, vary.path, v)));
  if (perPoint.every((w) => w.join("\n") === base.join("\n"))) return base;
  return vary.values.flatMap((v, i) => perPoint[i].map((w) => `at ${vary.key}=${v}: ${w}`));
}
