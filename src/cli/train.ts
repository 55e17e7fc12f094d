// `nipq train --arch A --data D --method nipq|lsq|float [--bits W/A | --target-bops G | --target-avg-bits B]
//  [--epochs N] [--batch N] [--limit N] [--seed S] --out DIR [--resume] [--json]` (DESIGN.md §5):
// trains in TensorFlow.js and writes a QuantGraph checkpoint directory after every epoch.

import { Command } from "commander";
import cliProgress from "cli-progress";
import { ARCHS } from "../train/archs.js";
import { BACKEND_CHOICES, DEFAULT_NOISE, METHODS, NOISE_KINDS, type Method, type NoiseKind } from "../train/choices.js";
import type { EpochLog, Progress } from "../train/trainer.js";
import { choiceOption, intOption, numberOption, parseBits, parseInputShape, pathOption, printJson, RESIZE_HELP, say } from "./common.js";
import { MAX_BATCH, MAX_EPOCHS, MAX_LIMIT, MAX_TENSOR_ELEMENTS } from "../limits.js";

interface TrainOptions {
  arch: string;
  width?: number;
  data: string;
  input?: [number, number, number];
  resize?: boolean;
  classes?: number;
  method: Method;
  bits?: { w: number; a: number };
  targetBops?: number;
  targetAvgBits?: number;
  epochs: number;
  batch: number;
  limit?: number;
  testLimit?: number;
  seed: number;
  out: string;
  resume?: boolean;
  init?: string;
  json?: boolean;
  backend: string;
  optimizer: "adam" | "sgd";
  lr?: number;
  weightDecay?: number;
  warmup?: number;
  finalFrac?: number;
  noise: NoiseKind;
  budgetWeight?: number;
  bitsInit?: number;
  alphaInit: "rms" | "lsq";
  thetaLr?: number;
  alphaLr?: number;
  teacher?: string;
  kdTemp?: number;
  kdWeight?: number;
}

