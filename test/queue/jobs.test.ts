// The queue's pure parts, without Redis: job functions over image ranges add up to the whole run on every
// execution path, the plan covers each (point, trial, image) once, payloads are validated like any input
// (content addresses are hex, never paths), results gather to the in-process numbers in any order, queue
// URLs never show their password, and blobs decode through the same validators as files.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadDataset, limitDataset } from "../../src/data/index.js";
import { NipqInputError } from "../../src/errors.js";
import { ChunkPool } from "../../src/exec/workers.js";
import { readFileChecked } from "../../src/fsutil.js";
import { decodeQModel } from "../../src/ir/qmodel.js";
import { cachePath, readCached, sha256 } from "../../src/queue/blobs.js";
import { COMPUTE_URL, type ComputeInit } from "../../src/queue/compute.js";
import { parseQueueUrl } from "../../src/queue/connection.js";
import { decodeData, decodeHw, decodeModel, encodeData, encodeHw } from "../../src/queue/content.js";
import { NIPQ_VERSION, gatherStudies, jobKey, jobTrials, planJobs, sweepId, validatePayload, type JobPayload, type StudyPlan } from "../../src/queue/jobs.js";
import { runTrial } from "../../src/sim/chip/run.js";
import { loadHwModel, validateHwModel, withSet, type HwModel } from "../../src/sim/hw/hwmodel.js";
import { noiseActive } from "../../src/sim/hw/resolve.js";
import { accuracyStudy } from "../../src/sim/study/study.js";
import { runSimJob } from "../../src/sim/study/trials.js";
import { expectInputError, nipq } from "../helpers/cli.js";

const MODEL = "models/cnn-s-mnist-nipq-mp.qmodel";
const modelBytes = readFileChecked(MODEL);
const program = decodeQModel(modelBytes, MODEL);
const data = limitDataset(loadDataset("mnist", "test"), 90);
const set = (hw: HwModel, kv: [string, number | string][]) => kv.reduce((h, [k, v]) => withSet(h, k.split("."), v), hw);
const digital = loadHwModel("int8-systolic-16x16").hw;

/** Image splits with ranges of odd sizes, including a one-image range. */
const SPLITS: [number, number][][] = [
  [[0, 90]],
  [[0, 1], [1, 38], [38, 64], [64, 90]],
];

describe("the job function over image ranges", () => {
  // The cases take different execution paths of runChip: the plain WASM program (weight noise only), the
  // WASM fast path with per-inference noise, a 12-bit saturating accumulator (chip semantics), and the
  // analog crossbar (plain-TS kernels, MACs on WASM). Keying a draw by its place in the range instead of
  // its dataset index fails every case with per-inference noise.
  const CASES: [string, HwModel, number][] = [
    ["digital, per-chip weight noise (WASM program)", set(digital, [["noise.weightGaussian.sigma", 0.6]]), 90],
    ["digital, per-inference noise (fast path)", set(digital, [["noise.activationBitFlip.ber", 0.003], ["noise.outputGaussian.sigma", 0.8], ["noise.accumulatorBitFlip.ber", 0.0005]]), 90],
    ["digital, narrow saturating accumulator (chip semantics)", set(digital, [["accumulator.bits", 12], ["accumulator.overflow", "saturate"], ["noise.activationBitFlip.ber", 0.01]]), 90],
    ["analog PCM crossbar with read noise", set(loadHwModel("analog-pcm-crossbar").hw, [["noise.pcm.perReadSigma", 0.02]]), 24],
  ];
  for (const [name, hw, n] of CASES) {
    it(`${name}: counts over any split add up to the whole, per trial and for the clean chip`, () => {
      const d = limitDataset(data, n);
      const ctx = { program, data: d, seed: 5, batch: 16 };
      const trials = [null, 0, 3];
      const whole = runSimJob(ctx, { hw, trials, from: 0, to: n });
      // The whole equals the in-process trial (same function the local study runs).
      expect(whole.map((c) => c / n)).toEqual(trials.map((t) => runTrial(program, hw, d, 5, t, 16)));
      const split = SPLITS[1].map(([a, b]) => [Math.min(a, n), Math.min(b, n)] as [number, number]).filter(([a, b]) => b > a);
      const sums = trials.map(() => 0);
      for (const [from, to] of split) runSimJob({ ...ctx, batch: 7 }, { hw, trials, from, to }).forEach((c, i) => (sums[i] += c));
      expect(sums).toEqual(whole);
      // With noise on, trials differ from each other somewhere (the split is not comparing constants).
      if (noiseActive(hw)) expect(new Set(whole.slice(1)).size + new Set([whole[0], whole[1]]).size).toBeGreaterThan(2);
    });
  }
});

