/**
 * Gas benchmark: AgentWallet vs an EOA and Safe 1.5.0 (1-of-1, 2-of-2), all moving the same MockERC20 (6 dp)
 * to the same recipient (who, like every sender, already holds the token).
 *
 *   npm run bench:gas          (= hardhat run bench/gas.ts, in-process hardhat network)
 *
 * Every figure is the gas used by the whole transaction (receipt.gasUsed: 21,000 + calldata + execution - refund).
 * Headline figures are STEADY STATE: the 3rd operation in a row with the same setup, so the AgentWallet's nonce
 * bitmap word and budget bucket, and the Safe's nonce, are already non-zero. The 1st operation is reported beside
 * it as `...FirstUse`. Chain time starts at a fixed timestamp and deadlines are fixed, so calldata and signatures
 * (hence gas) are the same on every run.
 *
 * Writes bench/results/gas.json: { generatedAt, machine, hardhat, solc, compilers, figures, ratios, goals, samples,
 * breakdown, ... }; `npm run bench:readme` turns it into the README's gas section.
 */
import fs from "node:fs";
import path from "node:path";
import hre, { ethers, network } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { Contract, ContractTransactionResponse } from "ethers";
import { deployWalletFixture, USDC_MAX_PER_OP } from "../test/fixtures";
import { erc20Approve, erc20Transfer, nativeTransfer, signed, type TestBound, type TestOperation } from "../test/helpers";
import type { AgentWallet } from "../typechain-types";
import { machine } from "./support/machine";

// ───────────────────────────── parameters ─────────────────────────────

/** Chain time is moved here first, so deadlines (and so calldata and signatures) are the same on every run. */
const BASE_TIMESTAMP = 1_900_000_000n; // 2030-03-17
/** A fixed deadline for every AgentWallet operation (unix seconds): BASE + 1 day. */
const DEADLINE = BASE_TIMESTAMP + 86_400n;
const TOKEN_AMOUNT = 10n * 10n ** 6n; // 10 USDC
const NATIVE_AMOUNT = 10n ** 16n; // 0.01 ETH
/** Operations in a row per scenario; the 1st is "first use", the STEADY-th is the headline figure. */
const RUNS = 3;
const STEADY = 3;
/** Issue 7: agentWalletErc20Transfer ≤ 1.10 × safe2of2Erc20Transfer; stretch 1.0. */
const GOAL = { target: 1.1, stretch: 1.0 };

const SAFE_ARTIFACTS = path.join(
  path.dirname(require.resolve("@safe-global/safe-smart-account/package.json")),
  "build/artifacts/contracts",
);

interface Artifact {
  abi: unknown[];
  bytecode: string;
}

function safeArtifact(relative: string): Artifact {
  return JSON.parse(fs.readFileSync(path.join(SAFE_ARTIFACTS, relative), "utf8")) as Artifact;
}

async function gasOf(tx: Promise<ContractTransactionResponse> | ContractTransactionResponse): Promise<number> {
  const receipt = await (await tx).wait();
  if (!receipt || receipt.status !== 1) throw new Error("benchmark transaction failed");
  return Number(receipt.gasUsed);
}