/** The `nipq train` command. */
export function trainCommand(): Command {
  return new Command("train")
    .description("train a network with NIPQ (or the LSQ / float baselines) in TensorFlow.js; write a QuantGraph checkpoint")
    .requiredOption("--arch <A>", `architecture: ${ARCHS.join(" | ")} (built for the data's image shape and classes)`, choiceOption(ARCHS))
    .option("--width <X>", "MobileNetV2 width multiplier α (mobilenetv2 only; default 1)", numberOption("--width", 0.05, 4))
    .requiredOption("--data <D>", "dataset: mnist | fashion-mnist | idx:DIR | npy:DIR | cifar10:DIR | images:DIR (train and test splits; see below)", pathOption)
    .option("--input <H,W,C>", "the image shape to train at (default: the data's); the data must give it, images:DIR is converted to it", parseInputShape)
    .option("--resize", RESIZE_HELP)
    .option("--classes <N>", "classes of the last layer (default: the data's: 10 for the 28×28 sets and CIFAR-10, the class folders of images:DIR, the largest label + 1 of npy:DIR)", intOption("--classes", 2, MAX_TENSOR_ELEMENTS))
    .requiredOption("--method <M>", `training method: ${METHODS.join(" | ")}`, choiceOption(METHODS))
    .option("--bits <W/A>", "fixed weight/activation bits, each 2..8 (one number sets both; default 4/4 for nipq and lsq)", parseBits)
    .option("--target-bops <G>", "NIPQ mixed precision: learn bit-widths under a budget of G·10⁹ BOPs (Σ MACs·b_w·b_a)", numberOption("--target-bops", 1e-9, 1e6))
    .option("--target-avg-bits <B>", "NIPQ mixed precision: learn bit-widths under a size-weighted mean of B bits", numberOption("--target-avg-bits", 2, 8))
    .option("--epochs <N>", "training epochs", intOption("--epochs", 1, MAX_EPOCHS), 10)
    .option("--batch <N>", "batch size", intOption("--batch", 1, MAX_BATCH), 64)
    .option("--limit <N>", "use only the first N training images", intOption("--limit", 1, MAX_LIMIT))
    .option("--test-limit <N>", "evaluate on only the first N test images", intOption("--test-limit", 1, MAX_LIMIT))
    .option("--seed <S>", "random seed (same seed + backend → same result)", intOption("--seed", 0, 2 ** 31 - 1), 0)
    .requiredOption("--out <DIR>", "checkpoint directory (graph.json, weights.bin, training state, train.jsonl)", pathOption)
    .option("--resume", "continue from the checkpoint in --out (same settings required)")
    .option("--init <DIR>", "start from the weights and BN statistics of a checkpoint of the same arch (e.g. a float run)", pathOption)
    .option("--backend <B>", `tfjs backend: ${BACKEND_CHOICES.join(" | ")}`, choiceOption(BACKEND_CHOICES), "auto")
    .option("--optimizer <O>", "adam (AdamW) | sgd (the NIPQ authors' recipe: Nesterov momentum 0.9; see below)", choiceOption(["adam", "sgd"] as const), "adam")
    .option("--lr <X>", "peak learning rate (default: adam 2e-3; sgd 0.04·batch/256, i.e. 0.01 at batch 64)", numberOption("--lr", 0, 10))
    .option("--weight-decay <X>", "weight decay on conv/dense kernels only, never on BN, biases, α, steps or bit parameters (default: adam 1e-4 decoupled; sgd 1e-5)", numberOption("--weight-decay", 0, 1))
    .option("--warmup <F>", "fraction of steps in linear warm-up before the cosine decay (default: adam 0.03 from 0; sgd 3/43 from 0.1·lr)", numberOption("--warmup", 0, 1))
    .option("--final-frac <F>", "NIPQ: fraction of steps in the final phase (bits frozen, hard quantizer, STE; default 0.1)", numberOption("--final-frac", 0, 1))
    .option("--noise <K>", "NIPQ noise ε on values inside (lo, α): uniform U(−½, ½) | empirical (drawn from the tensor's own rounding-error histogram, 256 bins)", choiceOption(NOISE_KINDS), DEFAULT_NOISE)
    .option("--budget-weight <X>", "weight of the smooth-L1 budget loss (default 1)", numberOption("--budget-weight", 0, 1e6))
    .option("--bits-init <B>", "initial bit-width of learned quantizers (default 6)", numberOption("--bits-init", 2, 8))
    .option("--alpha-init <I>", "NIPQ: initial α, rms (3·RMS, any bits) | lsq (2·mean|x|·√Qp, the range of LSQ's initial step: smaller at low bits)", choiceOption(["rms", "lsq"] as const), "rms")
    .option("--theta-lr <X>", "learning-rate multiplier for the bit-width parameters (default 10)", numberOption("--theta-lr", 0, 1e6))
    .option("--alpha-lr <X>", "NIPQ: learning-rate multiplier for the truncation bounds α (default: adam 30, so that α moves as fast as LSQ's; sgd 1)", numberOption("--alpha-lr", 0, 1e6))
    .option("--teacher <DIR>", "distil from this checkpoint (a `nipq train` output of the same --arch, usually the float run): loss = CE + kd-weight·T²·soft cross-entropy to the teacher at temperature T", pathOption)
    .option("--kd-temp <T>", "distillation temperature (default 1: the authors' soft cross-entropy)", numberOption("--kd-temp", 1e-3, 1e3))
    .option("--kd-weight <X>", "weight of the distillation term (default 1)", numberOption("--kd-weight", 0, 1e6))
    .option("--json", "print one JSON document on stdout: {accuracy, bits, bops, out}")
    .addHelpText(
      "after",
      `
Data: the arch is built for the training images' H×W×C and the classes (the checkpoint records both and
\`nipq lower\` makes a program with that input). mnist and fashion-mnist are 28×28×1; cifar10:DIR is the CIFAR-10
binary version (32×32×3); npy:DIR holds x_train.npy, y_train.npy, x_test.npy, y_test.npy (u8 NHWC images,
integer labels); images:DIR needs train/ and test/ folders of class folders. resnet20 is CIFAR's ResNet at any
size; resnet18 and mobilenetv2 are the ImageNet designs (use a small --width for mobilenetv2 on small images).
scripts/fashion-npy32.ts writes Fashion-MNIST as 32×32×3 npy (2 px of padding, gray in all 3 channels).

Recipes (docs/NIPQ.md compares them with the NIPQ authors' code):
  --optimizer adam   AdamW, lr 2e-3, decoupled weight decay 1e-4, 3% warm-up from 0, cosine to 0; NIPQ's α
                     at 30× the lr (--alpha-lr), the per-step freedom Adam gives LSQ's step size.
  --optimizer sgd    the authors' recipe: SGD with Nesterov momentum 0.9, lr 0.04 at batch 256 scaled
                     linearly, weight decay 1e-5 on kernels only, warm-up from 0.1·lr over 3/43 of the steps,
                     cosine to 1e-3·lr. Add --teacher DIR (a float checkpoint) as their scripts do.
NIPQ trains with pseudo-quantization noise and no straight-through estimator: values inside (lo, α) get
x + Δ·ε, values at or beyond the bounds are exactly lo or α. The last --final-frac of the steps freeze the
bits and switch to the hard quantizer with a straight-through round while BN keeps adapting.

Example (fine-tune W3A3 from a float checkpoint with the authors' recipe):
  nipq train --arch cnn-s --data fashion-mnist --method float --epochs 5 --out ck/float
  nipq train --arch cnn-s --data fashion-mnist --method nipq --bits 3/3 --epochs 5 \
    --init ck/float --teacher ck/float --optimizer sgd --out ck/nipq-w3a3`,
    )
    .action(async (o: TrainOptions) => {
      // tfjs loads here, not at the CLI's start (src/train/choices.ts).
      const [{ selectBackend }, { train }] = await Promise.all([import("../train/backend.js"), import("../train/trainer.js")]);
      const backend = await selectBackend(o.backend);
      // Said when the first step is done, so that bad input (checked inside train) stays one line on stderr.
      let announced = false;
      const bar = new cliProgress.SingleBar(
        {
          format: "epoch {epoch}/{epochs} |{bar}| step {value}/{total} | loss {loss} | acc {acc} | bits {bits} | {gbops} GBOPs | {phase}",
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      let barEpoch = -1;
      const onProgress = (p: Progress) => {
        if (!announced) say(o.json, `backend: ${backend}`);
        announced = true;
        const payload = { epoch: p.epoch, epochs: p.epochs, loss: p.loss.toFixed(3), acc: p.acc.toFixed(3), bits: p.meanBits.toFixed(2), gbops: p.gbops.toFixed(4), phase: p.phase };
        if (barEpoch !== p.epoch) {
          if (barEpoch !== -1) bar.stop();
          bar.start(p.stepsPerEpoch, 0, payload);
          barEpoch = p.epoch;
        }
        bar.update(p.step, payload);
      };
      const onLog = (l: EpochLog) => {
        bar.stop();
        barEpoch = -1;
        say(o.json, `epoch ${l.epoch}: test accuracy ${(100 * l.testAcc).toFixed(2)}%, train loss ${l.loss.toFixed(4)}, mean bits ${l.meanBits.toFixed(2)}, ${(l.bops / 1e9).toFixed(4)} GBOPs, ${l.imagesPerSecond.toFixed(0)} images/s (${l.phase})`);
      };
      let r;
      try {
        r = await train(
          {
            arch: o.arch, data: o.data, method: o.method, bits: o.bits, targetBops: o.targetBops === undefined ? undefined : o.targetBops * 1e9,
            targetAvgBits: o.targetAvgBits, epochs: o.epochs, batch: o.batch, limit: o.limit, testLimit: o.testLimit, width: o.width, input: o.input, resize: o.resize, classes: o.classes, seed: o.seed, out: o.out,
            resume: o.resume ?? false, init: o.init, optimizer: o.optimizer, lr: o.lr, weightDecay: o.weightDecay, warmup: o.warmup, finalFrac: o.finalFrac,
            noise: o.noise, budgetWeight: o.budgetWeight, bitsInit: o.bitsInit, alphaInit: o.alphaInit, thetaLr: o.thetaLr, alphaLr: o.alphaLr,
            teacher: o.teacher, kdTemp: o.kdTemp, kdWeight: o.kdWeight, backend,
          },
          onProgress,
          onLog,
        );
      } finally {
        bar.stop();
      }
      const doc = { accuracy: r.accuracy, bits: r.bits, bops: r.bops, out: r.out, backend: r.backend, epochs: r.epochsDone, arch: o.arch, method: o.method, data: o.data, input: r.input, classes: r.classes };
      if (o.json) return printJson(doc);
      say(false, `${o.arch} ${o.method} on ${o.data} (${r.input.join("×")}, ${r.classes} classes): test accuracy ${(100 * r.accuracy).toFixed(2)}%, ${(r.bops / 1e9).toFixed(4)} GBOPs`);
      say(false, `bits (w/a): ${r.bits.map((b) => `${b.layer} ${b.w}/${b.a}`).join(", ")}`);
      say(false, `checkpoint: ${r.out}`);
    });
}