function plan(over: Partial<StudyPlan> = {}): StudyPlan {
  return { hw: [sha256(new Uint8Array([1])), sha256(new Uint8Array([2])), sha256(new Uint8Array([3]))], active: [true, false, true], model: sha256(new Uint8Array([4])), images: sha256(new Uint8Array([5])), labels: sha256(new Uint8Array([6])), n: 90, seed: 3, trials: 5, batch: 64, jobTrials: 2, jobImages: 37, ...over };
}

describe("the plan", () => {
  it("covers every (point, clean or trial, image) exactly once, and noise-free points only with the clean chip", () => {
    const p = plan();
    const jobs = planJobs(p);
    const seen = new Map<string, number>();
    for (const j of jobs)
      for (const t of jobTrials(j).map((t) => t ?? "c"))
        for (let i = j.from; i < j.to; i++) seen.set(`${j.point}/${t}/${i}`, (seen.get(`${j.point}/${t}/${i}`) ?? 0) + 1);
    const expected = (1 + 5) * 90 * 2 + 90; // two noisy points (clean + 5 trials), one noise-free point (clean)
    expect(seen.size).toBe(expected);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    expect(new Set(jobs.map(jobKey)).size).toBe(jobs.length);
    expect(jobs.filter((j) => j.point === 1).every((j) => j.trials === null)).toBe(true);
    // 3 image ranges (37, 37, 16); trials in ranges of 2: [0,2), [2,4), [4,5).
    expect(jobs.filter((j) => j.point === 0).map(jobKey)).toEqual(["c", "t0-2", "t2-4", "t4-5"].flatMap((t) => ["i0-37", "i37-74", "i74-90"].map((i) => `p0.${t}.${i}`)));
  });

  it("the sweep id changes with every input and only with them", () => {
    const base = sweepId(plan());
    expect(sweepId(plan())).toBe(base);
    for (const over of [{ seed: 4 }, { trials: 6 }, { n: 89 }, { jobImages: 36 }, { jobTrials: 1 }, { batch: 32 }, { active: [true, true, true] }, { model: sha256(new Uint8Array([9])) }, { labels: sha256(new Uint8Array([9])) }])
      expect(sweepId(plan(over))).not.toBe(base);
  });
});