async function main() {
  if (network.name !== "hardhat") throw new Error(`run on the in-process hardhat network, not ${network.name}`);

  if (BigInt(await time.latest()) < BASE_TIMESTAMP) await time.increaseTo(BASE_TIMESTAMP);
  else throw new Error("chain time is past BASE_TIMESTAMP; raise it in bench/gas.ts");

  const figures: Record<string, number> = {};
  const samples: Record<string, number[]> = {};
  const record = (key: string, runs: number[]) => {
    samples[key] = runs;
    figures[key] = runs[STEADY - 1];
    figures[`${key}FirstUse`] = runs[0];
  };

  // One standard setup (test/fixtures.ts): factory, USDC (6 dp), WETH, a DEX with swap permitted, the roles.
  const fx = await deployWalletFixture();
  const { factory, usdc, weth, dex, config, sessionKey, cosigner, relayer, alice } = fx;
  const signers = await ethers.getSigners();
  const eoaSender = signers[8];
  const [usdcAddr, wethAddr, dexAddr] = await Promise.all([usdc.getAddress(), weth.getAddress(), dex.getAddress()]);
  // The DEX already holds USDC, so a swap does not pay a zero→non-zero balance write on the token side.
  await usdc.mint(dexAddr, 1n);

  // ───────────────────────────── EOA ─────────────────────────────
  await usdc.mint(eoaSender.address, 1_000n * 10n ** 6n);
  const eoaRuns: number[] = [];
  for (let i = 0; i < RUNS; ++i)
    eoaRuns.push(await gasOf(usdc.connect(eoaSender).transfer(alice.address, TOKEN_AMOUNT)));
  samples.eoaErc20Transfer = eoaRuns;
  figures.eoaErc20Transfer = eoaRuns[STEADY - 1];

  // ───────────────────────────── Safe 1.5.0 ─────────────────────────────
  const safeJson = safeArtifact("Safe.sol/Safe.json");
  const factoryJson = safeArtifact("proxies/SafeProxyFactory.sol/SafeProxyFactory.json");
  const handlerJson = safeArtifact("handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json");
  const deploy = async (a: Artifact) => {
    const c = await new ethers.ContractFactory(a.abi as never, a.bytecode, relayer).deploy();
    await c.waitForDeployment();
    return c.getAddress();
  };
  const singletonAddr = await deploy(safeJson);
  const proxyFactory = new ethers.Contract(await deploy(factoryJson), factoryJson.abi as never, relayer);
  const fallbackHandler = await deploy(handlerJson);
  const safeInterface = new ethers.Interface(safeJson.abi as never);
  const safeOwners = [1, 2].map((i) => new ethers.Wallet(ethers.id(`countersign-bench-safe-owner-${i}`)));

  async function createSafe(owners: typeof safeOwners, saltNonce: bigint) {
    const initializer = safeInterface.encodeFunctionData("setup", [
      owners.map((o) => o.address),
      owners.length,
      ethers.ZeroAddress,
      "0x",
      fallbackHandler,
      ethers.ZeroAddress,
      0,
      ethers.ZeroAddress,
    ]);
    const address: string = await proxyFactory.createProxyWithNonce.staticCall(singletonAddr, initializer, saltNonce);
    const gas = await gasOf(proxyFactory.createProxyWithNonce(singletonAddr, initializer, saltNonce));
    const safe = new ethers.Contract(address, safeJson.abi as never, relayer);
    await usdc.mint(address, 10_000n * 10n ** 6n);
    return { safe, gas };
  }

  /** execTransaction of usdc.transfer(alice, amount), signed by every owner (sorted by address, v 27/28). */
  async function safeTransfer(safe: Contract, owners: typeof safeOwners) {
    const data = usdc.interface.encodeFunctionData("transfer", [alice.address, TOKEN_AMOUNT]);
    const tx = [usdcAddr, 0n, data, 0, 0n, 0n, 0n, ethers.ZeroAddress, ethers.ZeroAddress] as const;
    const hash: string = await safe.getTransactionHash(...tx, await safe.nonce());
    const sorted = [...owners].sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
    const signatures = ethers.concat(sorted.map((o) => o.signingKey.sign(hash).serialized));
    const response: ContractTransactionResponse = await safe.execTransaction(...tx, signatures);
    return { gas: await gasOf(response), hash: response.hash };
  }

  const safe1 = await createSafe(safeOwners.slice(0, 1), 1n);
  const safe2 = await createSafe(safeOwners, 2n);
  figures.safe1of1Deployment = safe1.gas;
  figures.safe2of2Deployment = safe2.gas;
  const safe1Runs: number[] = [];
  const safe2Runs: { gas: number; hash: string }[] = [];
  for (let i = 0; i < RUNS; ++i) safe1Runs.push((await safeTransfer(safe1.safe, safeOwners.slice(0, 1))).gas);
  for (let i = 0; i < RUNS; ++i) safe2Runs.push(await safeTransfer(safe2.safe, safeOwners));
  record("safe1of1Erc20Transfer", safe1Runs);
  record(
    "safe2of2Erc20Transfer",
    safe2Runs.map((r) => r.gas),
  );

  // ───────────────────────────── AgentWallet ─────────────────────────────
  /** A fresh wallet with the fixture's config, funded like the fixture's (USDC, WETH, ETH). */
  async function createAgentWallet(label: string) {
    const salt = ethers.id(`countersign-bench-${label}`);
    const address = await factory.predictWallet(config, salt);
    const gas = await gasOf(factory.connect(relayer).createWallet(config, salt));
    await usdc.mint(address, 10_000n * 10n ** 6n);
    await weth.mint(address, 100n * 10n ** 18n);
    await fx.owner.sendTransaction({ to: address, value: 10n * 10n ** 18n });
    return { wallet: await ethers.getContractAt("AgentWallet", address), gas };
  }

  /** Relays execute() of `calls` with `nonce` (and `bounds`), signed by the session key and the co-signer. */
  async function execute(wallet: AgentWallet, calls: TestOperation["calls"], nonce: bigint, bounds: TestBound[] = []) {
    const args = await signed(wallet, { calls, nonce, deadline: DEADLINE, bounds }, sessionKey, cosigner);
    const response = await wallet.connect(relayer).execute(...args);
    return { response, gas: await gasOf(response) };
  }

  /** Runs `calls()` as nonces 1..RUNS on a fresh wallet, with `bounds(wallet)`. */
  async function agentScenario(key: string, calls: () => TestOperation["calls"], bounds?: (wallet: string) => TestBound[]) {
    const { wallet, gas } = await createAgentWallet(key);
    const runs: number[] = [];
    const hashes: string[] = [];
    for (let n = 1; n <= RUNS; ++n) {
      const { response, gas: used } = await execute(wallet, calls(), BigInt(n), bounds?.(await wallet.getAddress()) ?? []);
      runs.push(used);
      hashes.push(response.hash);
    }
    record(key, runs);
    return { wallet, deployGas: gas, steadyHash: hashes[STEADY - 1] };
  }

  const erc20 = await agentScenario("agentWalletErc20Transfer", () => [
    erc20Transfer(usdcAddr, alice.address, TOKEN_AMOUNT),
  ]);
  figures.walletDeployment = erc20.deployGas;
  // The first nonce of a new bitmap word (256) once the budget is already charged: the word cost alone.
  figures.agentWalletErc20TransferNewNonceWord = (
    await execute(erc20.wallet, [erc20Transfer(usdcAddr, alice.address, TOKEN_AMOUNT)], 256n)
  ).gas;

  await agentScenario("agentWalletNativeTransfer", () => [nativeTransfer(alice.address, NATIVE_AMOUNT)]);

  const minOut = await dex.quote(usdcAddr, wethAddr, TOKEN_AMOUNT);
  await agentScenario("agentWalletApproveAndSwap", () => [
    erc20Approve(usdcAddr, dexAddr, TOKEN_AMOUNT),
    {
      target: dexAddr,
      value: 0n,
      data: dex.interface.encodeFunctionData("swap", [usdcAddr, wethAddr, TOKEN_AMOUNT, minOut]),
    },
  ]);

  // The same swap carrying the two bounds the co-signer derives from its intent (deriveBounds, src/intent/bounds.ts):
  // the wallet sells at most TOKEN_AMOUNT USDC and receives at least minOut WETH, checked after the batch.
  await agentScenario(
    "agentWalletSwapWithBounds",
    () => [
      erc20Approve(usdcAddr, dexAddr, TOKEN_AMOUNT),
      {
        target: dexAddr,
        value: 0n,
        data: dex.interface.encodeFunctionData("swap", [usdcAddr, wethAddr, TOKEN_AMOUNT, minOut]),
      },
    ],
    (wallet) => [
      { asset: usdcAddr, account: wallet, minDelta: -TOKEN_AMOUNT },
      { asset: wethAddr, account: wallet, minDelta: minOut },
    ],
  );

  // ───────────────────────────── ratios, goals ─────────────────────────────
  const ratio = (a: number, b: number) => Math.round((a / b) * 10_000) / 10_000;
  const ratios = {
    agentWalletVsSafe2of2: ratio(figures.agentWalletErc20Transfer, figures.safe2of2Erc20Transfer),
    agentWalletVsSafe1of1: ratio(figures.agentWalletErc20Transfer, figures.safe1of1Erc20Transfer),
    agentWalletVsEoa: ratio(figures.agentWalletErc20Transfer, figures.eoaErc20Transfer),
    agentWalletFirstUseVsSafe2of2FirstUse: ratio(
      figures.agentWalletErc20TransferFirstUse,
      figures.safe2of2Erc20TransferFirstUse,
    ),
    walletDeploymentVsSafe2of2Deployment: ratio(figures.walletDeployment, figures.safe2of2Deployment),
  };
  const goals = {
    agentWalletVsSafe2of2: {
      value: ratios.agentWalletVsSafe2of2,
      target: GOAL.target,
      stretch: GOAL.stretch,
      met: ratios.agentWalletVsSafe2of2 <= GOAL.target,
      stretchMet: ratios.agentWalletVsSafe2of2 <= GOAL.stretch,
    },
  };

  // ───────────────────────────── where the gas goes ─────────────────────────────
  const names = {
    [await erc20.wallet.getAddress()]: "wallet",
    [await factory.implementation()]: "implementation",
    [usdcAddr]: "usdc",
    [wethAddr]: "weth",
    [dexAddr]: "dex",
    [alice.address]: "alice",
    [singletonAddr]: "safeSingleton",
    "0x0000000000000000000000000000000000000001": "ecrecover",
  };
  const breakdown = {
    agentWalletErc20Transfer: await traceBreakdown(
      erc20.steadyHash,
      names,
      await storageLabels(
        await erc20.wallet.getAddress(),
        usdcAddr,
        cosigner.address,
        sessionKey.address,
        alice.address,
      ),
    ),
    // The same attribution for the reference: Safe proxy (SLOAD singleton + DELEGATECALL), then the Safe's code.
    safe2of2Erc20Transfer: await traceBreakdown(safe2Runs[STEADY - 1].hash, names, new Map()),
  };

  // ───────────────────────────── report ─────────────────────────────
  const order = [
    "eoaErc20Transfer",
    "safe1of1Erc20Transfer",
    "safe1of1Erc20TransferFirstUse",
    "safe2of2Erc20Transfer",
    "safe2of2Erc20TransferFirstUse",
    "agentWalletErc20Transfer",
    "agentWalletErc20TransferFirstUse",
    "agentWalletErc20TransferNewNonceWord",
    "agentWalletNativeTransfer",
    "agentWalletNativeTransferFirstUse",
    "agentWalletApproveAndSwap",
    "agentWalletApproveAndSwapFirstUse",
    "agentWalletSwapWithBounds",
    "agentWalletSwapWithBoundsFirstUse",
    "walletDeployment",
    "safe1of1Deployment",
    "safe2of2Deployment",
  ];
  console.log(`\nGas per transaction (receipt gasUsed; steady state = operation #${STEADY} in a row)\n`);
  console.table(
    order.map((figure) => {
      const deployment = figure.endsWith("Deployment");
      const reference = deployment ? figures.safe2of2Deployment : figures.safe2of2Erc20Transfer;
      return {
        figure,
        gas: figures[figure],
        "vs safe2of2": ratio(figures[figure], reference).toFixed(3),
        reference: deployment ? "safe2of2Deployment" : "safe2of2Erc20Transfer",
      };
    }),
  );
  console.log(
    `agentWalletVsSafe2of2 = ${ratios.agentWalletVsSafe2of2.toFixed(4)} ` +
      `(goal ≤ ${GOAL.target.toFixed(2)}: ${goals.agentWalletVsSafe2of2.met ? "met" : "NOT met"}; ` +
      `stretch ≤ ${GOAL.stretch}: ${goals.agentWalletVsSafe2of2.stretchMet ? "met" : "not met"})`,
  );
  printBreakdown(breakdown.agentWalletErc20Transfer, breakdown.safe2of2Erc20Transfer);

  const out = {
    generatedAt: new Date().toISOString(),
    machine: machine(),
    hardhat: (require("hardhat/package.json") as { version: string }).version,
    solc: hre.config.solidity.compilers[0].version,
    compilers: await compilers(["AgentWallet", "AgentWalletFactory", "MockERC20", "MockDex"]),
    hardfork: hre.config.networks.hardhat.hardfork,
    safe: (require("@safe-global/safe-smart-account/package.json") as { version: string }).version,
    method:
      `receipt.gasUsed of the whole transaction; headline = operation #${STEADY} of ${RUNS} in a row (steady state), ` +
      "FirstUse = operation #1 (fresh nonce word / budget bucket / Safe nonce 0); same MockERC20 (6 dp), " +
      "amount 10e6, recipient already holding it",
    figures,
    ratios,
    goals,
    samples,
    breakdown,
  };
  const dir = path.join(__dirname, "results");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "gas.json"), JSON.stringify(out, null, 2) + "\n");
  console.log(`\nwrote ${path.relative(process.cwd(), path.join(dir, "gas.json"))}`);
}

