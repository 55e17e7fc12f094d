// `nipq inspect FILE.qmodel [--weights] [--json]`: the layers of an integer program, their bits, MACs,
// BOPs, packed weight bytes and accumulator bits, and the peak activation bytes; with --weights, every integer.

import { Command } from "commander";
import { readQModel } from "../ir/io.js";
import { programStats } from "../ir/stats.js";
import type { Layer, Program } from "../ir/types.js";
import { textTable } from "../report/table.js";
import { fmtInt, fmtShape, pathOption, printJson, say } from "./common.js";
import { peakActivationBytes } from "../exec/memplan.js";

/** The attributes and integers of one layer, as `inspect --weights` shows them. */
export function layerDetails(l: Layer): Record<string, unknown> {
  const d: Record<string, unknown> = { inputs: l.inputs, out: l.out };
  switch (l.op) {
    case "input":
      if (l.lut) d.lut = Array.from(l.lut);
      break;
    case "conv2d":
    case "dense":
      if (l.op === "conv2d") Object.assign(d, { kernel: l.kernel, stride: l.stride, padding: l.padding, groups: l.groups });
      if (l.wFullRange) d.wFullRange = true;
      Object.assign(d, { weights: Array.from(l.weights), bias: Array.from(l.bias), wScale: Array.from(l.wScale), m: Array.from(l.rq.m), s: Array.from(l.rq.s), lo: l.rq.lo, hi: l.rq.hi });
      break;
    case "maxpool":
      Object.assign(d, { kernel: l.kernel, stride: l.stride, padding: l.padding });
      break;
    case "avgpool":
      Object.assign(d, { kernel: l.kernel, stride: l.stride, padding: l.padding, m: Array.from(l.rq.m), s: Array.from(l.rq.s), lo: l.rq.lo, hi: l.rq.hi });
      break;
    case "gap":
      Object.assign(d, { m: Array.from(l.rq.m), s: Array.from(l.rq.s), lo: l.rq.lo, hi: l.rq.hi });
      break;
    case "add":
      Object.assign(d, { ma: l.ma, mb: l.mb, s: l.s, lo: l.lo, hi: l.hi });
      break;
  }
  return d;
}

/** The `inspect --json` document (keys per DESIGN.md §5). */
export function inspectDoc(p: Program, weights: boolean): Record<string, unknown> {
  const st = programStats(p);
  return {
    name: p.name,
    producer: p.producer,
    layers: st.layers.map((s, i) => ({ ...s, ...(weights ? layerDetails(p.layers[i]) : {}) })),
    // The liveness plan of one inference with activations packed at their bits, as `simulate` reports it.
    totals: { ...st.totals, peakActivationBytes: peakActivationBytes(p) },
  };
}

export function inspectCommand(): Command {
  return new Command("inspect")
    .description("show the layers of an integer program: shapes, bits, MACs, BOPs, packed weight bytes, accumulator bits, and the peak activation bytes of one inference")
    .argument("<file>", "a .qmodel file", pathOption)
    .option("--weights", "also print every layer's integer weights, bias, m, s, lo, hi and attributes")
    .option("--json", "print one JSON document on stdout")
    .action((file: string, o: { weights?: boolean; json?: boolean }) => {
      const p = readQModel(file);
      if (o.json) return printJson(inspectDoc(p, !!o.weights));
      const st = programStats(p);
      const dash = (v: number | null) => (v === null ? "–" : String(v));
      const rows = [["#", "name", "op", "in", "out", "w bits", "a bits", "MACs", "BOPs", "weight B", "acc bits"]];
      st.layers.forEach((s, i) =>
        rows.push([String(i), s.name, s.op, fmtShape(s.inShape), fmtShape(s.outShape), dash(s.wBits), dash(s.aBits), s.macs ? fmtInt(s.macs) : "", s.bops ? fmtInt(s.bops) : "", s.weightBytes ? fmtInt(s.weightBytes) : "", dash(s.accBits)]),
      );
      rows.push(["", "total", "", "", "", "", "", fmtInt(st.totals.macs), fmtInt(st.totals.bops), fmtInt(st.totals.weightBytes), ""]);
      say(false, `${file}: ${p.name} (${p.producer}), ${p.layers.length} layers`);
      say(false, textTable(rows, true));
      say(false, `bias: ${fmtInt(st.totals.biasBytes)} B int32; BOPs = MACs × w bits × a bits per sample`);
      say(false, `peak activation bytes: ${fmtInt(peakActivationBytes(p))} (one inference, activations packed at their bits, liveness plan)`);
      if (o.weights) for (const l of p.layers) say(false, `${l.name} ${JSON.stringify(layerDetails(l))}`);
    });
}
