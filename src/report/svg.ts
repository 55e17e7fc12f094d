// Hand-written SVG charts for reports: grouped bars (per-layer figures) and a line with a confidence band
// (robustness curves). Self-contained strings, no dependencies, no scripts; text is XML-escaped.

/** XML-escapes text for SVG/HTML. */
export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A short number for axis ticks: 1234567 → "1.23M". */
export function shortNum(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e12) return (v / 1e12).toPrecision(3) + "T";
  if (a >= 1e9) return (v / 1e9).toPrecision(3) + "G";
  if (a >= 1e6) return (v / 1e6).toPrecision(3) + "M";
  if (a >= 1e3) return (v / 1e3).toPrecision(3) + "k";
  if (a === 0) return "0";
  if (a < 1e-3) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

/** A number for tooltips and labels: ≥ 1,000 rounded with thousands separators, else 4 significant digits (384.00000000000006 → "384"). */
export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  return String(Number(v.toPrecision(4)));
}

/** "Nice" tick values covering [lo, hi] (1-2-5 steps). */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"];

export interface BarSeries {
  name: string;
  values: number[];
}

/** Grouped bar chart: one group per label, one bar per series. */
export function barChart(title: string, labels: string[], series: BarSeries[], yLabel: string, width = 640, height = 300): string {
  const m = { l: 64, r: 16, t: 32, b: 56 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const max = Math.max(1e-12, ...series.flatMap((s) => s.values));
  const ts = ticks(0, max);
  const top = Math.max(max, ts[ts.length - 1]);
  const y = (v: number) => m.t + h - (v / top) * h;
  const gw = w / Math.max(1, labels.length);
  const bw = (gw * 0.8) / Math.max(1, series.length);
  const parts: string[] = [];
  parts.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (const t of ts) parts.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="${m.l - 6}" y="${y(t) + 4}" text-anchor="end" font-size="10">${shortNum(t)}</text>`);
  parts.push(`<text transform="translate(14 ${m.t + h / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(yLabel)}</text>`);
  labels.forEach((lab, i) => {
    series.forEach((s, j) => {
      const v = s.values[i] ?? 0;
      const x = m.l + i * gw + gw * 0.1 + j * bw;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(m.t + h - y(v)).toFixed(1)}" fill="${PALETTE[j % PALETTE.length]}"><title>${esc(`${lab} ${s.name}: ${fmtNum(v)} ${yLabel}`)}</title></rect>`);
    });
    parts.push(`<text x="${(m.l + i * gw + gw / 2).toFixed(1)}" y="${m.t + h + 14}" text-anchor="middle" font-size="10">${esc(lab)}</text>`);
  });
  parts.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${m.t + h}" y2="${m.t + h}" stroke="#333"/>`);
  if (series.length > 1)
    series.forEach((s, j) => parts.push(`<rect x="${m.l + j * 110}" y="${height - 18}" width="10" height="10" fill="${PALETTE[j % PALETTE.length]}"/><text x="${m.l + j * 110 + 14}" y="${height - 9}" font-size="10">${esc(s.name)}</text>`));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">${parts.join("")}</svg>`;
}

export interface CurveSeries {
  name: string;
  points: { x: number; mean: number; lo: number; hi: number }[];
}

/** An accuracy curve in percent from sweep points (fractions): the mean and its 95% CI, the band clipped to [0, 100]. */
export function accuracySeries(name: string, points: { value: number; mean: number; ci95: number }[]): CurveSeries {
  const pct = (v: number) => Math.min(100, Math.max(0, 100 * v));
  return { name, points: points.map((p) => ({ x: p.value, mean: 100 * p.mean, lo: pct(p.mean - p.ci95), hi: pct(p.mean + p.ci95) })) };
}

/**
 * Line chart with a shaded band per series (mean and [lo, hi], e.g. the 95% CI); optional log x axis. The y
 * axis spans the data (with a margin), not forced to 0: accuracies between 90% and 96% stay readable.
 */
