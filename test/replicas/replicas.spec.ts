/**
 * Three co-signer replicas (three processes, each with its own fork of one local chain) on one PostgreSQL store
 * (DATABASE_URL, a fresh schema per run): never two signatures for one nonce, one audit chain, and a crash of a
 * replica or of the database loses no answered decision. Without DATABASE_URL the suite says how to run it.
 */
import { expect } from "chai";
import { execSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { randomWord } from "../../bench/support/requests";
import { deployDemo, type DemoDeployment } from "../../src/deploy/demo";
import { writeDeploymentFile } from "../../src/deploy/deployment-file";
import { rpc, startLocalNode, type LocalNode } from "../../src/devchain/node";
import { freshSchema, startReplica, type Replica } from "../../src/devchain/replicas";
import { APPROVER_TOKEN, bearer, call, usdcTransfer, type Answer, type HttpHarness, type OperationBody } from "../support/http";

const databaseUrl = process.env.DATABASE_URL;
/** How this machine restarts PostgreSQL (the project's machines: the Debian cluster 15/main). */
const PG_RESTART = process.env.PG_RESTART_COMMAND ?? "pg_ctlcluster 15 main restart";

const LIMITS = {
  APPROVER_TOKEN,
  REVIEW_NEW_RECIPIENTS: "false",
  RATE_LIMIT_PER_MINUTE: "100000",
  RATE_LIMIT_PER_WALLET_PER_MINUTE: "100000",
  RATE_LIMIT_PER_IP_PER_MINUTE: "100000",
  FORK_MAX_QUEUE: "1000",
  SIMULATION_BUDGET_MS: "10000",
  HEAD_POLL_MS: "200",
};

if (!databaseUrl) {
  describe("replicas on PostgreSQL", function () {
    it("needs DATABASE_URL (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx hardhat test test/replicas/replicas.spec.ts)");
  });
} else {
  describe("replicas on PostgreSQL", function () {
    this.timeout(300_000);
    let node: LocalNode;
    let deployment: DemoDeployment;
    let deploymentsFile: string;
    let schema: Awaited<ReturnType<typeof freshSchema>>;
    let replicas: Replica[] = [];
    let h: HttpHarness;

    before(async function () {
      node = await startLocalNode();
      deployment = await deployDemo(node.url);
      deploymentsFile = join(mkdtempSync(join(tmpdir(), "cs-replicas-")), "localhost.json");
      writeDeploymentFile(deploymentsFile, { ...deployment });
      schema = await freshSchema(databaseUrl);
      // signedOperation needs the deployment only.
      h = { deployment } as unknown as HttpHarness;
      replicas = await Promise.all([0, 1, 2].map(() => start()));
    });

    after(async function () {
      await Promise.all(replicas.map((r) => r.stop()));
      await node?.stop();
      await schema?.drop();
    });

    const start = () => startReplica({ upstreamUrl: node.url, deploymentsFile, databaseUrl: schema.url, env: LIMITS });

    /** The store as PostgreSQL holds it, not as any replica says. */
    async function query<R extends pg.QueryResultRow>(sql: string): Promise<R[]> {
      const client = new pg.Client({ connectionString: schema.url });
      await client.connect();
      try {
        return (await client.query<R>(sql)).rows;
      } finally {
        await client.end();
      }
    }

    /** Transfers of 1…`count` base units of USDC to alice, all under one nonce: distinct operations, one nonce. */
    async function rivals(nonce: bigint, count: number): Promise<OperationBody[]> {
      return Promise.all(Array.from({ length: count }, (_, i) => usdcTransfer(h, deployment.recipients.alice!, BigInt(i + 1), { nonce })));
    }

    async function expectOneSignaturePerNonce(): Promise<void> {
      const twice = await query<{ nonce: string; n: string }>(
        `SELECT nonce, count(*) AS n FROM decisions WHERE cosigner_signature IS NOT NULL GROUP BY nonce HAVING count(*) > 1`,
      );
      expect(twice, "nonces with two signatures").to.deep.equal([]);
    }

    async function expectChainVerifies(on: Replica[]): Promise<void> {
      for (const r of on) {
        const { status, body } = await call(r.url, "GET", "/v1/audit/verify", undefined, bearer(APPROVER_TOKEN));
        expect(status, r.output()).to.equal(200);
        expect(body.ok, JSON.stringify(body)).to.equal(true);
      }
    }

    it("signs each nonce once when 200 proposals, twenty per nonce, race across three replicas", async function () {
      const nonces = Array.from({ length: 10 }, () => randomWord() * 256n);
      const bodies = (await Promise.all(nonces.map((n) => rivals(n, 20)))).flat();
      const answers = await Promise.all(bodies.map((body, i) => call(replicas[i % 3]!.url, "POST", "/v1/operations", body)));
      const byNonce = new Map<string, Answer[]>();
      answers.forEach((a, i) => byNonce.set(bodies[i]!.nonce, [...(byNonce.get(bodies[i]!.nonce) ?? []), a]));
      for (const [nonce, group] of byNonce) {
        const signed = group.filter((a) => a.status === 200 && a.body.cosignerSignature);
        expect(signed, `nonce ${nonce}: ${JSON.stringify(group.map((a) => [a.status, a.body.error?.code ?? a.body.status]))}`).to.have.length(1);
        const others = group.filter((a) => !(a.status === 200 && a.body.cosignerSignature));
        for (const a of others) expect([a.status, a.body.error?.code], JSON.stringify(a.body)).to.deep.equal([409, "NONCE_CONFLICT"]);
      }
      await expectOneSignaturePerNonce();
      const stored = await query<{ n: string }>(`SELECT count(*) AS n FROM decisions WHERE status = 'approved'`);
      expect(Number(stored[0]!.n)).to.equal(10);
      await expectChainVerifies(replicas);
    });

    it("answers the same decision from every replica for a retried proposal", async function () {
      const [body] = await rivals(randomWord() * 256n, 1);
      const answers = await Promise.all(replicas.map((r) => call(r.url, "POST", "/v1/operations", body)));
      for (const a of answers) expect(a.status, JSON.stringify(a.body)).to.equal(200);
      expect(new Set(answers.map((a) => a.body.id)).size).to.equal(1);
      expect(new Set(answers.map((a) => a.body.cosignerSignature)).size).to.equal(1);
    });

    /** Which replicas say they follow the chain now. */
    async function followers(of: Replica[]): Promise<Replica[]> {
      const health = await Promise.all(of.map((r) => call(r.url, "GET", "/healthz")));
      return of.filter((_r, i) => health[i]!.body.monitor?.running === true);
    }

    it("runs the monitor on exactly one replica, and another takes over within seconds when it dies", async function () {
      const leaders = await followers(replicas);
      expect(leaders, "replicas following the chain").to.have.length(1);
      const leader = leaders[0]!;
      await leader.kill();
      const rest = replicas.filter((r) => r !== leader);
      const killedAt = Date.now();
      let next: Replica[] = [];
      while (Date.now() - killedAt < 15_000) {
        next = await followers(rest);
        if (next.length > 0) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(next, "a standby replica took over").to.have.length(1);
      const tookMs = Date.now() - killedAt;
      expect(tookMs, "takeover time").to.be.lessThan(15_000);
      // The new follower resumes from the shared position and records the blocks mined since.
      await rpc(node.url, "evm_mine");
      const head = BigInt(await rpc<string>(node.url, "eth_blockNumber"));
      let lastBlock = -1n;
      for (let i = 0; i < 40 && lastBlock < head; i++) {
        lastBlock = BigInt((await call(next[0]!.url, "GET", "/healthz")).body.monitor?.lastBlock ?? -1);
        if (lastBlock < head) await new Promise((r) => setTimeout(r, 250));
      }
      expect(lastBlock, "the new follower's last block").to.equal(head);
      replicas[replicas.indexOf(leader)] = await start();
      expect(await followers(replicas), "still exactly one after the replacement joined").to.have.length(1);
    });

    it("loses no answered decision when one replica is killed mid-flight and another while PostgreSQL restarts", async function () {
      // Wave 1: SIGKILL replica 0 while its proposals are in flight.
      const wave1 = (await Promise.all(Array.from({ length: 45 }, () => rivals(randomWord() * 256n, 1)))).flat();
      const inFlight1 = wave1.map((body, i) => call(replicas[i % 3]!.url, "POST", "/v1/operations", body).catch((err: Error) => err));
      await new Promise((r) => setTimeout(r, 150));
      await replicas[0]!.kill();
      const answers1 = await Promise.all(inFlight1);

      // Wave 2: PostgreSQL restarts under replicas 1 and 2, and replica 1 is killed meanwhile.
      const wave2 = (await Promise.all(Array.from({ length: 30 }, () => rivals(randomWord() * 256n, 1)))).flat();
      const inFlight2 = wave2.map((body, i) => call(replicas[1 + (i % 2)]!.url, "POST", "/v1/operations", body).catch((err: Error) => err));
      await new Promise((r) => setTimeout(r, 100));
      const restart = new Promise<void>((resolve, reject) => {
        try {
          execSync(PG_RESTART, { stdio: "pipe", timeout: 60_000 });
          resolve();
        } catch (err) {
          reject(new Error(`restarting PostgreSQL with "${PG_RESTART}" failed (set PG_RESTART_COMMAND): ${(err as Error).message}`));
        }
      });
      await replicas[1]!.kill();
      await restart;
      const answers2 = await Promise.all(inFlight2);

      // Every 200 has its decision, with that signature, in the store; nothing answered while the store was away
      // carries a signature it did not commit.
      const answered = [...answers1, ...answers2].filter((a): a is Answer => !(a instanceof Error) && a.status === 200);
      expect(answered.length, "some proposals were answered").to.be.greaterThan(0);
      const rows = await query<{ id: string; cosigner_signature: string | null }>(`SELECT id, cosigner_signature FROM decisions`);
      const byId = new Map(rows.map((r) => [r.id, r.cosigner_signature]));
      for (const a of answered) {
        expect(byId.has(a.body.id), `decision ${a.body.id} answered 200 but not stored`).to.equal(true);
        expect(byId.get(a.body.id) ?? undefined).to.equal(a.body.cosignerSignature);
      }
      for (const a of [...answers1, ...answers2]) {
        if (a instanceof Error || a.status === 200) continue;
        expect(a.body.cosignerSignature, JSON.stringify(a.body)).to.equal(undefined);
        expect([409, 503], JSON.stringify(a.body)).to.include(a.status);
      }
      await expectOneSignaturePerNonce();

      // The one replica left goes on serving once the database is back.
      const survivor = replicas[2]!;
      const [body] = await rivals(randomWord() * 256n, 1);
      let last: Answer | undefined;
      for (let i = 0; i < 50; i++) {
        expect(survivor.process.exitCode, `the survivor exited: ${survivor.output()}`).to.equal(null);
        last = await call(survivor.url, "POST", "/v1/operations", body);
        if (last.status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(last!.status, JSON.stringify(last!.body)).to.equal(200);
      expect(last!.body.cosignerSignature).to.match(/^0x/);
      await expectChainVerifies([survivor]);
      // A replacement replica joins the same store and serves.
      replicas[0] = await start();
      const again = await call(replicas[0].url, "POST", "/v1/operations", body);
      expect([again.status, again.body.id]).to.deep.equal([200, last!.body.id]);
    });
  });
}
