// The layering of src/ as a test (docs/ARCHITECTURE.md): dependency-cruiser reads every import of src/
// (type-only ones included) and this file checks them against the table of layers below. A module may import
// its own component and components of lower rank, nothing else; there are no import cycles; and a command
// of the CLI imports no other command. A new folder under src/ must be placed in the table.

import { describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { cruise, type ICruiseResult } from "dependency-cruiser";

/** Components of src/, lowest rank first. Same rank: neither may import the other. */
const LAYERS: { rank: number; name: string; path: RegExp }[] = [
  { rank: 0, name: "base", path: /^src\/(errors|fsutil|limits|rng)\.ts$/ },
  { rank: 1, name: "ir", path: /^src\/ir\// },
  { rank: 1, name: "graph", path: /^src\/graph\// },
  { rank: 1, name: "data", path: /^src\/data\// },
  { rank: 2, name: "lower", path: /^src\/lower\// },
  { rank: 2, name: "kernels", path: /^src\/kernels\// },
  { rank: 2, name: "train", path: /^src\/train\// },
  { rank: 2, name: "onnx", path: /^src\/onnx\// },
  { rank: 3, name: "exec", path: /^src\/exec\// },
  { rank: 3, name: "import", path: /^src\/import\// },
  { rank: 3, name: "init", path: /^src\/init\// },
  { rank: 4, name: "sim/noise", path: /^src\/sim\/noise\// },
  { rank: 5, name: "sim/hw", path: /^src\/sim\/hw\// },
  { rank: 6, name: "sim/chip", path: /^src\/sim\/chip\// },
  { rank: 7, name: "sim/study", path: /^src\/sim\/study\// },
  { rank: 8, name: "report", path: /^src\/report\// },
  { rank: 8, name: "deploy", path: /^src\/deploy\// },
  { rank: 8, name: "queue", path: /^src\/queue\// },
  { rank: 9, name: "cli", path: /^src\/cli\// },
  { rank: 9, name: "api", path: /^src\/index\.ts$/ },
];

/** The CLI's shared modules: a command file may import these, and no other command. */
const CLI_SHARED = /^src\/cli\/(common|options|queue-options)\.ts$/;

function componentOf(file: string): (typeof LAYERS)[number] | undefined {
  return LAYERS.find((l) => l.path.test(file));
}

let result: ICruiseResult | undefined;
async function graph(): Promise<ICruiseResult> {
  if (result) return result;
  const r = await cruise(["src"], {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/deploy/page/index\\.html$" },
    validate: true,
    ruleSet: { forbidden: [{ name: "no-circular", severity: "error", from: {}, to: { circular: true } }] },
  });
  result = r.output as ICruiseResult;
  return result;
}

/** Imports between two files of src/ (packages and Node built-ins left out). */
async function edges(): Promise<{ from: string; to: string }[]> {
  const out: { from: string; to: string }[] = [];
  for (const m of (await graph()).modules)
    if (m.source.startsWith("src/")) for (const d of m.dependencies) if (d.resolved.startsWith("src/")) out.push({ from: m.source, to: d.resolved });
  return out;
}

describe("import graph of src/ (dependency-cruiser)", () => {
  it("reads the whole tree (every .ts file of src/ is a module of the graph)", async () => {
    const files = (await graph()).modules.map((m) => m.source).filter((s) => s.startsWith("src/") && s.endsWith(".ts"));
    const onDisk = (readdirSync("src", { recursive: true }) as string[]).filter((f) => f.endsWith(".ts")).map((f) => `src/${f.split("\\").join("/")}`);
    expect(files.sort()).toEqual(onDisk.sort());
    expect((await edges()).length).toBeGreaterThan(150); // the imports were read, not just the files
  });

  it("every file belongs to a component of the layer table", async () => {
    const files = (await graph()).modules.map((m) => m.source).filter((s) => s.startsWith("src/") && s.endsWith(".ts"));
    expect(files.filter((f) => !componentOf(f))).toEqual([]);
  });

  it("no import from a lower layer to a higher one, nor between components of the same rank", async () => {
    const bad = (await edges())
      .filter(({ from, to }) => {
        const a = componentOf(from)!;
        const b = componentOf(to)!;
        return a !== b && b.rank >= a.rank;
      })
      .map(({ from, to }) => `${from} (${componentOf(from)!.name}) → ${to} (${componentOf(to)!.name})`);
    expect(bad).toEqual([]);
  });

  it("the two arrows the layering forbids by name: kernels never import exec, graph never imports lower", async () => {
    const e = await edges();
    expect(e.filter(({ from, to }) => from.startsWith("src/kernels/") && to.startsWith("src/exec/"))).toEqual([]);
    expect(e.filter(({ from, to }) => from.startsWith("src/graph/") && to.startsWith("src/lower/"))).toEqual([]);
  });

  it("no import cycles", async () => {
    const cycles = (await graph()).summary.violations.filter((v) => v.rule.name === "no-circular").map((v) => [v.from, ...(v.cycle ?? []).map((c) => (typeof c === "string" ? c : c.name))].join(" → "));
    expect(cycles).toEqual([]);
  });

  it("a CLI command imports no other command (shared code lives in cli/common.ts, cli/options.ts or below)", async () => {
    const bad = (await edges()).filter(({ from, to }) => from.startsWith("src/cli/") && to.startsWith("src/cli/") && from !== "src/cli/main.ts" && !CLI_SHARED.test(to));
    expect(bad).toEqual([]);
  });
});