// ───────────────────────────── compilers ─────────────────────────────

interface CompilerRecord {
  source: string;
  solc: string;
  viaIR: boolean;
  optimizer: { enabled: boolean; runs?: number };
  evmVersion?: string;
}

/**
 * The settings each contract was really compiled with, read from its build info (hardhat.config.ts compiles
 * AgentWallet and AgentWalletFactory through the IR pipeline by an override, everything else without it).
 */
async function compilers(names: string[]): Promise<Record<string, CompilerRecord>> {
  const out: Record<string, CompilerRecord> = {};
  for (const name of names) {
    const artifact = await hre.artifacts.readArtifact(name);
    const fqn = `${artifact.sourceName}:${artifact.contractName}`;
    const buildInfo = await hre.artifacts.getBuildInfo(fqn);
    if (!buildInfo) throw new Error(`no build info for ${fqn}: compile first`);
    const settings = buildInfo.input.settings as {
      viaIR?: boolean;
      optimizer: { enabled?: boolean; runs?: number };
      evmVersion?: string;
    };
    out[name] = {
      source: artifact.sourceName,
      solc: buildInfo.solcVersion,
      viaIR: settings.viaIR ?? false,
      optimizer: { enabled: settings.optimizer.enabled ?? false, runs: settings.optimizer.runs },
      evmVersion: settings.evmVersion,
    };
  }
  return out;
}

