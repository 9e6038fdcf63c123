/**
 * `npm start`: the co-signer with no configuration.
 *
 * With no UPSTREAM_RPC_URL it starts a local Hardhat node (127.0.0.1:8545, chain 31337), deploys the demo
 * (factory, wallet, USDC-like and WETH-like tokens, DEX, budgets, allowlists, funds), writes
 * deployments/localhost.json and serves the co-signer on 127.0.0.1:8787. Roles are Hardhat's development accounts:
 * 0 owner, 1 agent session key, 2 co-signer, 3 guardian, 5 and 6 allowlisted recipients, 7 not allowlisted.
 *
 * With UPSTREAM_RPC_URL it serves against that chain and the wallet of a deployment file (DEPLOYMENTS_FILE, or
 * deployments/<NETWORK>.json, the network named from the chain id when NETWORK is not set); nothing is deployed.
 * Ctrl-C (SIGINT) or SIGTERM stops it cleanly. The logic is in src/; this file wires it and prints.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import type { Logger } from "pino";
import { devPrivateKey, LOCAL_ROLES } from "../src/chain/accounts";
import { loadConfig } from "../src/config";
import { deployDemo, type DemoDeployment } from "../src/deploy/demo";
import { readDeploymentFile, writeDeploymentFile, type DeploymentFile } from "../src/deploy/deployment-file";
import { rpc, startLocalNode, type LocalNode } from "../src/devchain/node";
import { createLogger } from "../src/logger";
import { startService, type Service } from "../src/service";

const ROOT = resolve(__dirname, "..");

/** Network names of well-known chain ids, for deployments/<network>.json. */
const NETWORKS: Record<number, string> = { 1: "mainnet", 31337: "localhost", 11155111: "sepolia", 17000: "holesky", 84532: "base-sepolia" };

export interface StartOptions {
  /** The environment (default process.env). */
  env?: Record<string, string | undefined>;
  /** Port of the local Hardhat node (default 8545). */
  rpcPort?: number;
  /** Port of the API (default PORT, then 8787). */
  port?: number;
  /** Where the deployment file is written (local) or read (UPSTREAM_RPC_URL). */
  deploymentsPath?: string;
  /** The decision store (default DB_PATH, then data/localhost.sqlite, reset with each new local chain). */
  dbPath?: string;
  logger?: Logger;
  /** Where the start-up summary goes (default stdout). */
  print?: (line: string) => void;
}