describe("job payloads are validated like any input", () => {
  const good = planJobs(plan())[5];
  const sweep = "a".repeat(64);
  const id = `${sweep}.${jobKey(good)}`;
  it("accepts a job of the plan", () => {
    expect(validatePayload(structuredClone(good), id)).toEqual({ sweep, key: jobKey(good), payload: good });
  });
  const bad: [string, (p: Record<string, unknown>) => void, RegExp][] = [
    ["a path instead of a content address", (p) => (p.model = "../../../../etc/passwd"), /payload: model: must match pattern .*found "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd"/],
    ["an absolute path", (p) => (p.hw = "/etc/passwd"), /payload: hw: must match pattern/],
    ["upper-case hex", (p) => (p.images = "A".repeat(64)), /payload: images: must match pattern/],
    ["a field too many", (p) => (p.file = "/tmp/x"), /payload: file: must NOT have additional properties/],
    ["a missing field", (p) => delete p.seed, /payload: seed: must have required property 'seed', found nothing/],
    ["an empty trial range", (p) => (p.trials = [3, 3]), /payload: trials: expected \[t0, t1\) with t1 > t0, found \[3, 3\]/],
    ["an empty image range", (p) => ((p.from = 40), (p.to = 40)), /payload: from, to: expected from < to, found 40, 40/],
    ["a fractional batch", (p) => (p.batch = 1.5), /payload: batch: must be integer, found 1.5/],
    ["a negative seed", (p) => (p.seed = -1), /payload: seed: must be >= 0, found -1/],
    ["another payload version", (p) => (p.v = 2), /payload: v: must be equal to constant, found 2/],
    ["a job of another nipq version", (p) => (p.nipq = "0.0.9"), /made by nipq "0\.0\.9", this worker runs nipq \d+\.\d+\.\d+: run workers of the coordinator's version/],
    ["a payload that is another job than its id", (p) => (p.point = 2), /describes job p2\..*not the job its id names/],
  ];
  for (const [what, mutate, pattern] of bad)
    it(`rejects ${what} with one line`, () => {
      const p = structuredClone(good) as unknown as Record<string, unknown>;
      mutate(p);
      expect(() => validatePayload(p, id)).toThrow(NipqInputError);
      expect(() => validatePayload(p, id)).toThrow(pattern);
    });
  it("rejects job ids no coordinator makes", () => {
    for (const badId of [undefined, "1", `${sweep}:p0.c.i0-1`, `../${sweep}.p0.c.i0-1`, `${sweep}.p0.c.i0-1/x`]) expect(() => validatePayload(good, badId)).toThrow(/id: expected <64 hex>/);
  });
  it("cache paths are <dir>/<64 hex> and nothing else", () => {
    expect(cachePath("/c", "0".repeat(64))).toBe(`/c/${"0".repeat(64)}`);
    for (const s of ["../x", "/etc/passwd", "0".repeat(63), `${"0".repeat(64)}/..`, "g".repeat(64)]) expect(() => cachePath("/c", s)).toThrow(/expected 64 lowercase hex digits/);
  });
});

describe("gathering results", () => {
  it("gives the in-process study's numbers exactly, in any order of results, from counts over image ranges", async () => {
    const hws = [set(digital, [["noise.weightGaussian.sigma", 0.7], ["noise.activationBitFlip.ber", 0.002]]), digital];
    const p: StudyPlan = { ...plan({ n: data.n, trials: 3, jobTrials: 2, jobImages: 41 }), hw: hws.map((h) => sha256(encodeHw(h))), active: hws.map(noiseActive) };
    const results = new Map<string, unknown>();
    for (const j of planJobs(p)) {
      const hw = hws[j.point];
      results.set(jobKey(j), runSimJob({ program, data, seed: 3, batch: 64 }, { hw, trials: jobTrials(j), from: j.from, to: j.to }));
    }
    const local = await Promise.all(hws.map((hw) => accuracyStudy(program, hw, data, { seed: 3, trials: 3, workers: 1, batch: 64 })));
    const keys = [...results.keys()];
    for (const order of [keys, [...keys].reverse(), keys.map((k, i) => keys[(i * 7) % keys.length])]) {
      expect(new Set(order).size).toBe(keys.length);
      const gathered = gatherStudies(p, new Map(order.map((k) => [k, results.get(k)])));
      expect(JSON.stringify(gathered)).toBe(JSON.stringify(local));
    }
  });

  it("refuses to gather a missing, an extra or a malformed result", () => {
    const p = plan({ trials: 2, jobTrials: 1, jobImages: 90, active: [true, true, true] });
    const full = new Map<string, unknown>(planJobs(p).map((j) => [jobKey(j), [1]]));
    const without = new Map(full);
    without.delete("p1.t1-2.i0-90");
    expect(() => gatherStudies(p, without)).toThrow(/1 of 9 job results are missing \(first: p1\.t1-2\.i0-90\)/);
    expect(() => gatherStudies(p, new Map([...full, ["p9.c.i0-90", [1]]]))).toThrow(/1 results belong to no job/);
    for (const v of [[91], [-1], [1.5], [1, 2], "1", null]) expect(() => gatherStudies(p, new Map([...full, ["p0.c.i0-90", v]]))).toThrow(/queue result p0\.c\.i0-90: expected 1 counts in \[0, 90\]/);
  });
});

describe("queue URLs", () => {
  it("parses host, port, db, password and TLS; never shows the password", () => {
    expect(parseQueueUrl("redis://127.0.0.1:6390/2", {})).toEqual({ host: "127.0.0.1", port: 6390, db: 2, username: undefined, password: undefined, tls: false, shown: "redis://127.0.0.1:6390/2" });
    const q = parseQueueUrl("rediss://:s%40cret@redis.example:7000", {});
    expect([q.password, q.tls, q.port, q.db, q.shown]).toEqual(["s@cret", true, 7000, 0, "rediss://:***@redis.example:7000"]);
    expect(parseQueueUrl("redis://h", {}).port).toBe(6379);
    expect(parseQueueUrl("redis://h", { NIPQ_REDIS_PASSWORD: "pw" }).password).toBe("pw");
    expect(parseQueueUrl("redis://u:p@[::1]:1", {}).host).toBe("::1");
  });
  for (const [spec, pattern] of [
    ["localhost:6379", /expected redis:\/\//],
    ["http://h:1", /unsupported scheme "http"/],
    ["redis://:pw@h:1/x", /^--queue redis:\/\/:\*\*\*@h:1\/x: the database must be a number/],
    ["redis://:pw@h:1?db=2", /query strings/],
    ["not a url :pw@", /found "not a url :\*\*\*@"/],
  ] as [string, RegExp][])
    it(`rejects ${spec} with a usage error that does not show a password`, () => {
      expect(() => parseQueueUrl(spec, {})).toThrow(pattern);
      try {
        parseQueueUrl(spec, {});
      } catch (e) {
        expect((e as Error).message).not.toMatch(/pw/);
      }
    });
});

describe("the queue options on the command line", () => {
  it("an empty --queue is a usage error, not an in-process run; --resume needs --queue", () => {
    const sim = ["simulate", MODEL, "--hw", "int8-systolic-16x16", "--data", "mnist", "--limit", "10", "--trials", "1", "--json"];
    const sweep = ["sweep", MODEL, "--hw", "int8-systolic-16x16", "--data", "mnist", "--limit", "10", "--trials", "1", "--vary", "noise.weightGaussian.sigma=0:1:2", "--json"];
    for (const cmd of [sim, sweep]) {
      expectInputError(nipq([...cmd, "--queue", ""]), /^nipq: --queue: expected redis:\/\/.*, found ""$/);
      expectInputError(nipq([...cmd, "--queue", "http://h:1"]), /unsupported scheme "http"/);
      expectInputError(nipq([...cmd, "--resume"]), /^nipq: --resume: only with --queue/);
    }
    expectInputError(nipq(["worker", "--queue", ""]), /^nipq: --queue: expected redis:\/\/.*, found ""$/);
  });

  it("worker --cache naming an existing file is refused before any connection (port 1 would refuse it)", () => {
    const file = join(mkdtempSync(join(tmpdir(), "nipq-cache-")), "a-file");
    writeFileSync(file, "keep");
    expectInputError(nipq(["worker", "--queue", "redis://127.0.0.1:1", "--cache", file]), /^nipq: .*a-file: cannot create directory: a file of that name exists$/);
    expect(readFileSync(file, "utf8")).toBe("keep");
  });
});

describe("blobs decode through the validators of files", () => {
  it("a hw-model blob is checked by the hw-model schema, with the same message as a file", () => {
    const doc = JSON.parse(JSON.stringify(digital)) as Record<string, Record<string, unknown>>;
    doc.noise.weightGaussian = { sigma: -1, unit: "lsb" };
    const bytes = new TextEncoder().encode(JSON.stringify(doc));
    const sha = sha256(bytes);
    let fileMessage = "";
    try {
      validateHwModel(structuredClone(doc), "X");
    } catch (e) {
      fileMessage = (e as Error).message;
    }
    expect(fileMessage).toMatch(/^X: noise\.weightGaussian\.sigma: expected a number >= 0, found -1$/);
    expect(() => decodeHw(bytes, sha)).toThrow(`hw-model blob ${sha.slice(0, 12)}${fileMessage.slice(1)}`);
    expect(() => decodeHw(new TextEncoder().encode("[1]"), sha)).toThrow(/expected a JSON object/);
    expect(() => decodeHw(new Uint8Array([0xff, 0xfe]), sha)).toThrow(/not valid JSON/);
    expect(decodeHw(encodeHw(digital), sha)).toEqual(digital);
  });

  it("a model blob is checked by the .qmodel decoder; dataset blobs by the IDX reader and against the model", () => {
    const sha = sha256(modelBytes);
    expect(decodeModel(modelBytes, sha).layers.length).toBe(program.layers.length);
    const cut = modelBytes.slice(0, modelBytes.length - 5);
    expect(() => decodeModel(cut, sha)).toThrow(new RegExp(`^model blob ${sha.slice(0, 12)}: `));
    const e = encodeData(data);
    const shas = { images: sha256(e.images), labels: sha256(e.labels) };
    const d = decodeData(e.images, e.labels, shas, program);
    expect([d.n, Buffer.from(d.images).equals(Buffer.from(data.images)), Buffer.from(d.labels).equals(Buffer.from(data.labels))]).toEqual([90, true, true]);
    expect(() => decodeData(e.labels, e.labels, shas, program)).toThrow(/images blob .*: dims: expected \[n, 784\]/);
    expect(() => decodeData(e.images, encodeData(limitDataset(data, 89)).labels, shas, program)).toThrow(/labels blob .*: dims: expected \[90\] \(one label per image\), found \[89\]/);
    expect(() => decodeData(e.images.slice(0, 100), e.labels, shas, program)).toThrow(/images blob .*: data: expected/);
  });
});

describe("the worker's compute threads", () => {
  it("run jobs from the cache concurrently on the exec pool (threads even for one), and a changed cache file is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nipq-cache-"));
    try {
      const hw = set(digital, [["noise.outputGaussian.sigma", 0.6]]);
      const e = encodeData(data);
      const blobs = [modelBytes, encodeHw(hw), e.images, e.labels];
      const [model, hwSha, images, labels] = blobs.map((b) => {
        const s = sha256(b);
        writeFileSync(cachePath(dir, s), b);
        return s;
      });
      const job = (trials: [number, number] | null, from: number, to: number): JobPayload => ({ v: 1, nipq: NIPQ_VERSION, point: 0, model, hw: hwSha, images, labels, seed: 2, batch: 32, trials, from, to });
      for (const workers of [1, 2]) {
        const pool = await ChunkPool.start<ComputeInit, JobPayload, number[]>({ module: COMPUTE_URL, init: { cacheDir: dir }, workers, threads: true });
        try {
          expect(pool.size).toBe(workers);
          const rs = await Promise.all([job([0, 2], 0, 50), job([0, 2], 50, 90), job(null, 0, 90), job([0, 2], 0, 90)].map((j) => pool.submit(j)));
          expect(rs[3]).toEqual(runSimJob({ program, data, seed: 2, batch: 64 }, { hw, trials: [0, 1], from: 0, to: 90 }));
          expect(rs[0].map((c, i) => c + rs[1][i])).toEqual(rs[3]);
          await expect(pool.submit(job(null, 0, 91))).rejects.toThrow(/payload: to: expected at most 90/);
        } finally {
          await pool.close();
        }
      }
      writeFileSync(cachePath(dir, hwSha), "{}");
      expect(() => readCached(dir, hwSha)).toThrow(/does not hash to its name/);
      expect(readdirSync(dir)).not.toContain(hwSha);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
