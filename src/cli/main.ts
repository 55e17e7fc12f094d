// The `nipq` command line (DESIGN.md §5). Exit codes: 0 success; 2 bad input or usage, with one line
// `nipq: <what>: <why>` on stderr and no stack trace (unless --debug); 1 a failed service (ServiceError: one
// line too) or anything else ("internal error").

import { Command, CommanderError } from "commander";
import { NipqInputError, ServiceError } from "../errors.js";
import { printable } from "./common.js";
import { exportCommand } from "./export.js";
import { exportOnnxCommand } from "./export-onnx.js";
import { importCommand } from "./import.js";
import { demoCommand } from "./demo.js";
import { initCommand } from "./init.js";
import { inspectCommand } from "./inspect.js";
import { lowerCommand } from "./lower.js";
import { runCommand } from "./run.js";
import { simulateCommand } from "./simulate.js";
import { sweepCommand } from "./sweep.js";
import { trainCommand } from "./train.js";
import { workerCommand } from "./worker.js";

/** Builds the program with every command registered. */
export function buildProgram(): Command {
  const program = new Command("nipq")
    .description("NIPQ-trained networks → integer-only programs → WASM SIMD kernels, simulated accelerators, edge bundles")
    .option("--debug", "print stack traces on errors")
    .showHelpAfterError(false)
    .enablePositionalOptions(false);
  program.addCommand(demoCommand());
  program.addCommand(lowerCommand());
  program.addCommand(importCommand());
  program.addCommand(inspectCommand());
  program.addCommand(runCommand());
  program.addCommand(trainCommand());
  program.addCommand(initCommand());
  program.addCommand(exportCommand());
  program.addCommand(exportOnnxCommand());
  program.addCommand(simulateCommand());
  program.addCommand(sweepCommand());
  program.addCommand(workerCommand());
  return program;
}

/** The first line of an error message, without commander's "error:" and safe for a terminal. */
function oneLine(s: string): string {
  return printable(s.replace(/^error:\s*/i, "").split("\n")[0].trim());
}

/** Runs the CLI on process.argv-style arguments and returns the exit code (never calls process.exit). */
export async function runCli(argv: string[]): Promise<number> {
  const debug = argv.includes("--debug");
  const program = buildProgram();
  const configure = (c: Command) => {
    c.exitOverride();
    // Errors are printed once, as one line, below; the help commander prints after some errors is not.
    c.configureOutput({ outputError: () => {}, writeErr: () => {} });
    c.commands.forEach(configure);
  };
  configure(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
      if (e.code === "commander.help" && e.exitCode === 0) return 0;
      if (e.code === "commander.executeSubCommandAsync") return 0;
      if (e.code === "commander.help") {
        // `nipq` alone: commander shows the help as an error; say what is missing instead.
        process.stderr.write(`nipq: missing command: expected one of ${program.commands.map((c) => c.name()).join(", ")} (nipq --help explains them)\n`);
        return 2;
      }
      process.stderr.write(`nipq: ${oneLine(e.message)}\n`);
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof NipqInputError || e instanceof ServiceError) {
      process.stderr.write(`nipq: ${oneLine(e.message)}\n`);
      if (debug) process.stderr.write(`${e.stack}\n`);
      return e instanceof ServiceError ? 1 : 2;
    }
    const err = e as Error;
    process.stderr.write(`nipq: internal error: ${oneLine(err?.message ?? String(e))}${debug ? "" : " (run with --debug for the stack trace)"}\n`);
    if (debug) process.stderr.write(`${err?.stack}\n`);
    return 1;
  }
}
