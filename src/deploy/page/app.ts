// The bundle's demo page (index.html): draw a digit or pick a bundled test image, and see the prediction,
// the per-class scores, the latency, and the model's per-layer bits and size. Bundled by src/deploy/build.ts
// into index.html as an inline module; `../runtime.js` becomes an import of the shipped ./nipq-runtime.mjs.
//
// Test hooks (the browser test reads them): body[data-status] is loading | ready | error, and
// window.nipqDemo holds the last input actually fed to the model and its integer result.

import { programStats } from "../../ir/stats.js";
import { FIELD, mnistPreprocess, softmax } from "../digits.js";
import { loadModel, type NipqModel } from "../runtime.js";

/** What bundle.json says (written by `nipq export`, src/deploy/bundle.ts). */
interface Manifest {
  format: string;
  model: string;
  source: string;
  samples: string;
  dataset: string;
  classes: string[];
  files: Record<string, number>;
}

/** samples.json: n test images of the dataset, base64 u8 pixels, row-major [H][W][C]. */
interface Samples {
  dataset: string;
  split: string;
  width: number;
  height: number;
  /** 1 (gray) or 3 (RGB); absent in bundles written before issue 15: 1. */
  channels?: number;
  indices: number[];
  labels: number[];
  pixels: string;
}

interface DemoResult {
  source: string;
  prediction: number;
  logits: number[];
  latencyMs: number;
}

/** The page's state, exposed as window.nipqDemo for tests and curious users. */
interface DemoState {
  status: "loading" | "ready" | "error";
  error: string | null;
  flavor: string | null;
  /** The u8 pixels last fed to the model (28×28 from the drawing pad). */
  lastInput: number[] | null;
  lastResult: DemoResult | null;
  /** Increments on every prediction (tests wait for it). */
  runs: number;
  classify(pixels: Uint8Array, source: string): DemoResult;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const demo: DemoState = {
  status: "loading",
  error: null,
  flavor: null,
  lastInput: null,
  lastResult: null,
  runs: 0,
  classify: () => {
    throw new Error("model not loaded");
  },
};
(window as unknown as { nipqDemo: DemoState }).nipqDemo = demo;

function setStatus(s: DemoState["status"]): void {
  demo.status = s;
  document.body.dataset.status = s;
}

function showError(message: string): void {
  demo.error = message;
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  $("flavor").textContent = "not loaded";
  setStatus("error");
}

async function fetchJson<T>(url: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`${url}: cannot fetch: ${(e as Error).message}`);
  }
  if (!res.ok) throw new Error(`${url}: cannot fetch: HTTP ${res.status}`);
  try {
    return (await res.json()) as T;
  } catch {
    throw new Error(`${url}: not valid JSON`);
  }
}

