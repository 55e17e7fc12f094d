// Queued studies for real: a redis-server on a free loopback port and `nipq worker` processes (bin/nipq.mjs),
// against the in-process run of the same command. Identical JSON and report files with 1, 3 and 5 workers
// (each fetching each blob once); a worker killed with SIGKILL mid-job; Redis restarted (losing everything)
// mid-sweep, and Redis gone for longer than --queue-timeout; a coordinator killed and resumed; poisoned
// payloads; a password; TLS. No wall-clock assertion: waits are for output, bounded
// generously for two loaded cores.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nipq, expectInputError } from "../helpers/cli.js";
import { describeWithPackage, missingPackage, skipOrFail } from "../helpers/debian.js";
import { nipqAsync, selfSignedCert, spawnWorker, startRedis, until, type RedisServer, type WorkerProcess } from "../helpers/redis.js";
import { loadDataset } from "../../src/data/index.js";
import { decodeQModel } from "../../src/ir/qmodel.js";
import { blobKey, sha256 } from "../../src/queue/blobs.js";
import { parseQueueUrl } from "../../src/queue/connection.js";
import { queuedStudies } from "../../src/queue/coordinator.js";
import { jobTrials, validatePayload } from "../../src/queue/jobs.js";
import { writeOnce } from "../../src/queue/store.js";
import { loadHwModel } from "../../src/sim/hw/hwmodel.js";
import { accuracyStudy } from "../../src/sim/study/study.js";
import { runSimJob } from "../../src/sim/study/trials.js";

const MODEL = "models/cnn-s-mnist-nipq-mp.qmodel";
/** A sweep with per-chip and per-inference noise, split into 3 × (clean + 2 trial ranges) × 3 image ranges = 27 jobs. */
const SWEEP = ["sweep", MODEL, "--hw", "int8-systolic-16x16", "--data", "mnist", "--limit", "120", "--trials", "3", "--seed", "7", "--batch", "32", "--vary", "noise.weightGaussian.sigma=0:0.8:3", "--set", "noise.activationBitFlip.ber=0.002"];
const SPLIT = ["--job-images", "50", "--job-trials", "2"];
/** A small simulation: (clean + 2 trials) × 2 image ranges = 6 jobs. */
const SIM = ["simulate", MODEL, "--hw", "int8-systolic-16x16", "--data", "mnist", "--limit", "60", "--trials", "2", "--seed", "3", "--set", "noise.outputGaussian.sigma=0.7", "--job-images", "30"];
/** Slow jobs (the crossbar on plain-TS kernels): (clean + 3 trials) × 2 image ranges. */
const ANALOG = ["simulate", MODEL, "--hw", "analog-pcm-crossbar", "--data", "mnist", "--limit", "40", "--trials", "3", "--seed", "1", "--job-images", "20"];

