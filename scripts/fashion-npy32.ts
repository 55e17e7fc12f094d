// Writes Fashion-MNIST (Debian's dataset-fashion-mnist, 28×28 gray) as a 32×32×3 npy:DIR for training the
// CIFAR-shaped archs on data this machine has: each image padded with 2 px of 0 on every side (28 + 4 = 32)
// and its gray value copied to R, G and B. Labels stay 0..9. Files: x_train.npy [60000, 32, 32, 3] u8,
// y_train.npy [60000] u8, x_test.npy [10000, 32, 32, 3], y_test.npy [10000] (about 215 MB in all).
//
//   npx tsx scripts/fashion-npy32.ts OUT_DIR [--limit N]      then   nipq train --data npy:OUT_DIR …

import { join } from "node:path";
import { loadDataset, type Dataset } from "../src/data/index.js";
import { encodeNpy } from "../src/data/npy.js";
import { NipqInputError } from "../src/errors.js";
import { ensureDir, writeFileAtomic } from "../src/fsutil.js";

const PAD = 2;

/** 28×28×1 images → (28 + 2·PAD)² × 3: zero border, gray replicated to three channels. */
function padToRgb(d: Dataset): { shape: number[]; images: Uint8Array } {
  const [H, W] = [d.height + 2 * PAD, d.width + 2 * PAD];
  const out = new Uint8Array(d.n * H * W * 3);
  for (let k = 0; k < d.n; k++)
    for (let y = 0; y < d.height; y++)
      for (let x = 0; x < d.width; x++) {
        const v = d.images[(k * d.height + y) * d.width + x];
        const o = ((k * H + y + PAD) * W + x + PAD) * 3;
        out[o] = out[o + 1] = out[o + 2] = v;
      }
  return { shape: [d.n, H, W, 3], images: out };
}

const [outDir, flag, n] = process.argv.slice(2);
if (!outDir || (flag !== undefined && flag !== "--limit")) {
  console.error("usage: npx tsx scripts/fashion-npy32.ts OUT_DIR [--limit N]");
  process.exit(2);
}
const limit = n === undefined ? undefined : Number(n);
try {
  ensureDir(outDir);
  for (const split of ["train", "test"] as const) {
    const d = loadDataset("fashion-mnist", split, limit);
    if (d.channels !== 1) throw new Error(`fashion-mnist: expected 1 channel, found ${d.channels}`);
    const { shape, images } = padToRgb(d);
    writeFileAtomic(join(outDir, `x_${split}.npy`), encodeNpy(shape, images));
    writeFileAtomic(join(outDir, `y_${split}.npy`), encodeNpy([d.n], Uint8Array.from(d.labels)));
    console.log(`${split}: ${d.n} images ${shape.slice(1).join("×")} → ${join(outDir, `x_${split}.npy`)}`);
  }
} catch (e) {
  // Bad input (an OUT_DIR that is a file, a missing dataset) is one line and exit 2, as the CLI's errors.
  if (!(e instanceof NipqInputError)) throw e;
  console.error(`fashion-npy32: ${e.message}`);
  process.exit(2);
}