// ───────────────────────────── trace breakdown ─────────────────────────────

interface StructLog {
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
  stack?: string[];
}

interface Breakdown {
  gasUsed: number;
  /** calldataFloor: EIP-7623 (Prague) minimum gasUsed, 21000 + 10 per token; binding only for calldata-heavy txs. */
  intrinsic: { base: number; calldataBytes: number; zeroBytes: number; calldataGas: number; calldataFloor: number };
  execution: number;
  refund: number;
  proxyDelegatecallOverhead: number;
  walletFrame: {
    total: number;
    sload: { cold: number; warm: number; gas: number; coldSlots: string[] };
    sstore: { count: number; gas: number; slots: string[] };
    keccak: { count: number; gas: number };
    logs: { count: number; gas: number };
    ecrecover: { count: number; gas: number };
    externalCalls: { target: string; op: string; gas: number; coldAccount: boolean }[];
    other: number;
  };
}

/** Attributes the gas of one transaction (opcode-level trace of the hardhat provider). */
async function traceBreakdown(
  txHash: string,
  names: Record<string, string>,
  slotNames: Map<string, string>,
): Promise<Breakdown> {
  const label = (address: string) => names[ethers.getAddress(address)] ?? names[address] ?? address;
  const tx = (await ethers.provider.getTransaction(txHash))!;
  const receipt = (await ethers.provider.getTransactionReceipt(txHash))!;
  const trace = (await network.provider.send("debug_traceTransaction", [
    txHash,
    { disableMemory: true, disableStorage: true, disableStack: false },
  ])) as { structLogs: StructLog[] };
  const logs = trace.structLogs;

  const bytes = ethers.getBytes(tx.data);
  const zeroBytes = bytes.filter((b) => b === 0).length;
  const calldataGas = zeroBytes * 4 + (bytes.length - zeroBytes) * 16;
  const calldataFloor = 21_000 + 10 * (zeroBytes + 4 * (bytes.length - zeroBytes));
  const intrinsic = { base: 21_000, calldataBytes: bytes.length, zeroBytes, calldataGas, calldataFloor };

  const isCall = (op: string) => op === "CALL" || op === "STATICCALL" || op === "DELEGATECALL" || op === "CALLCODE";
  // The index of the next step back in the same frame, for every call step.
  const returnIndex = new Map<number, number>();
  const open: number[] = [];
  for (let i = 0; i < logs.length; ++i) {
    while (open.length && logs[i].depth <= logs[open[open.length - 1]].depth) returnIndex.set(open.pop()!, i);
    if (isCall(logs[i].op)) open.push(i);
  }
  // Inclusive cost of a step: gasCost, or for a call everything from the call to the step after it.
  const inclusive = (i: number) => {
    const j = returnIndex.get(i);
    return isCall(logs[i].op) && j !== undefined ? logs[i].gas - logs[j].gas : logs[i].gasCost;
  };
  const childCost = (i: number) => {
    const j = returnIndex.get(i) ?? logs.length;
    let sum = 0;
    for (let k = i + 1; k < j; ++k) if (logs[k].depth === logs[i].depth + 1) sum += inclusive(k);
    return sum;
  };
  const stackArg = (step: StructLog, n: number) => {
    const word = step.stack![step.stack!.length - 1 - n];
    return BigInt(word.startsWith("0x") ? word : `0x${word}`);
  };
  const slotName = (slot: bigint) => slotNames.get(ethers.toBeHex(slot, 32)) ?? ethers.toBeHex(slot);

  let execution = 0;
  for (let i = 0; i < logs.length; ++i) if (logs[i].depth === 1) execution += inclusive(i);

  // depth 1: the EIP-1167 clone; depth 2: AgentWallet code run by its DELEGATECALL; depth 3: the calls it makes.
  const delegate = logs.findIndex((s) => s.depth === 1 && s.op === "DELEGATECALL");
  if (delegate < 0) throw new Error(`${txHash} has no proxy DELEGATECALL to attribute`);
  const walletTotal = childCost(delegate);
  const wf: Breakdown["walletFrame"] = {
    total: walletTotal,
    sload: { cold: 0, warm: 0, gas: 0, coldSlots: [] },
    sstore: { count: 0, gas: 0, slots: [] },
    keccak: { count: 0, gas: 0 },
    logs: { count: 0, gas: 0 },
    ecrecover: { count: 0, gas: 0 },
    externalCalls: [],
    other: 0,
  };
  let attributed = 0;
  for (let i = delegate + 1; i < logs.length; ++i) {
    const s = logs[i];
    if (s.depth !== 2) continue;
    const cost = inclusive(i);
    attributed += cost;
    if (s.op === "SLOAD") {
      wf.sload.gas += cost;
      if (s.gasCost >= 2_100) {
        wf.sload.cold++;
        wf.sload.coldSlots.push(slotName(stackArg(s, 0)));
      } else wf.sload.warm++;
    } else if (s.op === "SSTORE") {
      wf.sstore.count++;
      wf.sstore.gas += cost;
      wf.sstore.slots.push(`${slotName(stackArg(s, 0))} (${s.gasCost})`);
    } else if (s.op === "KECCAK256") {
      wf.keccak.count++;
      wf.keccak.gas += cost;
    } else if (s.op.startsWith("LOG")) {
      wf.logs.count++;
      wf.logs.gas += cost;
    } else if (isCall(s.op)) {
      const target = label(ethers.getAddress(ethers.toBeHex(stackArg(s, 1), 20)));
      if (target === "ecrecover") {
        wf.ecrecover.count++;
        wf.ecrecover.gas += cost;
      } else {
        const overhead = cost - childCost(i);
        wf.externalCalls.push({ target, op: s.op, gas: cost, coldAccount: overhead >= 2_600 });
      }
    } else wf.other += cost;
  }
  if (attributed !== walletTotal) throw new Error(`trace attribution mismatch: ${attributed} != ${walletTotal}`);

  return {
    gasUsed: Number(receipt.gasUsed),
    intrinsic,
    execution,
    refund: 21_000 + calldataGas + execution - Number(receipt.gasUsed),
    proxyDelegatecallOverhead: execution - walletTotal,
    walletFrame: wf,
  };
}

