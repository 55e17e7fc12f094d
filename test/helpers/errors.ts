// The message of the NipqInputError a call throws (and a failure when it throws nothing, or another error).

import { expect } from "vitest";
import { NipqInputError } from "../../src/errors.js";

export function inputErrorMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(NipqInputError);
    return (e as Error).message;
  }
  throw new Error("expected an error");
}
