// `nipq init --arch A --bits W/A [--first-last W/A] [--input H,W,C] [--classes N] [--width X] [--seed S]
//  --out FILE.qmodel [--json]` (DESIGN.md §5): a deterministic random-weight integer program of any
// architecture, for cost, speed and simulator studies without training (src/init/).

import { Command } from "commander";
import { checkWritable } from "../fsutil.js";
import { INIT_CALIB_IMAGES } from "../init/defaults.js";
import { writeQModel } from "../ir/io.js";
import { programStats } from "../ir/stats.js";
import { peakActivationBytes } from "../exec/memplan.js";
import { MAX_TENSOR_ELEMENTS } from "../limits.js";
import { ARCH_DEFAULTS, ARCHS, type ArchName } from "../train/archs.js";
import { BACKEND_CHOICES } from "../train/choices.js";
import { choiceOption, fmtInt, fmtShape, intOption, numberOption, parseBits, parseInputShape, pathOption, printJson, say } from "./common.js";

interface InitCliOptions {
  arch: ArchName;
  bits: { w: number; a: number };
  firstLast?: { w: number; a: number };
  input?: [number, number, number];
  classes?: number;
  width?: number;
  seed: number;
  calibImages: number;
  backend: string;
  out: string;
  json?: boolean;
}

export function initCommand(): Command {
  const defaults = ARCHS.map((a) => `${a} ${fmtShape(ARCH_DEFAULTS[a].input)}, ${ARCH_DEFAULTS[a].classes} classes`).join("; ");
  return new Command("init")
    .description("write a random-weight integer program of an architecture (He init, ranges calibrated on synthetic images), deterministic in --seed")
    .requiredOption("--arch <A>", `architecture: ${ARCHS.join(" | ")}`, choiceOption(ARCHS))
    .requiredOption("--bits <W/A>", "weight/activation bits of every layer, each 2..8 (e.g. 8/8, 4/4; one number sets both)", parseBits)
    .option("--first-last <W/A>", "bits of the first layer's weights and the last layer's weights and input (e.g. 8/8 with --bits 4/4, as HAWQ-V3)", parseBits)
    .option("--input <H,W,C>", "input image shape (default: the arch's own, see below)", parseInputShape)
    .option("--classes <N>", "number of classes (default: the arch's own)", intOption("--classes", 2, MAX_TENSOR_ELEMENTS))
    .option("--width <X>", "MobileNetV2 width multiplier α (mobilenetv2 only; default 1)", numberOption("--width", 0.05, 4))
    .option("--seed <S>", "seed of the weights and the calibration images", intOption("--seed", 0), 0)
    .option("--calib-images <N>", "synthetic images in the calibration batch", intOption("--calib-images", 2, 256), INIT_CALIB_IMAGES)
    .option("--backend <B>", `tfjs backend of the calibration forward: ${BACKEND_CHOICES.join(" | ")} (the program does not depend on it)`, choiceOption(BACKEND_CHOICES), "auto")
    .requiredOption("--out <file>", "the .qmodel file to write (atomically)", pathOption)
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `\nDefaults: ${defaults}.\n` +
        "Weights are He-uniform from --seed; one training-mode float forward of --calib-images uniform-noise images sets\n" +
        "every BN's statistics and every quantizer's range (NIPQ's 3·RMS init); the network is then lowered by the passes\n" +
        "of `nipq lower`. The same arguments give the same file, byte for byte (the calibrated statistics are snapped to a\n" +
        "coarse grid so that the last float bits of a tfjs backend do not reach the program).",
    )
    .action(async (o: InitCliOptions) => {
      checkWritable(o.out);
      // tfjs loads here, not at the CLI's start (src/train/choices.ts).
      const [{ selectBackend }, { initProgram }] = await Promise.all([import("../train/backend.js"), import("../init/index.js")]);
      const backend = await selectBackend(o.backend);
      const program = initProgram({ arch: o.arch, bits: o.bits, firstLast: o.firstLast, input: o.input, classes: o.classes, width: o.width, seed: o.seed, calibImages: o.calibImages });
      writeQModel(o.out, program);
      const st = programStats(program);
      const input = program.layers[0].out.shape;
      const classes = program.layers[program.layers.length - 1].out.shape[0];
      const peak = peakActivationBytes(program);
      const doc = {
        out: o.out, name: program.name, producer: program.producer, arch: o.arch, input, classes, width: o.width ?? null, bits: o.bits, firstLast: o.firstLast ?? null, seed: o.seed,
        backend, layers: program.layers.length, totals: { ...st.totals, peakActivationBytes: peak },
      };
      if (o.json) return printJson(doc);
      say(false, `${o.out}: ${program.name}, ${fmtShape(input)} → ${classes} classes, ${program.layers.length} layers (${program.producer})`);
      say(false, `${fmtInt(st.totals.macs)} MACs, ${fmtInt(st.totals.bops)} BOPs, ${fmtInt(st.totals.weightBytes)} B packed weights, ${fmtInt(peak)} B peak activations per image`);
    });
}