/**
 * Names of the AgentWallet storage slots the agent path touches (layout of contracts/AgentWallet.sol: Ownable 0,
 * Ownable2Step 1, EIP712 2-3, then _cosigner|_paused 4, _sessionKeyValidUntil 5, ..., _usedNonces 10,
 * _budgets 11 (maxPerOperation|limit|period), _buckets 12 (lastUsed|lastTimepoint), _recipients 15-16). Checked
 * against the deployed wallet: if the layout moved, slots are shown as raw hex instead of wrong names.
 */
async function storageLabels(wallet: string, usdc: string, cosigner: string, sessionKey: string, alice: string) {
  const coder = ethers.AbiCoder.defaultAbiCoder();
  const at = (key: string | bigint, type: string, slot: bigint | string) =>
    ethers.keccak256(coder.encode([type, "uint256"], [key, slot]));
  const read = async (slot: string | number) => BigInt(await ethers.provider.getStorage(wallet, slot));
  const m = new Map<string, string>();
  const layoutHolds =
    ((await read(4)) & ((1n << 160n) - 1n)) === BigInt(cosigner) &&
    (await read(at(sessionKey, "address", 5n))) !== 0n &&
    ((await read(at(usdc, "address", 11n))) & ((1n << 112n) - 1n)) === USDC_MAX_PER_OP &&
    (await read(at(ethers.zeroPadValue(alice, 32), "bytes32", 16n))) !== 0n;
  if (!layoutHolds) {
    console.warn("AgentWallet storage layout changed: the breakdown shows raw slot numbers");
    return m;
  }
  ["_owner", "_pendingOwner", "_nameFallback", "_versionFallback", "_cosigner|_paused"].forEach((name, i) =>
    m.set(ethers.toBeHex(i, 32), name),
  );
  m.set(at(sessionKey, "address", 5n), "_sessionKeyValidUntil[sessionKey]");
  m.set(at(0n, "uint256", 10n), "_usedNonces word 0");
  m.set(at(1n, "uint256", 10n), "_usedNonces word 1");
  for (const [token, name] of [
    [ethers.ZeroAddress, "NATIVE"],
    [usdc, "usdc"],
  ]) {
    m.set(at(token, "address", 11n), `_budgets[${name}]`);
    m.set(at(token, "address", 12n), `_buckets[${name}]`);
  }
  m.set(at(ethers.zeroPadValue(alice, 32), "bytes32", 16n), "_recipients._positions[alice]");
  return m;
}

