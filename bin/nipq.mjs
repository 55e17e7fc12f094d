#!/usr/bin/env node
// The `nipq` command. The TypeScript sources compile to dist/ (`npm run build`).
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const main = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli", "main.js");
if (!existsSync(main)) {
  process.stderr.write("nipq: not built: run `npm run build` first (dist/cli/main.js is missing)\n");
  process.exit(1);
}
// `nipq inspect m.qmodel | head`: a closed pipe ends the output quietly, as for any Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
}
const { runCli } = await import(pathToFileURL(main).href);
process.exitCode = await runCli(process.argv);
