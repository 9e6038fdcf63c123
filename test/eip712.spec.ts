import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { bytesToHex, getAddress, hashTypedData, zeroAddress, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { executeArgs, operationDigest, operationTypedData, type Bound, type Call, type Operation } from "../src/eip712";
import { deployWalletFixture } from "./fixtures";
import { CALL_GAS, erc20Transfer } from "./helpers";

const MAX_UINT256 = 2n ** 256n - 1n;
const MAX_INT256 = 2n ** 255n - 1n;
const MIN_INT256 = -(2n ** 255n);

// Hardhat's default accounts 1 (session key) and 2 (co-signer) of the standard wallet fixture. Public test keys.
const SESSION_KEY_PK = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const COSIGNER_PK = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

/** The standard wallet plus a second clone of the same config (other salt), to tell wallets apart. */
async function twoWalletsFixture() {
  const base = await deployWalletFixture();
  const otherSalt = ethers.id("countersign-test-other");
  const otherAddress = await base.factory.predictWallet(base.config, otherSalt);
  await base.factory.createWallet(base.config, otherSalt);
  const otherWallet = await ethers.getContractAt("AgentWallet", otherAddress);
  const { chainId } = await ethers.provider.getNetwork();
  return { ...base, otherWallet, chainId };
}

const uint256 = fc.bigInt({ min: 0n, max: MAX_UINT256 });
// Bias toward the edges (0, 1, max) as well as uniformly random words.
const word = fc.oneof(uint256, fc.constantFrom(0n, 1n, MAX_UINT256, MAX_UINT256 - 1n, 2n ** 255n));
const address = fc
  .uint8Array({ minLength: 20, maxLength: 20 })
  .chain((bytes) => fc.constantFrom(bytesToHex(bytes), getAddress(bytesToHex(bytes)))) as fc.Arbitrary<Address>;
// Lengths 0..300, odd ones included, with the ABI-word boundaries (4, 32, 68) drawn often.
const data = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 300, size: "max" }),
  fc.integer({ min: 0, max: 300 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
  fc.constantFrom(0, 1, 3, 4, 5, 31, 32, 33, 35, 36, 37, 67, 68, 69, 299, 300).chain((n) =>
    fc.uint8Array({ minLength: n, maxLength: n }),
  ),
).map((bytes) => bytesToHex(bytes));
const call: fc.Arbitrary<Call> = fc.record({ target: address, value: word, data });
// int256 over its whole range, with the edges and the small deltas bounds really carry.
const int256 = fc.oneof(
  fc.bigInt({ min: MIN_INT256, max: MAX_INT256 }),
  fc.constantFrom(MIN_INT256, MIN_INT256 + 1n, -1n, 0n, 1n, MAX_INT256 - 1n, MAX_INT256),
  fc.bigInt({ min: -(10n ** 24n), max: 10n ** 24n }),
);
const bound: fc.Arbitrary<Bound> = fc.record({
  asset: fc.oneof(address, fc.constant(zeroAddress as Address)),
  account: address,
  minDelta: int256,
});
const op: fc.Arbitrary<Operation> = fc.record({
  calls: fc.array(call, { minLength: 0, maxLength: 16, size: "max" }),
  nonce: word,
  deadline: word,
  callGasLimit: word,
  bounds: fc.array(bound, { minLength: 0, maxLength: 32, size: "max" }),
});

/** The on-chain operationDigest() arguments of `o`. */
function digestArgs(o: Operation): [Call[], bigint, bigint, bigint, Bound[]] {
  return [[...o.calls], o.nonce, o.deadline, o.callGasLimit, [...o.bounds]];
}

describe("src/eip712", function () {
  describe("operationDigest", function () {
    it("equals AgentWallet.operationDigest for random operations (0 to 16 calls, 0 to 32 bounds, any uint256/int256, any data)", async function () {
      const { wallet, chainId } = await loadFixture(twoWalletsFixture);
      const walletAddress = (await wallet.getAddress()) as Address;
      await fc.assert(
        fc.asyncProperty(op, async (o) => {
          const onChain = await wallet.operationDigest(...digestArgs(o));
          expect(operationDigest(chainId, walletAddress, o)).to.equal(onChain);
        }),
        { numRuns: 150 },
      );
    });

    it("equals viem's hashTypedData of operationTypedData (what the SDK and session keys sign) for random operations", function () {
      const chain = fc.bigInt({ min: 1n, max: 2n ** 53n - 1n });
      fc.assert(
        fc.property(op, chain, address, (o, id, verifyingContract) => {
          expect(operationDigest(id, verifyingContract, o)).to.equal(hashTypedData(operationTypedData(id, verifyingContract, o)));
        }),
        { numRuns: 500 },
      );
    });

    it("refuses a negative or oversized uint256 field rather than hashing it wrapped", function () {
      const base: Operation = { calls: [], nonce: 1n, deadline: 2n, callGasLimit: 3n, bounds: [] };
      const wallet = getAddress("0x00000000000000000000000000000000000000aa");
      expect(() => operationDigest(1, wallet, { ...base, nonce: -1n })).to.throw(RangeError);
      expect(() => operationDigest(1, wallet, { ...base, deadline: MAX_UINT256 + 1n })).to.throw(RangeError);
      expect(() => operationDigest(1, wallet, { ...base, calls: [{ target: wallet, value: -5n, data: "0x" }] })).to.throw(RangeError);
    });

    it("equals the on-chain digest of each wallet, and the two wallets' digests differ", async function () {
      const { wallet, otherWallet, chainId } = await loadFixture(twoWalletsFixture);
      const [a, b] = [(await wallet.getAddress()) as Address, (await otherWallet.getAddress()) as Address];
      await fc.assert(
        fc.asyncProperty(op, async (o) => {
          const [onA, onB] = await Promise.all([
            wallet.operationDigest(...digestArgs(o)),
            otherWallet.operationDigest(...digestArgs(o)),
          ]);
          expect(operationDigest(chainId, b, o)).to.equal(onB);
          expect(onB).to.not.equal(onA);
        }),
        { numRuns: 25 },
      );
    });

    it("differs for another chainId or another verifying contract", async function () {
      const { wallet, chainId } = await loadFixture(twoWalletsFixture);
      const walletAddress = (await wallet.getAddress()) as Address;
      const otherChainId = fc.bigInt({ min: 1n, max: 2n ** 53n - 1n }).filter((id) => id !== chainId);
      const otherAddress = address.filter((a) => a.toLowerCase() !== walletAddress.toLowerCase());
      await fc.assert(
        fc.asyncProperty(op, otherChainId, otherAddress, async (o, id, other) => {
          const onChain = await wallet.operationDigest(...digestArgs(o));
          expect(operationDigest(id, walletAddress, o)).to.not.equal(onChain);
          expect(operationDigest(chainId, other, o)).to.not.equal(onChain);
        }),
        { numRuns: 50 },
      );
    });
  });

  describe("operationDigest's v2 fields", function () {
    it("changes on chain and off chain alike when callGasLimit or any bound changes", async function () {
      const { wallet, chainId } = await loadFixture(twoWalletsFixture);
      const walletAddress = (await wallet.getAddress()) as Address;
      const withBound = op.filter((o) => o.bounds.length > 0);
      await fc.assert(
        fc.asyncProperty(withBound, fc.nat(), fc.bigInt({ min: 1n, max: 2n ** 64n }), async (o, pick, bump) => {
          const i = pick % o.bounds.length;
          const bounds = o.bounds.map((b, j) => (j === i ? { ...b, minDelta: b.minDelta === MAX_INT256 ? b.minDelta - bump : b.minDelta + 1n } : b));
          const variants: Operation[] = [{ ...o, callGasLimit: o.callGasLimit === MAX_UINT256 ? 0n : o.callGasLimit + 1n }, { ...o, bounds }];
          const original = await wallet.operationDigest(...digestArgs(o));
          for (const v of variants) {
            const onChain = await wallet.operationDigest(...digestArgs(v));
            expect(onChain).to.equal(operationDigest(chainId, walletAddress, v));
            expect(onChain).to.not.equal(original);
          }
        }),
        { numRuns: 40 },
      );
    });

    it("signs domain version 2", async function () {
      const { wallet } = await loadFixture(twoWalletsFixture);
      expect((await wallet.eip712Domain()).version).to.equal("2");
    });
  });

  describe("operationTypedData", function () {
    it("signed with viem's signTypedData by the session key and the co-signer, executes on chain", async function () {
      const { wallet, usdc, sessionKey, cosigner, relayer, alice, chainId } = await loadFixture(twoWalletsFixture);
      const agent = privateKeyToAccount(SESSION_KEY_PK);
      const cosign = privateKeyToAccount(COSIGNER_PK);
      expect([agent.address, cosign.address]).to.deep.equal([sessionKey.address, cosigner.address]);

      const walletAddress = (await wallet.getAddress()) as Address;
      const amount = 12_345_678n;
      const transfer = erc20Transfer(await usdc.getAddress(), alice.address, amount);
      const o: Operation = {
        calls: [{ target: transfer.target as Address, value: 0n, data: transfer.data as Hex }],
        nonce: 7n,
        deadline: BigInt(await time.latest()) + 300n,
        callGasLimit: CALL_GAS,
        bounds: [
          { asset: (await usdc.getAddress()) as Address, account: walletAddress, minDelta: -amount },
          { asset: (await usdc.getAddress()) as Address, account: alice.address as Address, minDelta: amount },
        ],
      };
      const typed = operationTypedData(chainId, walletAddress, o);
      const agentSignature = await agent.signTypedData(typed);
      const cosignerSignature = await cosign.signTypedData(typed);

      const tx = wallet.connect(relayer).execute(...executeArgs(o, agentSignature, cosignerSignature));
      await expect(tx)
        .to.emit(wallet, "Executed")
        .withArgs(operationDigest(chainId, walletAddress, o), sessionKey.address, o.nonce);
      await expect(tx).to.changeTokenBalances(usdc, [walletAddress, alice.address], [-amount, amount]);
      expect(await wallet.isNonceUsed(o.nonce)).to.equal(true);
    });

    it("signed by viem for another chainId, is refused on chain (the signature recovers to a stranger)", async function () {
      const { wallet, usdc, relayer, alice, chainId } = await loadFixture(twoWalletsFixture);
      const agent = privateKeyToAccount(SESSION_KEY_PK);
      const cosign = privateKeyToAccount(COSIGNER_PK);
      const walletAddress = (await wallet.getAddress()) as Address;
      const transfer = erc20Transfer(await usdc.getAddress(), alice.address, 1_000_000n);
      const o: Operation = {
        calls: [{ target: transfer.target as Address, value: 0n, data: transfer.data as Hex }],
        nonce: 8n,
        deadline: BigInt(await time.latest()) + 300n,
        callGasLimit: CALL_GAS,
        bounds: [],
      };
      const typed = operationTypedData(chainId + 1n, walletAddress, o);
      await expect(
        wallet
          .connect(relayer)
          .execute(...executeArgs(o, await agent.signTypedData(typed), await cosign.signTypedData(typed))),
      ).to.be.revertedWithCustomError(wallet, "UnknownSessionKey");
    });
  });
});
