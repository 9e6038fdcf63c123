/**
 * Where a warm decision's CPU goes: `npm run bench:profile [-- --runs 1000] [--http 20]`.
 *
 * With `--http S`, the decisions come over HTTP instead: the co-signer's service on loopback (rate limits lifted)
 * and 8 closed-loop clients in a process of their own for S seconds (as in bench:cosign's HTTP phase); the profile is
 * of the service's main thread, the CPU of the service's process and its EVM's (not the clients').
 *
 * The demo deployment on a local node, the co-signer in this process, a warm-up, then `runs` sequential decisions
 * under V8's sampling profiler (node:inspector, 100 µs interval). Prints the top ten functions by self time and the
 * CPU per decision of the service's process and of its EVM's process (all threads, EDR's included), and writes
 * bench/results/profile.json (the tables) and bench/results/profile.cpuprofile (profile-http.* with --http; open it in
 * Chrome's DevTools or speedscope). The EVM's process (simulations run there, see src/simulation/evm-host.ts) is
 * profiled too, with V8's --cpu-prof: its top ten come second. Time spent inside EDR's native code on a main thread
 * shows under the JS function that called into it, or as (idle) while EDR's own threads work.
 */
import { Session } from "node:inspector/promises";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { devPrivateKey, LOCAL_ROLES } from "../src/chain/accounts";
import { createCosigner } from "../src/cosigner";
import { deployDemo } from "../src/deploy/demo";
import { startLocalNode } from "../src/devchain/node";
import { CosignerKey } from "../src/signing/signer";
import { loadFigures, runLoad, startService } from "./support/http-load";
import { machine } from "./support/machine";
import { Requests } from "./support/requests";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** `--name value` from the command line, if given. */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Self time per function (name, file, line), in ms, largest first. */
export function selfTimes(profile: CpuProfile): { fn: string; where: string; selfMs: number; share: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    const frame = byId.get(id)!.callFrame;
    const file = frame.url.replace(/^file:\/\//, "").replace(`${process.cwd()}/`, "");
    const key = `${frame.functionName || "(anonymous)"}\t${file ? `${file}:${frame.lineNumber + 1}` : ""}`;
    totals.set(key, (totals.get(key) ?? 0) + dt);
    all += dt;
  });
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([key, ms]) => {
      const [fn, where] = key.split("\t") as [string, string];
      return { fn, where, selfMs: ms, share: ms / all };
    });
}

/** The newest V8 profile in `dir`, once one is there (waits up to 5 s for an exiting process to write it). */
async function newestProfile(dir: string): Promise<CpuProfile | undefined> {
  for (let i = 0; i < 50; i++) {
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).sort();
    } catch {
      // not written yet
    }
    if (files.length > 0) return JSON.parse(readFileSync(path.join(dir, files.at(-1)!), "utf8")) as CpuProfile;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