export function curveChart(title: string, xLabel: string, yLabel: string, series: CurveSeries[], logX = false, width = 640, height = 360): string {
  const m = { l: 64, r: 16, t: 32, b: 64 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const fx = (v: number) => (logX ? Math.log10(Math.max(v, 1e-300)) : v);
  let x0 = Math.min(...xs.map(fx));
  let x1 = Math.max(...xs.map(fx));
  if (x1 === x0) {
    x0 -= 1;
    x1 += 1;
  }
  const ys = series.flatMap((s) => s.points.flatMap((p) => [p.lo, p.hi, p.mean]));
  const span = Math.max(...ys) - Math.min(...ys) || Math.abs(ys[0]) || 1;
  const y0 = Math.min(...ys) - 0.05 * span;
  const y1 = Math.max(...ys) + 0.05 * span;
  const X = (v: number) => m.l + ((fx(v) - x0) / (x1 - x0)) * w;
  const Y = (v: number) => m.t + h - ((v - y0) / (y1 - y0)) * h;
  const parts: string[] = [];
  parts.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (const t of ticks(y0, y1)) parts.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${Y(t)}" y2="${Y(t)}" stroke="#ddd"/><text x="${m.l - 6}" y="${Y(t) + 4}" text-anchor="end" font-size="10">${shortNum(t)}</text>`);
  const xt = logX ? ticks(Math.floor(x0), Math.ceil(x1)).filter((t) => Number.isInteger(t) && t >= x0 - 1e-9 && t <= x1 + 1e-9).map((t) => 10 ** t) : ticks(x0, x1);
  for (const t of xt) parts.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${m.t}" y2="${m.t + h}" stroke="#eee"/><text x="${X(t)}" y="${m.t + h + 14}" text-anchor="middle" font-size="10">${shortNum(t)}</text>`);
  series.forEach((s, j) => {
    const c = PALETTE[j % PALETTE.length];
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    const band = [...pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.hi).toFixed(1)}`), ...[...pts].reverse().map((p) => `${X(p.x).toFixed(1)},${Y(p.lo).toFixed(1)}`)].join(" ");
    parts.push(`<polygon points="${band}" fill="${c}" fill-opacity="0.2" stroke="none"/>`);
    parts.push(`<polyline points="${pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.mean).toFixed(1)}`).join(" ")}" fill="none" stroke="${c}" stroke-width="2"/>`);
    for (const p of pts) parts.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.mean).toFixed(1)}" r="3" fill="${c}"><title>${esc(`${s.name}, ${xLabel} = ${fmtNum(p.x)}: ${fmtNum(p.mean)} [${fmtNum(p.lo)}, ${fmtNum(p.hi)}]`)}</title></circle>`);
    parts.push(`<rect x="${m.l + j * 160}" y="${height - 18}" width="10" height="10" fill="${c}"/><text x="${m.l + j * 160 + 14}" y="${height - 9}" font-size="10">${esc(s.name)}</text>`);
  });
  parts.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${m.t + h}" y2="${m.t + h}" stroke="#333"/><line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + h}" stroke="#333"/>`);
  parts.push(`<text x="${m.l + w / 2}" y="${m.t + h + 32}" text-anchor="middle" font-size="11">${esc(xLabel)}${logX ? " (log scale)" : ""}</text>`);
  parts.push(`<text transform="translate(14 ${m.t + h / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(yLabel)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">${parts.join("")}</svg>`;
}

/** A self-contained HTML page: title, sections of (heading, inline SVG or HTML). No external resources. */
export function htmlPage(title: string, sections: { heading: string; html: string }[]): string {
  // A section without content gets no heading.
  const body = sections
    .filter((s) => s.html.trim() !== "")
    .map((s) => `<section><h2>${esc(s.heading)}</h2>\n${s.html}\n</section>`)
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child,table.text td,table.text th{text-align:left}section{margin-bottom:2em}.warning{border-left:4px solid #e15759;background:#fdf0f0;padding:4px 8px}</style>
</head><body><h1>${esc(title)}</h1>
${body}
</body></html>
`;
}

/** Warnings as highlighted paragraphs (empty when there are none, so htmlPage drops their section). */
export function warningsHtml(warnings: string[]): string {
  return warnings.map((w) => `<p class="warning">${esc(w)}</p>`).join("\n");
}

/** An HTML table from a header and rows (cells escaped); numbers align right, unless `text` (settings and their values). */
export function htmlTable(header: string[], rows: (string | number)[][], text = false): string {
  const tr = (cells: (string | number)[], tag: string) => `<tr>${cells.map((c) => `<${tag}>${esc(String(c))}</${tag}>`).join("")}</tr>`;
  return `<table${text ? ' class="text"' : ""}>${tr(header, "th")}${rows.map((r) => tr(r, "td")).join("")}</table>`;
}
