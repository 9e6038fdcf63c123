import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { deployWalletFixture } from "../fixtures";
import { CALL_GAS, erc20Transfer, executeArgs, nativeTransfer, operation, signOperation, signed } from "../helpers";
import { operationDigest as viemOperationDigest } from "../../src/eip712";
import { digestOf, ecrecoverPrecompile, opAt, recoveredBy, signWithDomain, toCompact, digestArgs } from "./utils";
import { highS } from "../support/signatures";

const AMOUNT = 10_000_000n; // 10 USDC

/** Authorisation of the agent path: pause, deadline, call count, nonce, session key and co-signature. */
describe("AgentWallet execute: authorisation", function () {
  async function transferOp(nonce = 1n) {
    const f = await loadFixture(deployWalletFixture);
    const op = await operation([erc20Transfer(await f.usdc.getAddress(), f.alice.address, AMOUNT)], nonce);
    return { ...f, op };
  }

  describe("when everything is valid", function () {
    it("can be relayed by anyone", async function () {
      const { wallet, op, sessionKey, cosigner, mallory, usdc, alice } = await transferOp();
      const args = await signed(wallet, op, sessionKey, cosigner);
      await expect(wallet.connect(mallory).execute(...args)).to.changeTokenBalance(usdc, alice, AMOUNT);
    });

    it("emits Executed with the operation digest, the session key, the nonce and the call count", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp(42n);
      const digest = await wallet.operationDigest(...digestArgs(op));
      const args = await signed(wallet, op, sessionKey, cosigner);
      await expect(wallet.connect(relayer).execute(...args))
        .to.emit(wallet, "Executed")
        .withArgs(digest, sessionKey.address, 42n);
    });

    it("hashes operations exactly as ethers' EIP-712 encoder does", async function () {
      const { wallet, op } = await transferOp();
      expect(await wallet.operationDigest(...digestArgs(op))).to.equal(await digestOf(wallet, op));
    });

    it("hashes operations exactly as the shared src/eip712.ts definition does", async function () {
      const { wallet, op } = await transferOp();
      const { chainId } = await ethers.provider.getNetwork();
      const offChain = viemOperationDigest(chainId, (await wallet.getAddress()) as `0x${string}`, {
        calls: op.calls.map((c) => ({ target: c.target as `0x${string}`, value: c.value, data: c.data as `0x${string}` })),
        nonce: op.nonce,
        deadline: op.deadline,
        callGasLimit: CALL_GAS,
        bounds: [],
      });
      expect(await wallet.operationDigest(...digestArgs(op))).to.equal(offChain);
    });

    it("marks the nonce used", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp(7n);
      await wallet.connect(relayer).execute(...(await signed(wallet, op, sessionKey, cosigner)));
      expect(await wallet.isNonceUsed(7n)).to.equal(true);
    });

    it("accepts a nonce anywhere in the uint256 range (unordered nonces)", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp(ethers.MaxUint256);
      await wallet.connect(relayer).execute(...(await signed(wallet, op, sessionKey, cosigner)));
      expect(await wallet.isNonceUsed(ethers.MaxUint256)).to.equal(true);
    });

    it("leaves the neighbouring nonces of the same bitmap word unused", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp(7n);
      await wallet.connect(relayer).execute(...(await signed(wallet, op, sessionKey, cosigner)));
      expect([await wallet.isNonceUsed(6n), await wallet.isNonceUsed(8n)]).to.deep.equal([false, false]);
    });
  });

  describe("when paused", function () {
    it("reverts with WalletPaused", async function () {
      const { wallet, op, sessionKey, cosigner, guardian, relayer } = await transferOp();
      await wallet.connect(guardian).pause();
      const args = await signed(wallet, op, sessionKey, cosigner);
      await expect(wallet.connect(relayer).execute(...args)).to.be.revertedWithCustomError(wallet, "WalletPaused");
    });
  });

  describe("deadline", function () {
    it("passes at the deadline second itself", async function () {
      const { wallet, usdc, alice, sessionKey, cosigner, relayer } = await loadFixture(deployWalletFixture);
      const deadline = BigInt(await time.latest()) + 100n;
      const op = opAt([erc20Transfer(await usdc.getAddress(), alice.address, AMOUNT)], 1n, deadline);
      const args = await signed(wallet, op, sessionKey, cosigner);
      await time.setNextBlockTimestamp(deadline);
      await expect(wallet.connect(relayer).execute(...args)).to.emit(wallet, "Executed");
    });

    it("reverts with DeadlineExpired one second past the deadline", async function () {
      const { wallet, usdc, alice, sessionKey, cosigner, relayer } = await loadFixture(deployWalletFixture);
      const deadline = BigInt(await time.latest()) + 100n;
      const op = opAt([erc20Transfer(await usdc.getAddress(), alice.address, AMOUNT)], 1n, deadline);
      const args = await signed(wallet, op, sessionKey, cosigner);
      await time.setNextBlockTimestamp(deadline + 1n);
      await expect(wallet.connect(relayer).execute(...args))
        .to.be.revertedWithCustomError(wallet, "DeadlineExpired")
        .withArgs(deadline, deadline + 1n);
    });
  });

  describe("call count", function () {
    it("reverts with InvalidCallCount(0) for an operation without calls", async function () {
      const { wallet, sessionKey, cosigner, relayer } = await loadFixture(deployWalletFixture);
      const op = await operation([], 1n);
      const args = await signed(wallet, op, sessionKey, cosigner);
      await expect(wallet.connect(relayer).execute(...args))
        .to.be.revertedWithCustomError(wallet, "InvalidCallCount")
        .withArgs(0n);
    });

    it("reverts with InvalidCallCount(17) for one call more than MAX_CALLS", async function () {
      const { wallet, alice, sessionKey, cosigner, relayer } = await loadFixture(deployWalletFixture);
      const op = await operation(Array.from({ length: 17 }, () => nativeTransfer(alice.address, 1n)), 1n);
      const args = await signed(wallet, op, sessionKey, cosigner);
      await expect(wallet.connect(relayer).execute(...args))
        .to.be.revertedWithCustomError(wallet, "InvalidCallCount")
        .withArgs(17n);
    });

    it("runs exactly MAX_CALLS calls", async function () {
      const { wallet, alice, sessionKey, cosigner, relayer } = await loadFixture(deployWalletFixture);
      const op = await operation(Array.from({ length: 16 }, () => nativeTransfer(alice.address, 1n)), 1n);
      const args = await signed(wallet, op, sessionKey, cosigner);
      await expect(wallet.connect(relayer).execute(...args)).to.changeEtherBalance(alice, 16n);
    });
  });

  describe("replay", function () {
    it("reverts with NonceAlreadyUsed when the same operation is sent again", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp(5n);
      const args = await signed(wallet, op, sessionKey, cosigner);
      await wallet.connect(relayer).execute(...args);
      await expect(wallet.connect(relayer).execute(...args))
        .to.be.revertedWithCustomError(wallet, "NonceAlreadyUsed")
        .withArgs(5n);
    });

    it("reverts with NonceAlreadyUsed for a different operation reusing an executed nonce", async function () {
      const { wallet, op, usdc, bob, sessionKey, cosigner, relayer } = await transferOp(5n);
      await wallet.connect(relayer).execute(...(await signed(wallet, op, sessionKey, cosigner)));
      const other = await operation([erc20Transfer(await usdc.getAddress(), bob.address, 1n)], 5n);
      await expect(wallet.connect(relayer).execute(...(await signed(wallet, other, sessionKey, cosigner))))
        .to.be.revertedWithCustomError(wallet, "NonceAlreadyUsed")
        .withArgs(5n);
    });

    it("refuses an operation signed for another chain id (the recovered signer is not a session key)", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp();
      const agentSig = await signWithDomain(sessionKey, wallet, op, { chainId: 1n });
      const cosignerSig = await signWithDomain(cosigner, wallet, op, { chainId: 1n });
      const recovered = await recoveredBy(wallet, op, agentSig);
      expect(recovered).to.not.equal(sessionKey.address);
      await expect(wallet.connect(relayer).execute(op.calls, op.nonce, op.deadline, CALL_GAS, [], agentSig, cosignerSig))
        .to.be.revertedWithCustomError(wallet, "UnknownSessionKey")
        .withArgs(recovered);
    });

    it("refuses an operation signed for another wallet with the same keys", async function () {
      const { factory, wallet, config, op, sessionKey, cosigner, relayer } = await transferOp();
      const otherAddress = await factory.predictWallet(config, ethers.id("another-salt"));
      await factory.createWallet(config, ethers.id("another-salt"));
      const walletB = await ethers.getContractAt("AgentWallet", otherAddress);
      const [calls, nonce, deadline, gas, bounds, agentSig, cosignerSig] = await signed(wallet, op, sessionKey, cosigner);
      const recovered = await recoveredBy(walletB, op, agentSig);
      await expect(walletB.connect(relayer).execute(calls, nonce, deadline, gas, bounds, agentSig, cosignerSig))
        .to.be.revertedWithCustomError(walletB, "UnknownSessionKey")
        .withArgs(recovered);
    });

    it("refuses an operation whose calls the relayer changed after signing", async function () {
      const { wallet, op, usdc, alice, sessionKey, cosigner, relayer } = await transferOp();
      const [, nonce, deadline, , , agentSig, cosignerSig] = await signed(wallet, op, sessionKey, cosigner);
      const tampered = opAt([erc20Transfer(await usdc.getAddress(), alice.address, AMOUNT * 50n)], nonce, deadline);
      const recovered = await recoveredBy(wallet, tampered, agentSig);
      await expect(wallet.connect(relayer).execute(...executeArgs(tampered, agentSig, cosignerSig)))
        .to.be.revertedWithCustomError(wallet, "UnknownSessionKey")
        .withArgs(recovered);
    });

    it("refuses an operation whose deadline the relayer extended after signing", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp();
      const [calls, nonce, deadline, gas, bounds, agentSig, cosignerSig] = await signed(wallet, op, sessionKey, cosigner);
      const recovered = await recoveredBy(wallet, { calls, nonce, deadline: deadline + 3600n }, agentSig);
      await expect(wallet.connect(relayer).execute(calls, nonce, deadline + 3600n, gas, bounds, agentSig, cosignerSig))
        .to.be.revertedWithCustomError(wallet, "UnknownSessionKey")
        .withArgs(recovered);
    });
  });

  describe("session key", function () {
    it("reverts with UnknownSessionKey when the agent signature is from an unregistered key", async function () {
      const { wallet, op, mallory, cosigner, relayer } = await transferOp();
      const args = await signed(wallet, op, mallory, cosigner);
      await expect(wallet.connect(relayer).execute(...args))
        .to.be.revertedWithCustomError(wallet, "UnknownSessionKey")
        .withArgs(mallory.address);
    });

    it("passes at the key's validUntil second itself", async function () {
      const { wallet, usdc, alice, config, sessionKey, cosigner, relayer } = await loadFixture(deployWalletFixture);
      const validUntil = config.sessionKeys[0].validUntil;
      const op = opAt([erc20Transfer(await usdc.getAddress(), alice.address, AMOUNT)], 1n, validUntil + 100n);
      const args = await signed(wallet, op, sessionKey, cosigner);
      await time.setNextBlockTimestamp(validUntil);
      await expect(wallet.connect(relayer).execute(...args)).to.emit(wallet, "Executed");
    });

    it("reverts with SessionKeyExpired one second after validUntil", async function () {
      const { wallet, usdc, alice, config, sessionKey, cosigner, relayer } = await loadFixture(deployWalletFixture);
      const validUntil = config.sessionKeys[0].validUntil;
      const op = opAt([erc20Transfer(await usdc.getAddress(), alice.address, AMOUNT)], 1n, validUntil + 100n);
      const args = await signed(wallet, op, sessionKey, cosigner);
      await time.setNextBlockTimestamp(validUntil + 1n);
      await expect(wallet.connect(relayer).execute(...args))
        .to.be.revertedWithCustomError(wallet, "SessionKeyExpired")
        .withArgs(sessionKey.address, validUntil);
    });

    it("reverts with SessionKeyExpired long after expiry (time.increaseTo)", async function () {
      const { wallet, usdc, alice, config, sessionKey, cosigner, relayer } = await loadFixture(deployWalletFixture);
      const validUntil = config.sessionKeys[0].validUntil;
      const op = opAt([erc20Transfer(await usdc.getAddress(), alice.address, AMOUNT)], 1n, validUntil + 10n * 86_400n);
      const args = await signed(wallet, op, sessionKey, cosigner);
      await time.increaseTo(validUntil + 86_400n);
      await expect(wallet.connect(relayer).execute(...args))
        .to.be.revertedWithCustomError(wallet, "SessionKeyExpired")
        .withArgs(sessionKey.address, validUntil);
    });

    it("reverts with UnknownSessionKey after a guardian revoked the key", async function () {
      const { wallet, op, guardian, sessionKey, cosigner, relayer } = await transferOp();
      const args = await signed(wallet, op, sessionKey, cosigner);
      await wallet.connect(guardian).revokeSessionKey(sessionKey.address);
      await expect(wallet.connect(relayer).execute(...args))
        .to.be.revertedWithCustomError(wallet, "UnknownSessionKey")
        .withArgs(sessionKey.address);
    });
  });

  describe("co-signature", function () {
    it("reverts with InvalidCosignerSignature(mallory) when the co-signature is forged by mallory", async function () {
      const { wallet, op, sessionKey, mallory, relayer } = await transferOp();
      const args = await signed(wallet, op, sessionKey, mallory);
      await expect(wallet.connect(relayer).execute(...args))
        .to.be.revertedWithCustomError(wallet, "InvalidCosignerSignature")
        .withArgs(mallory.address);
    });

    it("reverts with InvalidCosignerSignature(0) when the co-signature is missing", async function () {
      const { wallet, op, sessionKey, relayer } = await transferOp();
      const agentSig = await signOperation(sessionKey, wallet, op);
      await expect(wallet.connect(relayer).execute(op.calls, op.nonce, op.deadline, CALL_GAS, [], agentSig, "0x"))
        .to.be.revertedWithCustomError(wallet, "InvalidCosignerSignature")
        .withArgs(ethers.ZeroAddress);
    });

    it("reverts with InvalidCosignerSignature(sessionKey) when the agent signs both parts", async function () {
      const { wallet, op, sessionKey, relayer } = await transferOp();
      const agentSig = await signOperation(sessionKey, wallet, op);
      await expect(wallet.connect(relayer).execute(op.calls, op.nonce, op.deadline, CALL_GAS, [], agentSig, agentSig))
        .to.be.revertedWithCustomError(wallet, "InvalidCosignerSignature")
        .withArgs(sessionKey.address);
    });

    it("reverts with UnknownSessionKey(cosigner) when the two signatures are swapped", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp();
      const [calls, nonce, deadline, gas, bounds, agentSig, cosignerSig] = await signed(wallet, op, sessionKey, cosigner);
      await expect(wallet.connect(relayer).execute(calls, nonce, deadline, gas, bounds, cosignerSig, agentSig))
        .to.be.revertedWithCustomError(wallet, "UnknownSessionKey")
        .withArgs(cosigner.address);
    });

    it("reverts with InvalidCosignerSignature(old) after the owner replaced the co-signer", async function () {
      const { wallet, op, owner, sessionKey, cosigner, bob, relayer } = await transferOp();
      const args = await signed(wallet, op, sessionKey, cosigner);
      await wallet.connect(owner).setCosigner(bob.address);
      await expect(wallet.connect(relayer).execute(...args))
        .to.be.revertedWithCustomError(wallet, "InvalidCosignerSignature")
        .withArgs(cosigner.address);
    });
  });

  describe("malformed signatures", function () {
    it("reverts with InvalidAgentSignature for a high-s agent signature", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp();
      const [calls, nonce, deadline, gas, bounds, agentSig, cosignerSig] = await signed(wallet, op, sessionKey, cosigner);
      // The flipped signature still recovers to the session key with a bare ecrecover: only the s check stops it.
      const digest = await wallet.operationDigest(calls, nonce, deadline, gas, bounds);
      expect(await ecrecoverPrecompile(digest, highS(agentSig))).to.equal(sessionKey.address);
      await expect(
        wallet.connect(relayer).execute(calls, nonce, deadline, gas, bounds, highS(agentSig), cosignerSig),
      ).to.be.revertedWithCustomError(wallet, "InvalidAgentSignature");
    });

    it("reverts with InvalidCosignerSignature(0) for a high-s co-signature", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp();
      const [calls, nonce, deadline, gas, bounds, agentSig, cosignerSig] = await signed(wallet, op, sessionKey, cosigner);
      await expect(wallet.connect(relayer).execute(calls, nonce, deadline, gas, bounds, agentSig, highS(cosignerSig)))
        .to.be.revertedWithCustomError(wallet, "InvalidCosignerSignature")
        .withArgs(ethers.ZeroAddress);
    });

    it("reverts with InvalidAgentSignature for a 64-byte EIP-2098 agent signature", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp();
      const [calls, nonce, deadline, gas, bounds, agentSig, cosignerSig] = await signed(wallet, op, sessionKey, cosigner);
      expect(ethers.dataLength(toCompact(agentSig))).to.equal(64);
      await expect(
        wallet.connect(relayer).execute(calls, nonce, deadline, gas, bounds, toCompact(agentSig), cosignerSig),
      ).to.be.revertedWithCustomError(wallet, "InvalidAgentSignature");
    });

    it("reverts with InvalidCosignerSignature(0) for a 64-byte EIP-2098 co-signature", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp();
      const [calls, nonce, deadline, gas, bounds, agentSig, cosignerSig] = await signed(wallet, op, sessionKey, cosigner);
      await expect(wallet.connect(relayer).execute(calls, nonce, deadline, gas, bounds, agentSig, toCompact(cosignerSig)))
        .to.be.revertedWithCustomError(wallet, "InvalidCosignerSignature")
        .withArgs(ethers.ZeroAddress);
    });

    it("reverts with InvalidAgentSignature for 65 zero bytes (ecrecover returns zero)", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp();
      const [calls, nonce, deadline, gas, bounds, , cosignerSig] = await signed(wallet, op, sessionKey, cosigner);
      await expect(
        wallet.connect(relayer).execute(calls, nonce, deadline, gas, bounds, ethers.ZeroHash + "00", cosignerSig),
      ).to.be.revertedWithCustomError(wallet, "InvalidAgentSignature");
    });

    it("reverts with InvalidCosignerSignature(0) for 65 zero bytes as co-signature", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp();
      const [calls, nonce, deadline, gas, bounds, agentSig] = await signed(wallet, op, sessionKey, cosigner);
      await expect(
        wallet.connect(relayer).execute(calls, nonce, deadline, gas, bounds, agentSig, ethers.concat([new Uint8Array(65)])),
      )
        .to.be.revertedWithCustomError(wallet, "InvalidCosignerSignature")
        .withArgs(ethers.ZeroAddress);
    });

    it("reverts with InvalidAgentSignature for a signature whose v is neither 27 nor 28", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp();
      const [calls, nonce, deadline, gas, bounds, agentSig, cosignerSig] = await signed(wallet, op, sessionKey, cosigner);
      const bytes = ethers.getBytes(agentSig);
      bytes[64] = bytes[64] - 27; // v = 0 or 1
      await expect(
        wallet.connect(relayer).execute(calls, nonce, deadline, gas, bounds, ethers.hexlify(bytes), cosignerSig),
      ).to.be.revertedWithCustomError(wallet, "InvalidAgentSignature");
    });

    it("reverts with InvalidAgentSignature for an empty agent signature", async function () {
      const { wallet, op, sessionKey, cosigner, relayer } = await transferOp();
      const [calls, nonce, deadline, gas, bounds, , cosignerSig] = await signed(wallet, op, sessionKey, cosigner);
      await expect(
        wallet.connect(relayer).execute(calls, nonce, deadline, gas, bounds, "0x", cosignerSig),
      ).to.be.revertedWithCustomError(wallet, "InvalidAgentSignature");
    });
  });

  describe("co-signer configuration", function () {
    it("cannot be unset: setCosigner(0) reverts with InvalidAddress(0)", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).setCosigner(ethers.ZeroAddress))
        .to.be.revertedWithCustomError(wallet, "InvalidAddress")
        .withArgs(ethers.ZeroAddress);
    });

    it("cannot be the wallet itself: setCosigner(wallet) reverts with InvalidAddress(wallet)", async function () {
      const { wallet, owner } = await loadFixture(deployWalletFixture);
      await expect(wallet.connect(owner).setCosigner(wallet))
        .to.be.revertedWithCustomError(wallet, "InvalidAddress")
        .withArgs(await wallet.getAddress());
    });
  });
});