async function main() {
  const runs = Number(flag("runs") ?? 1000);
  const warmup = Number(flag("warmup") ?? 300);
  const dir = mkdtempSync(path.join(os.tmpdir(), "countersign-profile-"));
  const evmProfiles = path.join(dir, "evm-profiles");
  process.env.COUNTERSIGN_EVM_CPU_PROF = evmProfiles;
  const node = await startLocalNode();
  const session = new Session();
  try {
    const d = await deployDemo(node.url);
    const cosignerKey = CosignerKey.fromPrivateKey(devPrivateKey(LOCAL_ROLES.cosigner));
    const sessionKey = CosignerKey.fromPrivateKey(devPrivateKey(LOCAL_ROLES.sessionKey));
    const requests = new Requests(d, sessionKey, cosignerKey, { amount: 1n, callGasLimit: 1_000_000n, ttlSeconds: 240n });
    const cosigner = await createCosigner({
      upstreamUrl: node.url,
      key: cosignerKey,
      dbPath: path.join(dir, "profile.sqlite"),
      review: { thresholds: new Map(), reviewNewRecipients: false },
      wallets: [d.wallet],
    });
    try {
      // Signed before the clock starts (and outside the profile): the agent's work is not the co-signer's.
      const decide = async (bodies: ReturnType<Requests["batch"]>) => {
        for (const body of bodies) {
          const decision = await cosigner.engine.propose(body);
          if (decision.status !== "approved") throw new Error(`not approved: ${JSON.stringify(decision.reasons)}`);
        }
      };
      const httpSeconds = flag("http") === undefined ? undefined : Number(flag("http"));
      const service = httpSeconds === undefined ? undefined : await startService(cosigner, 1_000_000_000);
      const load = (bodies: string[], durationMs: number) => runLoad({ url: service!.url, bodies, concurrency: 8, durationMs }).then(loadFigures);
      if (service) await load(requests.json(warmup), 60_000);
      else await decide(requests.batch(warmup));
      const bodies = service ? requests.forLoad(httpSeconds!) : requests.batch(runs);
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.setSamplingInterval", { interval: 100 });
      await session.post("Profiler.start");
      const evm0 = (await cosigner.fork.evmUsage()).cpuMicros;
      const cpu = process.cpuUsage();
      const started = performance.now();
      let decided = runs;
      if (service) {
        const figures = await load(bodies as string[], httpSeconds! * 1000);
        if (figures.ok !== figures.sent) throw new Error(`HTTP errors: ${JSON.stringify(figures.errors)}`);
        decided = figures.ok;
        console.log(`HTTP: ${figures.perSecond.toFixed(1)} decisions/s`);
      } else {
        await decide(bodies as ReturnType<Requests["batch"]>);
      }
      const wallMs = performance.now() - started;
      const used = process.cpuUsage(cpu);
      const evmMicros = (await cosigner.fork.evmUsage()).cpuMicros - evm0;
      await service?.app.close();
      const { profile } = (await session.post("Profiler.stop")) as { profile: CpuProfile };
      await cosigner.stop();
      // The EVM's process writes its profile as it exits: the serving one's, which ran the decisions above.
      const evmProfile = await newestProfile(evmProfiles);
      const top = selfTimes(profile).slice(0, 10);
      const evmTop = evmProfile ? selfTimes(evmProfile).slice(0, 10) : [];
      const perDecision = (ms: number) => round(ms / decided);
      const out = {
        generatedAt: new Date().toISOString(),
        machine: machine(),
        mode: service ? `HTTP, 8 clients, ${httpSeconds} s` : "in process, sequential",
        decisions: decided,
        warmup,
        wallMsPerDecision: perDecision(wallMs),
        cpuMsPerDecision: perDecision((used.user + used.system + evmMicros) / 1000),
        serviceCpuMsPerDecision: perDecision((used.user + used.system) / 1000),
        evmCpuMsPerDecision: perDecision(evmMicros / 1000),
        topTenBySelfTime: top.map((t) => ({ fn: t.fn, where: t.where, selfMsPerDecision: perDecision(t.selfMs), share: round(t.share, 3) })),
        // The EVM process's profile spans its whole life (start-up and warm-up too): shares, not ms per decision.
        evmTopTenBySelfTime: evmTop.map((t) => ({ fn: t.fn, where: t.where, share: round(t.share, 3) })),
      };
      console.log(`EVM process (simulations): ${out.evmCpuMsPerDecision} ms CPU per decision; its profile's top ten:`);
      console.table(out.evmTopTenBySelfTime);
      console.log(`${decided} decisions (${out.mode}): ${out.wallMsPerDecision} ms wall, ${out.cpuMsPerDecision} ms CPU (all threads) per decision`);
      console.table(out.topTenBySelfTime);
      const results = path.join(__dirname, "results");
      mkdirSync(results, { recursive: true });
      const name = service ? "profile-http" : "profile";
      writeFileSync(path.join(results, `${name}.json`), JSON.stringify(out, null, 2) + "\n");
      writeFileSync(path.join(results, `${name}.cpuprofile`), JSON.stringify(profile));
      console.log(`wrote bench/results/${name}.json and bench/results/${name}.cpuprofile`);
    } finally {
      await cosigner.stop().catch(() => undefined);
    }
  } finally {
    session.disconnect();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main()
  .then(() => process.exit(0))
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