export interface Started {
  service: Service;
  /** The local node, when one was started. */
  node?: LocalNode;
  deployment: DeploymentFile | (DemoDeployment & Record<string, unknown>);
  deploymentsPath: string;
  /** The approver/operator token (generated when APPROVER_TOKEN is not set). */
  approverToken?: string;
  /** Stops the API, the fork, the store and the local node, in that order. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts everything `npm start` starts.
 * @example const started = await main({ rpcPort: 18545, port: 18787, deploymentsPath: "/tmp/localhost.json" }); await started.stop()
 */
export async function main(options: StartOptions = {}): Promise<Started> {
  const env = options.env ?? process.env;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  ensureArtifacts();
  return env.UPSTREAM_RPC_URL ? serveUpstream(env, options, print) : serveLocal(env, options, print);
}

/** No upstream given: a local node, the demo deployment, the service. */
async function serveLocal(env: Record<string, string | undefined>, options: StartOptions, print: (line: string) => void): Promise<Started> {
  const rpcPort = options.rpcPort ?? 8545;
  const port = options.port ?? Number(env.PORT ?? 8787);
  await assertPortFree(rpcPort, `the local chain's port ${rpcPort} on 127.0.0.1 is taken (another node, or npm start already running?). Stop it, or serve against it: UPSTREAM_RPC_URL=http://127.0.0.1:${rpcPort} DEPLOYMENTS_FILE=deployments/localhost.json npm start`);
  if (port !== 0) await assertPortFree(port, `the API port ${port} on 127.0.0.1 is taken: stop what listens there or set PORT`);
  const deploymentsPath = options.deploymentsPath ?? env.DEPLOYMENTS_FILE ?? join(ROOT, "deployments", "localhost.json");
  const dbPath = options.dbPath ?? env.DB_PATH ?? join(ROOT, "data", "localhost.sqlite");
  if (!options.dbPath && !env.DB_PATH) {
    // A new local chain: the decisions of the last one (same addresses, same nonces) would collide with it.
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${dbPath}${suffix}`, { force: true });
  }
  const approverToken = env.APPROVER_TOKEN ?? randomBytes(24).toString("base64url");

  const node = await startLocalNode({ port: rpcPort, root: ROOT });
  let service: Service | undefined;
  try {
    const deployment = await deployDemo(node.url);
    const config = loadConfig({
      REVIEW_NEW_RECIPIENTS: "false",
      ...env,
      UPSTREAM_RPC_URL: node.url,
      HOST: env.HOST ?? "127.0.0.1",
      PORT: String(port),
      DB_PATH: dbPath,
      // A new local chain gets a new embedded store; a shared DATABASE_URL is for a real upstream (serveUpstream).
      DATABASE_URL: undefined,
      APPROVER_TOKEN: approverToken,
      COSIGNER_PRIVATE_KEY: env.COSIGNER_KEYSTORE_PATH ? env.COSIGNER_PRIVATE_KEY : (env.COSIGNER_PRIVATE_KEY ?? devPrivateKey(LOCAL_ROLES.cosigner)),
      GUARDIAN_PRIVATE_KEY: env.GUARDIAN_KEYSTORE_PATH ? env.GUARDIAN_PRIVATE_KEY : (env.GUARDIAN_PRIVATE_KEY ?? devPrivateKey(LOCAL_ROLES.guardian)),
    });
    const logger = options.logger ?? createLogger(config.LOG_LEVEL);
    // The record the service answers at GET /v1/deployment; its URL is known once the API listens.
    const record: DemoDeployment & Record<string, unknown> = { network: "localhost", ...deployment, cosignerUrl: "" };
    service = await startService({ config, deployment: record, logger });
    Object.assign(record, { cosignerUrl: service.url, deployedAt: new Date().toISOString() });
    writeDeploymentFile(deploymentsPath, record);
    // The token is a secret: written to an owner-only file next to the decisions, never printed or logged.
    const tokenPath = join(dirname(dbPath), "approver-token");
    mkdirSync(dirname(tokenPath), { recursive: true });
    writeFileSync(tokenPath, `${approverToken}\n`, { mode: 0o600 });
    chmodSync(tokenPath, 0o600);
    printSummary(print, { service, deployment: record, deploymentsPath, dbPath, approverToken, tokenPath, local: true, review: config.REVIEW_NEW_RECIPIENTS });
    return started(service, node, record, deploymentsPath, approverToken);
  } catch (err) {
    await service?.stop();
    await node.stop();
    throw err;
  }
}

/** UPSTREAM_RPC_URL given: serve that chain's deployment; deploy nothing. */
async function serveUpstream(env: Record<string, string | undefined>, options: StartOptions, print: (line: string) => void): Promise<Started> {
  const upstream = env.UPSTREAM_RPC_URL!;
  let chainId: number;
  try {
    chainId = Number(await rpc<string>(upstream, "eth_chainId"));
  } catch (err) {
    throw new Error(`cannot reach UPSTREAM_RPC_URL ${upstream}: ${(err as Error).message}`);
  }
  const network = env.NETWORK ?? NETWORKS[chainId];
  const deploymentsPath = options.deploymentsPath ?? env.DEPLOYMENTS_FILE ?? (network ? join(ROOT, "deployments", `${network}.json`) : undefined);
  if (!deploymentsPath) throw new Error(`chain ${chainId} has no known network name: set DEPLOYMENTS_FILE (or NETWORK) to its deployment file`);
  if (!existsSync(deploymentsPath)) {
    throw new Error(`no deployment file ${deploymentsPath}: deploy first (npx hardhat run scripts/deploy.ts --network ${network ?? "<network>"}) or set DEPLOYMENTS_FILE`);
  }
  const deployment = readDeploymentFile(deploymentsPath);
  if (deployment.chainId !== chainId) {
    throw new Error(`${deploymentsPath} is for chain ${deployment.chainId}, but UPSTREAM_RPC_URL serves chain ${chainId}`);
  }
  const dev = chainId === 31337;
  const port = options.port ?? (env.PORT !== undefined ? Number(env.PORT) : 8787);
  const config = loadConfig({
    ...env,
    HOST: env.HOST ?? "127.0.0.1",
    PORT: String(port),
    ...(options.dbPath ? { DB_PATH: options.dbPath, DATABASE_URL: undefined } : {}),
    // Development keys only on a development chain; anywhere else they must be configured.
    ...(dev && !env.COSIGNER_KEYSTORE_PATH && !env.COSIGNER_PRIVATE_KEY ? { COSIGNER_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.cosigner) } : {}),
    ...(dev && !env.GUARDIAN_KEYSTORE_PATH && !env.GUARDIAN_PRIVATE_KEY ? { GUARDIAN_PRIVATE_KEY: devPrivateKey(LOCAL_ROLES.guardian) } : {}),
  });
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const service = await startService({ config, deployment, logger });
  printSummary(print, {
    service,
    deployment,
    deploymentsPath,
    // The URL may carry a password: name the store, never print it.
    dbPath: config.DATABASE_URL ? "PostgreSQL (DATABASE_URL)" : config.DB_PATH,
    approverToken: env.APPROVER_TOKEN ? "(APPROVER_TOKEN from the environment)" : undefined,
    local: false,
    review: config.REVIEW_NEW_RECIPIENTS,
  });
  return started(service, undefined, deployment, deploymentsPath, env.APPROVER_TOKEN);
}

function started(service: Service, node: LocalNode | undefined, deployment: Started["deployment"], deploymentsPath: string, approverToken?: string): Started {
  let stopping: Promise<void> | undefined;
  return {
    service,
    node,
    deployment,
    deploymentsPath,
    approverToken,
    stop() {
      stopping ??= (async () => {
        await service.stop();
        await node?.stop();
      })();
      return stopping;
    },
  };
}

/** Compiles the contracts if their artifacts are missing (the co-signer loads them at run time). */
function ensureArtifacts(): void {
  const needed = ["AgentWallet.sol/AgentWallet.json", "AgentWalletFactory.sol/AgentWalletFactory.json", "simulation/StateReader.sol/StateReader.json"];
  if (needed.every((p) => existsSync(join(ROOT, "artifacts", "contracts", p)))) return;
  const hardhat = join(ROOT, "node_modules", "hardhat", "internal", "cli", "bootstrap.js");
  const result = spawnSync(process.execPath, [hardhat, "compile", "--quiet"], { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) throw new Error("compiling the contracts failed (npx hardhat compile)");
}

/** Throws `message` if something already listens on 127.0.0.1:`port`. */
async function assertPortFree(port: number, message: string): Promise<void> {
  await new Promise<void>((resolvePort, reject) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) => reject(err.code === "EADDRINUSE" ? new Error(message) : err));
    server.listen(port, "127.0.0.1", () => server.close(() => resolvePort()));
  });
}

function printSummary(
  print: (line: string) => void,
  s: {
    service: Service;
    deployment: Record<string, unknown> & { chainId: number; wallet: string };
    deploymentsPath: string;
    dbPath: string;
    approverToken?: string;
    /** Where a generated approver token was written (never printed or logged). */
    tokenPath?: string;
    local: boolean;
    review: boolean;
  },
): void {
  const d = s.deployment as Record<string, unknown> & {
    tokens?: Record<string, string>;
    decimals?: Record<string, number>;
    roles?: Record<string, unknown>;
    recipients?: Record<string, string>;
    notAllowlisted?: Record<string, string>;
  };
  const { fork } = s.service.cosigner;
  const list = (o: Record<string, unknown> | undefined, suffix: (k: string) => string = () => "") =>
    Object.entries(o ?? {})
      .map(([k, v]) => `${k} ${typeof v === "string" ? v : JSON.stringify(v)}${suffix(k)}`)
      .join(", ");
  const lines = [
    "",
    "Countersign is running.",
    `  co-signer API   ${s.service.url}   (GET /healthz, /metrics, /openapi.json)`,
    `  chain           ${String(d.rpcUrl ?? "(upstream)")}   chain id ${fork.chainId}${s.local ? ", local Hardhat node" : ""}, head ${fork.head.number}`,
    `  wallet          ${d.wallet}`,
    d.factory ? `  factory         ${String(d.factory)}` : "",
    d.tokens ? `  tokens          ${list(d.tokens, (k) => (d.decimals?.[k] !== undefined ? ` (${d.decimals[k]} dp)` : ""))}` : "",
    d.dex ? `  dex             ${String(d.dex)}` : "",
    d.roles ? `  roles           ${list(d.roles)}` : "",
    s.local ? "                  (Hardhat accounts: 0 owner, 1 session key, 2 co-signer, 3 guardian, 5/6 recipients, 7 not allowlisted)" : "",
    d.recipients ? `  recipients      ${list(d.recipients)} (allowlisted)` : "",
    d.notAllowlisted ? `  not allowlisted ${list(d.notAllowlisted)}` : "",
    `  co-signer key   ${s.service.cosigner.key.address}; guardian ${s.service.guardian?.address ?? "(none: the pause endpoint answers 503)"}`,
    `  deployment      ${s.deploymentsPath}`,
    `  decisions       ${s.dbPath}`,
    `  new recipients  ${s.review ? "go to a person (REVIEW_NEW_RECIPIENTS=true)" : "approved when allowlisted (REVIEW_NEW_RECIPIENTS=false)"}`,
    s.approverToken && s.tokenPath
      ? `  approver token  in ${s.tokenPath} (owner-only file; Authorization: Bearer <token> for approve, reject, pause)`
      : "",
    "Ctrl-C to stop.",
    "",
  ];
  for (const line of lines) if (line !== "") print(line);
}

if (require.main === module) {
  main()
    .then((s) => {
      const shutdown = (signal: string) => {
        s.service.logger.info({ signal }, "stopping");
        s.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            console.error(err);
            process.exit(1);
          },
        );
      };
      process.once("SIGINT", () => shutdown("SIGINT"));
      process.once("SIGTERM", () => shutdown("SIGTERM"));
    })
    .catch((err: unknown) => {
      console.error(`npm start failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
}