function printBreakdown(b: Breakdown, safe: Breakdown) {
  const w = b.walletFrame;
  console.log(`\nWhere agentWalletErc20Transfer's ${b.gasUsed} gas goes (steady state, opcode trace):`);
  console.table([
    { part: "intrinsic: base", gas: b.intrinsic.base, note: "" },
    {
      part: "intrinsic: calldata",
      gas: b.intrinsic.calldataGas,
      note: `${b.intrinsic.calldataBytes} bytes, ${b.intrinsic.zeroBytes} zero`,
    },
    { part: "clone proxy (EIP-1167) + DELEGATECALL", gas: b.proxyDelegatecallOverhead, note: "" },
    { part: "SLOAD (wallet)", gas: w.sload.gas, note: `${w.sload.cold} cold, ${w.sload.warm} warm` },
    { part: "SSTORE (wallet)", gas: w.sstore.gas, note: `${w.sstore.count}: ${w.sstore.slots.join("; ")}` },
    { part: "ecrecover (STATICCALL 0x01)", gas: w.ecrecover.gas, note: `${w.ecrecover.count} calls` },
    ...w.externalCalls.map((c) => ({
      part: `${c.op} ${c.target}`,
      gas: c.gas,
      note: c.coldAccount ? "cold account" : "warm account",
    })),
    { part: "LOG (events)", gas: w.logs.gas, note: `${w.logs.count} events` },
    { part: "KECCAK256", gas: w.keccak.gas, note: `${w.keccak.count} hashes` },
    { part: "other wallet opcodes", gas: w.other, note: "stack, memory, calldata copies, jumps" },
    { part: "refund", gas: b.refund === 0 ? 0 : -b.refund, note: "" },
  ]);
  console.log(`cold SLOADs: ${w.sload.coldSlots.join(", ")}`);

  const row = (part: string, f: (x: Breakdown) => number) => {
    const [a, s] = [f(b), f(safe)];
    return { part, agentWallet: a, safe2of2: s, difference: a - s };
  };
  const calls = (x: Breakdown) => x.walletFrame.externalCalls.reduce((sum, c) => sum + c.gas, 0);
  console.log("\nSide by side with safe2of2Erc20Transfer (steady state):");
  console.table([
    row("intrinsic (21000 + calldata)", (x) => x.intrinsic.base + x.intrinsic.calldataGas),
    row("proxy + DELEGATECALL", (x) => x.proxyDelegatecallOverhead),
    row("SLOAD", (x) => x.walletFrame.sload.gas),
    row("  cold SLOADs (count)", (x) => x.walletFrame.sload.cold),
    row("SSTORE", (x) => x.walletFrame.sstore.gas),
    row("ecrecover", (x) => x.walletFrame.ecrecover.gas),
    row("token calls (incl. cold account)", calls),
    row("LOG", (x) => x.walletFrame.logs.gas),
    row("KECCAK256", (x) => x.walletFrame.keccak.gas),
    row("other opcodes", (x) => x.walletFrame.other),
    row("refund", (x) => (x.refund === 0 ? 0 : -x.refund)),
    row("total", (x) => x.gasUsed),
  ]);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