const tmp = mkdtempSync(join(tmpdir(), "nipq-queue-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => join(tmp, `d${dirs++}`);

/** A simulate document without its timing (the only field that may differ between runs). */
function untimed(json: string): unknown {
  const d = JSON.parse(json) as Record<string, unknown>;
  delete d.seconds;
  return d;
}

function ok(r: { code: number | null; stdout: string; stderr: string }): string {
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stderr}`);
  return r.stdout;
}

/** Every file of a report directory, by name. */
function files(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), "utf8")]));
}

// One block, so a machine without redis-server skips it with one line.
describeWithPackage("redis-server", "queued studies on a real redis-server and nipq workers", () => {
  describe("identical reports, lost workers and coordinators, poisoned jobs", () => {
    let redis: RedisServer;
    let db = 0;
    /** A fresh database per test, so no test sees another's sweep. */
    const url = () => `redis://127.0.0.1:${redis.port}/${++db}`;
    const workers: WorkerProcess[] = [];
    const worker = (u: string, args: string[] = [], env: Record<string, string> = {}) => {
      const w = spawnWorker(u, ["--concurrency", "1", "--cache", newDir(), ...args], env);
      workers.push(w);
      return w;
    };
    const stopAll = async () => {
      await Promise.all(workers.splice(0).map((w) => w.stop()));
    };
    let localSweep: string;
    let localSweepFiles: Record<string, string>;
    let localSim: string;

    beforeAll(async () => {
      redis = await startRedis();
      const out = newDir();
      localSweep = ok(nipq([...SWEEP, "--json", "--out", out]));
      localSweepFiles = files(out);
      localSim = ok(nipq([...SIM, "--json"]));
    });
    afterAll(async () => {
      await stopAll();
      await redis?.stop();
    });

    it("1, 3 and 5 workers give the in-process JSON and report files exactly (sweep and simulate); each worker fetches each blob once", async () => {
      for (const n of [1, 3, 5]) {
        const u = url();
        for (let i = 0; i < n; i++) await worker(u).waitFor(/nipq worker .* on redis:/);
        const out = newDir();
        expect(ok(await nipqAsync([...SWEEP, ...SPLIT, "--queue", u, "--json", "--out", out]).done)).toBe(localSweep);
        expect(files(out)).toEqual(localSweepFiles);
        expect(untimed(ok(await nipqAsync([...SIM, "--queue", u, "--json"]).done))).toEqual(untimed(localSim));
        // Every job ran once (27 + 6 results); with 3 workers they spread over more than one.
        const done = () => workers.map((w) => w.count("done "));
        await until(() => done().reduce((a, b) => a + b, 0) >= 27 + 6, "33 done lines");
        expect(done().reduce((a, b) => a + b, 0)).toBe(27 + 6);
        if (n > 1) expect(done().filter((d) => d > 0).length).toBeGreaterThan(1);
        // Blobs: the model, 3 + 1 hw-models, images and labels of 120 and of 60 images; a worker that ran
        // jobs fetched what they named, each blob once.
        for (const w of workers) {
          const fetched = w.output().split("\n").filter((l) => l.startsWith("fetched ")).map((l) => l.split(" ")[1]);
          expect(new Set(fetched).size).toBe(fetched.length);
          expect(fetched.length).toBeLessThanOrEqual(9);
          if (w.count("done ") > 0) expect(fetched.length).toBeGreaterThanOrEqual(4);
        }
        await stopAll();
      }
    }, 600_000);

    it("progress comes from job results: 0 before any worker, then each result in Redis, up to every job", async () => {
      const u = url();
      const hw = loadHwModel("int8-systolic-16x16", ["noise.outputGaussian.sigma=0.7"]).hw;
      const data = loadDataset("mnist", "test", 60);
      const modelBytes = readFileSync(MODEL);
      const o = { seed: 3, trials: 4, batch: 64 };
      const calls: [number, number][] = [];
      const run = queuedStudies({ queue: parseQueueUrl(u), modelBytes, points: [hw], data, ...o, jobTrials: 1, jobImages: 20, resume: false, timeoutS: 120, onProgress: (done, total) => calls.push([done, total]) });
      const r = new Redis(u);
      const queue = new Queue("sim", { connection: r, prefix: "nipq" });
      try {
        // (clean + 4 trials) × 3 image ranges; no worker yet, so nothing is done.
        await until(() => calls.length >= 2, "two polls");
        expect(calls.slice(0, 2)).toEqual([[0, 15], [0, 15]]);
        // One result written by hand, as a worker would: the next polls count it.
        const [job] = await queue.getJobs(["waiting"], 0, 0);
        const { sweep, key, payload: p } = validatePayload(job.data, job.id);
        const program = decodeQModel(modelBytes, MODEL);
        expect(await writeOnce(r, sweep, "results", key, runSimJob({ program, data, seed: o.seed, batch: o.batch }, { hw, trials: jobTrials(p), from: p.from, to: p.to }))).toBe(1);
        await until(() => calls.at(-1)![0] === 1, "a poll counting the result");
        worker(u);
        const studies = await run;
        expect(studies).toEqual([await accuracyStudy(program, hw, data, { ...o, workers: 1 })]);
        expect(calls.every(([, total]) => total === 15)).toBe(true);
        expect(calls.every(([done], i) => i === 0 || done >= calls[i - 1][0])).toBe(true);
        expect(calls.at(-1)).toEqual([15, 15]);
      } finally {
        await queue.close();
        r.disconnect();
        await stopAll();
      }
    }, 600_000);

    it("a worker killed with SIGKILL mid-job loses nothing: its job goes to another worker after the stall timeout and counts once", async () => {
      const u = url();
      const local = ok(nipq([...ANALOG, "--json"]));
      const run = nipqAsync([...ANALOG, "--queue", u, "--json"]);
      const a = worker(u, ["--stall-timeout", "3"]);
      const [, key] = await a.waitFor(/^start \w+ (p\S+)$/m);
      a.proc.kill("SIGKILL");
      await new Promise((r) => a.proc.once("exit", r));
      expect(a.output()).not.toMatch(new RegExp(`^done \\w+ ${key.replace(/[.]/g, "\\.")}:`, "m"));
      const b = worker(u, ["--stall-timeout", "3"]);
      const r = await run.done;
      expect(untimed(ok(r))).toEqual(untimed(local));
      // The killed job was run again by the second worker.
      expect(b.output()).toMatch(new RegExp(`^done \\w+ ${key.replace(/[.]/g, "\\.")}:`, "m"));
      await stopAll();
    }, 600_000);

    it("a coordinator killed mid-sweep is picked up with --resume (and only with it)", async () => {
      const u = url();
      const w = worker(u);
      const first = nipqAsync([...SWEEP, ...SPLIT, "--queue", u]);
      await until(() => w.count("done ") >= 4, "4 jobs done");
      first.proc.kill("SIGKILL");
      await first.done;
      const again = nipq([...SWEEP, ...SPLIT, "--queue", u, "--json"]);
      expectInputError(again, /sweep \w{12} \(these inputs\) is already there, started .* add --resume to pick it up/);
      const out = newDir();
      expect(ok(nipq([...SWEEP, ...SPLIT, "--queue", u, "--resume", "--json", "--out", out]))).toBe(localSweep);
      expect(files(out)).toEqual(localSweepFiles);
      // Finished: nothing of the sweep is left, so the same command starts afresh and --resume has nothing to pick up.
      expectInputError(nipq([...SWEEP, ...SPLIT, "--queue", u, "--resume", "--json"]), /--resume: no sweep \w{12} \(these inputs\) in redis:/);
      await stopAll();
    }, 600_000);

    it("a poisoned payload fails the run with the job's one line (exit 2); the worker touches no file outside its cache", async () => {
      const target = join(tmp, "escape");
      const cases: [string, (data: Record<string, unknown>, r: Redis) => Promise<void>, RegExp][] = [
        ["a path for a model address", async (d) => void (d.model = `../../../../../..${target}`), /^nipq: job p\d+\.\S+: payload: model: must match pattern "\^\[0-9a-f\]\{64\}\$", found "\.\.\/\.\.\/.*" \(worker .*\)$/],
        [
          "a hw-model blob the schema refuses",
          async (d, r) => {
            const doc = JSON.parse(JSON.stringify(loadHwModel("int8-systolic-16x16").hw)) as Record<string, Record<string, unknown>>;
            doc.noise.weightGaussian = { sigma: -1, unit: "lsb" };
            const bytes = Buffer.from(JSON.stringify(doc));
            await r.set(blobKey(sha256(bytes)), bytes);
            d.hw = sha256(bytes);
          },
          /^nipq: job p\d+\.\S+: hw-model blob [0-9a-f]{12}: noise\.weightGaussian\.sigma: expected a number >= 0, found -1 \(worker .*\)$/,
        ],
      ];
      for (const [, poison, pattern] of cases) {
        const u = url();
        const r = new Redis(u);
        const queue = new Queue("sim", { connection: r, prefix: "nipq" });
        try {
          const run = nipqAsync([...SIM, "--queue", u, "--json"]);
          // No worker yet: wait for the 6 jobs, poison one, then let a worker at them.
          while ((await queue.getWaitingCount()) < 6) await new Promise((res) => setTimeout(res, 100));
          const [job] = await queue.getJobs(["waiting"], 0, 0);
          const data = { ...(job.data as Record<string, unknown>) };
          await poison(data, r);
          await job.updateData(data);
          const cache = newDir();
          const w = worker(u, ["--cache", cache]);
          const res = await run.done;
          expectInputError({ code: res.code ?? -1, stdout: res.stdout, stderr: res.stderr }, pattern);
          await w.waitFor(/^failed /m);
          // The failed sweep removed its jobs and its keys.
          expect(await queue.getWaitingCount()).toBe(0);
          expect(await r.keys("nipq:sweep:*")).toEqual([]);
          expect(existsSync(target)).toBe(false);
          if (existsSync(cache)) expect(readdirSync(cache).every((f) => /^[0-9a-f]{64}$/.test(f))).toBe(true);
          await stopAll();
        } finally {
          await queue.close();
          r.disconnect();
        }
      }
    }, 600_000);
  });

  describe("a sweep while Redis restarts without persistence", () => {
    it("resumes: the coordinator publishes the sweep again, the workers reconnect, the report is the in-process one", async () => {
      const redis = await startRedis();
      const u = `redis://127.0.0.1:${redis.port}`;
      const w = spawnWorker(u, ["--concurrency", "1", "--cache", newDir()]);
      try {
        const local = newDir();
        ok(nipq([...SWEEP, "--out", local]));
        await w.waitFor(/nipq worker .* on redis:/);
        const out = newDir();
        // 54 small jobs, so the restart falls well inside the sweep.
        const run = nipqAsync([...SWEEP, "--job-images", "20", "--job-trials", "2", "--queue", u, "--out", out]);
        await until(() => w.count("done ") >= 5, "5 jobs done");
        await redis.restart();
        const r = await run.done;
        ok(r);
        expect(r.stderr).toMatch(/warning: sweep \w{12}: Redis lost its state .* publishing it again/);
        expect(files(out)).toEqual(files(local));
      } finally {
        await w.stop();
        await redis.stop();
      }
    }, 600_000);
  });

  describe("Redis gone for longer than --queue-timeout", () => {
    it("fails cleanly: exit 1, one line saying --resume picks the sweep up, no report written", async () => {
      const redis = await startRedis();
      const u = `redis://127.0.0.1:${redis.port}`;
      const w = spawnWorker(u, ["--concurrency", "1", "--cache", newDir()]);
      try {
        await w.waitFor(/nipq worker .* on redis:/);
        const out = newDir();
        const run = nipqAsync([...SWEEP, "--job-images", "20", "--job-trials", "2", "--queue", u, "--queue-timeout", "2", "--out", out]);
        await until(() => w.count("done ") >= 3, "3 jobs done");
        await redis.stop();
        const r = await run.done;
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr.split("\n").filter((l) => l.startsWith("nipq:"))).toEqual([
          expect.stringMatching(/^nipq: queue redis:\/\/127\.0\.0\.1:\d+: no answer from Redis for 2 s \(.*\); sweep \w{12} stays there if Redis kept it: the same command with --resume picks it up$/),
        ]);
        expect(existsSync(out)).toBe(false);
        // Redis back (empty): the worker, stopped at once, still finishes and exits 0.
        await redis.restart();
        expect((await w.stop()).code).toBe(0);
      } finally {
        await w.stop();
        await redis.stop();
      }
    }, 600_000);
  });

  describe("Redis with a password and with TLS", () => {
    let local: string;
    beforeAll(() => {
      local = ok(nipq([...SIM, "--json"]));
    });

    it("requirepass: the password in the URL or in NIPQ_REDIS_PASSWORD works; a wrong or missing one is one line, exit 2", async () => {
      const redis = await startRedis({ password: "s3cret pass" });
      const u = `redis://127.0.0.1:${redis.port}`;
      const w = spawnWorker(`redis://:s3cret%20pass@127.0.0.1:${redis.port}`, ["--concurrency", "1", "--cache", newDir()]);
      try {
        await w.waitFor(/nipq worker .* on redis:\/\/:\*\*\*@127\.0\.0\.1/);
        expect(w.output()).not.toMatch(/s3cret/);
        expect(untimed(ok(nipq([...SIM, "--queue", u, "--json"], { env: { NIPQ_REDIS_PASSWORD: "s3cret pass" } })))).toEqual(untimed(local));
        const wrong = nipq([...SIM, "--queue", `redis://:nope@127.0.0.1:${redis.port}`, "--json"]);
        expectInputError(wrong, /^nipq: --queue redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: authentication failed/);
        expectInputError(nipq([...SIM, "--queue", u, "--json"]), /^nipq: --queue redis:\/\/127\.0\.0\.1:\d+: the server requires a password/);
        expectInputError(nipq(["worker", "--queue", `redis://:nope@127.0.0.1:${redis.port}`]), /authentication failed/);
      } finally {
        await w.stop();
        await redis.stop();
      }
    }, 600_000);

    it("rediss:// with a self-signed certificate trusted through NODE_EXTRA_CA_CERTS; refused without it", async (ctx) => {
      const why = missingPackage("openssl");
      if (why) return skipOrFail(ctx, why);
      const cert = selfSignedCert();
      let redis: RedisServer | undefined;
      let w: WorkerProcess | undefined;
      try {
        // Debian's redis-server is built with TLS; one built without it fails here, saying so.
        redis = await startRedis({ tls: { cert: cert.cert, key: cert.key, ca: cert.cert } });
        const u = `rediss://127.0.0.1:${redis.port}`;
        const env = { NODE_EXTRA_CA_CERTS: cert.cert };
        w = spawnWorker(u, ["--concurrency", "1", "--cache", newDir()], env);
        await w.waitFor(/nipq worker .* on rediss:/);
        expect(untimed(ok(nipq([...SIM, "--queue", u, "--json"], { env })))).toEqual(untimed(local));
        expectInputError(nipq([...SIM, "--queue", u, "--json"]), /^nipq: --queue rediss:\/\/127\.0\.0\.1:\d+: .*self[- ]signed certificate/);
      } finally {
        await w?.stop();
        await redis?.stop();
        cert.cleanup();
      }
    }, 600_000);
  });
});
