// The activation planner (src/exec/memplan.ts) in O(L log L): the same offsets as the plain O(L²)
// greedy-by-size it replaced (kept here as the oracle) on random programs and long chains; the
// interval-colouring fallback for graphs with thousands of activations live at once never overlaps two
// live buffers; and the live-bytes bound is the true maximum.

import { describe, expect, it } from "vitest";
import { deployedBytes, liveBytesBound, PAIRS_PER_LAYER, planActivations, type ActivationPlan } from "../../src/exec/memplan.js";
import { validateProgram } from "../../src/ir/validate.js";
import { chainProgram, fanoutProgram, naiveOffsets } from "../../bench/exec/many-layers.js";
import { randomProgram } from "../backends/random-program.js";

/** No two simultaneously live buffers share a byte; the peak is at least the live-bytes bound. */
function checkPlan(plan: ActivationPlan, what: string): void {
  const owners = [...new Set(plan.owner)];
  // Sweep in start order; every buffer is checked against those still live (the plan's own claim is not trusted).
  let active: number[] = [];
  for (const b of owners) {
    active = active.filter((a) => plan.live[a][1] >= plan.live[b][0]);
    for (const a of active) {
      const overlap = plan.offsets[a] < plan.offsets[b] + plan.sizes[b] && plan.offsets[b] < plan.offsets[a] + plan.sizes[a];
      if (overlap) throw new Error(`${what}: live buffers ${a} and ${b} overlap`);
    }
    active.push(b);
  }
  let brute = 0;
  for (let t = 0; t < plan.owner.length; t++) brute = Math.max(brute, owners.filter((b) => plan.live[b][0] <= t && t <= plan.live[b][1]).reduce((s, b) => s + plan.sizes[b], 0));
  expect(liveBytesBound(plan), what).toBe(brute);
  expect(plan.peakBytes, what).toBeGreaterThanOrEqual(liveBytesBound(plan));
}

describe("activation planner, O(L log L)", () => {
  it("gives the O(L²) greedy's offsets on 60 random programs (align 1 and 16)", () => {
    for (let seed = 1; seed <= 60; seed++) {
      const p = randomProgram(seed);
      for (const align of [1, 16]) {
        const plan = planActivations(p, deployedBytes, align);
        expect(plan.method).toBe("greedy-by-size");
        expect(plan.offsets, `program ${seed}, align ${align}`).toEqual(naiveOffsets(p, deployedBytes, align));
        checkPlan(plan, `program ${seed}`);
      }
    }
  });

  it("gives the greedy's offsets on a 3,000-layer chain and on a fan-out just under the pair budget", () => {
    const chain = chainProgram(3000);
    validateProgram(chain, "<chain>");
    expect(planActivations(chain, deployedBytes).offsets).toEqual(naiveOffsets(chain, deployedBytes, 1));
    // K pools of the input consumed one by one: about K²/2 live pairs over 2K + 2 layers.
    const K = 2 * PAIRS_PER_LAYER; // K²/2 = 64·2K < 64·(2K + 2) pairs
    const fan = fanoutProgram(K);
    validateProgram(fan, "<fanout>");
    const plan = planActivations(fan, deployedBytes, 16);
    expect(plan.method).toBe("greedy-by-size");
    expect(plan.offsets).toEqual(naiveOffsets(fan, deployedBytes, 16));
  });

  it("plans a graph with thousands of live activations by slots, without overlap, in the live bound's order", () => {
    const p = fanoutProgram(3000);
    validateProgram(p, "<fanout>");
    const plan = planActivations(p, deployedBytes, 16);
    expect(plan.method).toBe("slots");
    checkPlan(plan, "fanout 3000");
    // Equal buffers of 32 B: the slots are exactly as many as the most buffers live at once.
    expect(plan.peakBytes).toBe(liveBytesBound(plan));
  });
});