function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Paints W×H u8 pixels of C channels (1: gray, MNIST's white ink on black; 3: RGB) into a canvas of any size. */
function paint(canvas: HTMLCanvasElement, pixels: Uint8Array, W = FIELD, H = FIELD, C = 1): void {
  const small = document.createElement("canvas");
  small.width = W;
  small.height = H;
  const img = new ImageData(W, H);
  for (let i = 0; i < W * H; i++) {
    const p = pixels.subarray(i * C, i * C + C);
    img.data.set(C === 3 ? [p[0], p[1], p[2], 255] : [p[0], p[0], p[0], 255], 4 * i);
  }
  small.getContext("2d")!.putImageData(img, 0, 0);
  const ctx = canvas.getContext("2d")!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

function fmtBytes(n: number): string {
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KB`;
}

/**
 * An element with text children: every string from a file (layer and model names, class names) reaches
 * the page as a text node, never as HTML (a layer named `<img onerror=…>` is shown, not run).
 */
function el(tag: string, ...children: (string | number | Node)[]): HTMLElement {
  const e = document.createElement(tag);
  e.append(...children.map((c) => (typeof c === "number" ? String(c) : c)));
  return e;
}

/** Replaces a table's contents with a header row and body rows of text cells. */
function fillTable(table: HTMLElement, header: (string | Node)[], rows: HTMLElement[]): void {
  table.replaceChildren(el("thead", el("tr", ...header.map((h) => (typeof h === "string" ? el("th", h) : h)))), el("tbody", ...rows));
}

function renderSummary(model: NipqModel, manifest: Manifest): void {
  // Per-layer figures, computed here (the same src/ir/stats.ts as `nipq inspect`) to keep the runtime small.
  const s = programStats(model.program);
  $("model-name").textContent = `${model.name} (${manifest.source})`;
  $("flavor").textContent = model.flavor === "simd" ? "WASM SIMD" : "WASM scalar";
  const rows = s.layers
    .filter((l) => l.op !== "input" && l.op !== "flatten")
    .map((l) => el("tr", ...[l.name, l.op, l.outShape.join("×"), l.wBits ?? "–", l.aBits ?? "–", l.weightBytes ? l.weightBytes.toLocaleString("en-US") : "–"].map((c) => el("td", c))));
  fillTable($("layers"), ["layer", "op", "out", "W bits", "A bits", "weight B"], rows);
  const f = manifest.files;
  const ship = Object.values(f).reduce((a, b) => a + b, 0);
  $("sizes").replaceChildren(
    ...[
      `model file ${fmtBytes(model.modelBytes)} (packed weights ${fmtBytes(s.totals.weightBytes)}, int32 biases ${fmtBytes(s.totals.biasBytes)})`,
      `${s.totals.macs.toLocaleString("en-US")} MACs, ${s.totals.bops.toLocaleString("en-US")} BOPs per image`,
      `runtime ${fmtBytes(f["nipq-runtime.mjs"] ?? 0)}, kernels ${fmtBytes(f["nipq-simd.wasm"] ?? 0)} SIMD / ${fmtBytes(f["nipq-scalar.wasm"] ?? 0)} scalar, whole bundle ${fmtBytes(ship)}`,
    ].map((t) => el("li", t)),
  );
}

function renderResult(r: DemoResult, classes: string[], scale: number): void {
  $("prediction").textContent = classes[r.prediction] ?? String(r.prediction);
  $("latency").textContent = `${r.latencyMs.toFixed(2)} ms`;
  const p = softmax(r.logits, scale);
  const softmaxHead = el("th", "softmax");
  softmaxHead.setAttribute("colspan", "2");
  const rows = r.logits.map((q, c) => {
    const bar = el("span");
    bar.className = "bar";
    bar.style.width = `${(100 * p[c]).toFixed(1)}px`; // CSSOM, which the page's CSP allows (a style="" attribute it would not)
    const tr = el("tr", el("td", classes[c] ?? c), el("td", q), el("td", bar), el("td", `${(100 * p[c]).toFixed(1)}%`));
    if (c === r.prediction) tr.className = "top";
    return tr;
  });
  fillTable($("scores"), ["class", "int16 logit", softmaxHead], rows);
}

function setupPad(onDone: (pixels: Uint8Array) => void): () => void {
  const pad = $<HTMLCanvasElement>("pad");
  const ctx = pad.getContext("2d", { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  let drawing = false;
  let last: [number, number] | null = null;
  const at = (e: PointerEvent): [number, number] => {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
  };
  const line = (a: [number, number], b: [number, number]) => {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = pad.width / 12;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  };
  pad.addEventListener("pointerdown", (e) => {
    drawing = true;
    last = at(e);
    line(last, last);
    pad.setPointerCapture(e.pointerId);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing || !last) return;
    const p = at(e);
    line(last, p);
    last = p;
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    last = null;
    const rgba = ctx.getImageData(0, 0, pad.width, pad.height).data;
    const ink = new Uint8Array(pad.width * pad.height);
    for (let i = 0; i < ink.length; i++) ink[i] = rgba[4 * i];
    onDone(mnistPreprocess(ink, pad.width, pad.height));
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  return clear;
}

async function main(): Promise<void> {
  setStatus("loading");
  const manifest = await fetchJson<Manifest>("bundle.json");
  if (manifest.format !== "nipq-bundle") throw new Error(`bundle.json: expected format "nipq-bundle", found ${JSON.stringify(manifest.format)}`);
  // ?flavor=scalar (or simd, relaxed) forces a kernel build; default: feature detection.
  const forced = new URLSearchParams(location.search).get("flavor");
  const flavor = forced === "simd" || forced === "scalar" || forced === "relaxed" ? forced : "auto";
  const [model, samples] = await Promise.all([loadModel(manifest.model, { name: manifest.model, flavor }), fetchJson<Samples>(manifest.samples)]);
  const classes = manifest.classes;
  const scale = model.program.layers[model.program.layers.length - 1].out.scale;
  demo.flavor = model.flavor;
  renderSummary(model, manifest);

  demo.classify = (pixels: Uint8Array, source: string): DemoResult => {
    const t0 = performance.now();
    const r = model.predict(pixels, 1);
    const latencyMs = performance.now() - t0;
    const result: DemoResult = { source, prediction: r.predictions[0], logits: Array.from(r.logits), latencyMs };
    demo.lastInput = Array.from(pixels);
    demo.lastResult = result;
    demo.runs++;
    if (pixels.length === FIELD * FIELD) paint($<HTMLCanvasElement>("seen"), pixels);
    else paint($<HTMLCanvasElement>("seen"), pixels, samples.width, samples.height, samples.channels);
    $("input-source").textContent = source;
    renderResult(result, classes, scale);
    return result;
  };

  if (manifest.dataset !== "mnist" && !manifest.dataset.startsWith("idx:")) $("draw-title").textContent = `Draw (the model was made for ${manifest.dataset})`;
  // Errors while classifying (e.g. a model whose input is not 28×28×1) go to the error box too.
  const safely = (pixels: Uint8Array, source: string) => {
    try {
      demo.classify(pixels, source);
    } catch (e) {
      showError(`Could not classify ${source}: ${(e as Error).message}`);
    }
  };
  const clear = setupPad((pixels) => safely(pixels, "drawing"));
  $("clear").addEventListener("click", clear);

  const px = decodeBase64(samples.pixels);
  const size = samples.width * samples.height * (samples.channels ?? 1);
  const grid = $("samples");
  samples.labels.forEach((label, i) => {
    const b = document.createElement("button");
    b.className = "sample";
    b.dataset.index = String(i);
    b.title = `${samples.dataset} ${samples.split} #${samples.indices[i]}, label ${classes[label] ?? label}`;
    const c = document.createElement("canvas");
    c.width = 56;
    c.height = 56;
    const img = px.subarray(i * size, (i + 1) * size);
    paint(c, img, samples.width, samples.height, samples.channels);
    b.append(c, Object.assign(document.createElement("span"), { textContent: classes[label] ?? String(label) }));
    b.addEventListener("click", () => safely(img, `${samples.dataset} ${samples.split} #${samples.indices[i]} (label ${classes[label] ?? label})`));
    grid.append(b);
  });
  $("samples-title").textContent = `${samples.labels.length} bundled ${samples.dataset} test images`;
  $("run-all").addEventListener("click", () => {
    const n = samples.labels.length;
    const t0 = performance.now();
    const r = model.predict(px.subarray(0, n * size), n);
    const ms = performance.now() - t0;
    let ok = 0;
    for (let i = 0; i < n; i++) if (r.predictions[i] === samples.labels[i]) ok++;
    $("run-all-result").textContent = `${ok}/${n} correct, ${(ms / n).toFixed(3)} ms per image (batch of ${n})`;
  });
  setStatus("ready");
}

main().catch((e: unknown) => showError(`Could not load the model: ${(e as Error).message ?? String(e)}`));
