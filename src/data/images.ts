// `images:DIR`: one subfolder per class (sorted by name, like torchvision's ImageFolder), PNG or JPEG files in
// each, decoded by pngjs and jpeg-js (pure JS). Split folders DIR/train and DIR/test are used when present;
// otherwise the whole directory is the test split. Images are converted to the channels the model wants
// (gray: PIL's "L" luma, (19595·R + 38470·G + 7471·B + 2^15) >> 16; color: R, G, B) and must have its size,
// unless `resize` scales them (bilinear, half-pixel centres, no antialiasing: what PIL's and torchvision's
// bilinear resize compute on upscaling).

import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { DatasetError } from "../errors.js";
import { readDataFile } from "./read.js";

/** The image shape a model wants: [H, W, C] with C = 1 or 3. */
export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

const EXT = /\.(png|jpe?g)$/i;

/** Decodes one PNG or JPEG file to RGBA. */
function decodeImage(file: string): { width: number; height: number; rgba: Uint8Array } {
  const buf = readDataFile(file);
  try {
    if (buf[0] === 0x89 && buf[1] === 0x50) {
      const p = PNG.sync.read(buf);
      return { width: p.width, height: p.height, rgba: new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.length) };
    }
    if (buf[0] === 0xff && buf[1] === 0xd8) {
      const j = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 256 });
      return { width: j.width, height: j.height, rgba: j.data };
    }
  } catch (e) {
    throw new DatasetError(`${file}: not a readable PNG or JPEG (${(e as Error).message.split("\n")[0]})`);
  }
  throw new DatasetError(`${file}: expected a PNG or JPEG image (by its first bytes), found something else`);
}

/** Bilinear resize of one channel plane (half-pixel centres, edge clamped). */
function resizePlane(src: Float64Array, w: number, h: number, W: number, H: number): Float64Array {
  const out = new Float64Array(W * H);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(Math.max((y + 0.5) * (h / H) - 0.5, 0), h - 1);
    const y0 = Math.floor(sy), y1 = Math.min(y0 + 1, h - 1), fy = sy - y0;
    for (let x = 0; x < W; x++) {
      const sx = Math.min(Math.max((x + 0.5) * (w / W) - 0.5, 0), w - 1);
      const x0 = Math.floor(sx), x1 = Math.min(x0 + 1, w - 1), fx = sx - x0;
      const top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
      const bot = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
      out[y * W + x] = top * (1 - fy) + bot * fy;
    }
  }
  return out;
}

/** One image as u8 HWC of `want` (converted channels, resized when allowed). */
function toShape(file: string, img: { width: number; height: number; rgba: Uint8Array }, want: ImageShape, resize: boolean): Uint8Array {
  const { width: w, height: h, rgba } = img;
  if ((w !== want.width || h !== want.height) && !resize)
    throw new DatasetError(`${file}: image is ${h}×${w}, the model expects ${want.height}×${want.width} (resize with --resize)`);
  const planes: Float64Array[] = [];
  for (let c = 0; c < want.channels; c++) {
    const p = new Float64Array(w * h);
    for (let i = 0; i < w * h; i++) {
      const [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
      p[i] = want.channels === 1 ? (19595 * r + 38470 * g + 7471 * b + 32768) >> 16 : [r, g, b][c];
    }
    planes.push(w === want.width && h === want.height ? p : resizePlane(p, w, h, want.width, want.height));
  }
  const out = new Uint8Array(want.height * want.width * want.channels);
  for (let i = 0; i < want.height * want.width; i++) for (let c = 0; c < want.channels; c++) out[i * want.channels + c] = Math.min(255, Math.max(0, Math.round(planes[c][i])));
  return out;
}

function listDirs(dir: string): string[] {
  return readdirSync(dir).filter((d) => !d.startsWith(".") && statSync(join(dir, d)).isDirectory()).sort();
}

/**
 * Loads an images:DIR split. Without `want`, the shape is the first image's, with 3 channels unless every
 * image is gray (R = G = B). Returns the class names (the subfolders) with the images and labels.
 */
export function loadImageDir(dir: string, split: "train" | "test", want: ImageShape | undefined, resize: boolean): { images: Uint8Array; labels: Uint16Array; shape: ImageShape; classNames: string[]; root: string } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DatasetError(`${dir}: expected a directory with one subfolder of images per class, found ${existsSync(dir) ? "a file" : "nothing"}`);
  const splits = listDirs(dir);
  let root = dir;
  if (splits.includes("train") || splits.includes("test")) {
    if (!splits.includes(split)) throw new DatasetError(`${dir}: expected a ${split}/ folder beside ${splits.filter((s) => s === "train" || s === "test").join(", ")}/`);
    root = join(dir, split);
  } else if (split === "train") throw new DatasetError(`${dir}: no train/ folder: the directory's class folders are the test split only (add train/ and test/ folders to train)`);
  const classNames = listDirs(root);
  if (classNames.length === 0) throw new DatasetError(`${root}: expected one subfolder per class (images:DIR), found no subfolders`);
  if (classNames.length > 65536) throw new DatasetError(`${root}: ${classNames.length} classes, more than 65536`);
  const files: { file: string; label: number }[] = [];
  classNames.forEach((c, label) => {
    const names = readdirSync(join(root, c)).filter((f) => EXT.test(f)).sort();
    for (const f of names) files.push({ file: join(root, c, f), label });
  });
  if (files.length === 0) throw new DatasetError(`${root}: expected .png/.jpg/.jpeg files in the class folders (${classNames.slice(0, 4).join(", ")}${classNames.length > 4 ? ", …" : ""}), found none`);
  const decoded = files.map((f) => ({ ...f, img: decodeImage(f.file) }));
  const shape: ImageShape = want ?? {
    height: decoded[0].img.height,
    width: decoded[0].img.width,
    channels: decoded.every(({ img }) => { for (let i = 0; i < img.rgba.length; i += 4) if (img.rgba[i] !== img.rgba[i + 1] || img.rgba[i] !== img.rgba[i + 2]) return false; return true; }) ? 1 : 3,
  };
  if (shape.channels !== 1 && shape.channels !== 3) throw new DatasetError(`${root}: the model expects ${shape.channels} channels; images give 1 (gray) or 3 (RGB)`);
  const per = shape.height * shape.width * shape.channels;
  const images = new Uint8Array(decoded.length * per);
  // Classes interleaved round-robin, as the mnist split: any prefix (--limit) is balanced.
  const byClass = classNames.map((_, c) => decoded.filter((d) => d.label === c));
  const order: typeof decoded = [];
  for (let k = 0; order.length < decoded.length; k++) for (const list of byClass) if (k < list.length) order.push(list[k]);
  const labels = new Uint16Array(order.length);
  order.forEach((d, i) => {
    images.set(toShape(d.file, d.img, shape, resize), i * per);
    labels[i] = d.label;
  });
  return { images, labels, shape, classNames, root };
}
