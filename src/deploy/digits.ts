// Display-side helpers of the demo page, kept out of the runtime (its size budget is for inference):
// MNIST-style preprocessing of a drawing and a softmax for showing scores. Pure functions, no DOM, so the
// tests run them in Node on the same inputs.

/** Softmax of one row of int16 logits at their scale (display only: the prediction is the integer argmax). */
export function softmax(logits: ArrayLike<number>, scale: number): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] * scale);
  const e = Array.from(logits, (q) => Math.exp(q * scale - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Side of the MNIST field (28 pixels), the digit box that fits in it (20) and its centre (14). */
export const FIELD = 28;
const BOX = 20;
const CENTRE = FIELD / 2;

/**
 * Turns a drawing into an MNIST-style 28×28 u8 image the way MNIST itself was made (LeCun et al.): the
 * ink's bounding box is scaled, aspect ratio kept, to fit a 20×20 box with area averaging (anti-aliased
 * grey levels), then placed in the 28×28 field so that its centre of mass is at the centre (14, 14).
 * `ink` is width × height intensities, 0 = background, 255 = full ink (e.g. one channel of a canvas
 * drawn white on black). Returns zeros when there is no ink. Deterministic: plain IEEE arithmetic.
 */
export function mnistPreprocess(ink: ArrayLike<number>, width: number, height: number): Uint8Array {
  const out = new Uint8Array(FIELD * FIELD);
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (ink[y * width + x] > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
  if (x1 < 0) return out;
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const f = BOX / Math.max(bw, bh);
  const ow = Math.max(1, Math.round(bw * f));
  const oh = Math.max(1, Math.round(bh * f));
  // Area averaging: output pixel (i, j) covers source [x0 + i/fx, x0 + (i+1)/fx) × [...) (fx = ow/bw).
  const small = new Float64Array(ow * oh);
  const fx = ow / bw;
  const fy = oh / bh;
  for (let j = 0; j < oh; j++) {
    const sy0 = j / fy, sy1 = (j + 1) / fy;
    for (let i = 0; i < ow; i++) {
      const sx0 = i / fx, sx1 = (i + 1) / fx;
      let acc = 0;
      for (let y = Math.floor(sy0); y < Math.min(bh, Math.ceil(sy1)); y++) {
        const wy = Math.min(sy1, y + 1) - Math.max(sy0, y);
        for (let x = Math.floor(sx0); x < Math.min(bw, Math.ceil(sx1)); x++) {
          const wx = Math.min(sx1, x + 1) - Math.max(sx0, x);
          acc += wx * wy * ink[(y0 + y) * width + x0 + x];
        }
      }
      small[j * ow + i] = acc / ((sx1 - sx0) * (sy1 - sy0));
    }
  }
  let m = 0, mx = 0, my = 0;
  for (let j = 0; j < oh; j++)
    for (let i = 0; i < ow; i++) {
      const v = small[j * ow + i];
      m += v;
      mx += v * (i + 0.5);
      my += v * (j + 0.5);
    }
  // Shift so the centre of mass lands on (14, 14), kept inside the field.
  const dx = Math.min(FIELD - ow, Math.max(0, Math.round(CENTRE - mx / m)));
  const dy = Math.min(FIELD - oh, Math.max(0, Math.round(CENTRE - my / m)));
  for (let j = 0; j < oh; j++)
    for (let i = 0; i < ow; i++) out[(dy + j) * FIELD + dx + i] = Math.min(255, Math.max(0, Math.round(small[j * ow + i])));
  return out;
}
