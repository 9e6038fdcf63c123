import { expect } from "chai";
import hre, { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { getAddress, toHex, type Address, type Hex } from "viem";
import type { EvmCall } from "../../src/simulation/next-block";
import { CONTROL_FIELDS, CONTROL_READS, WALLET_CONTROL_LAYOUT, checkControlLayout, controlOf, controlRequests } from "../../src/simulation/wallet-control";
import { deployWalletFixture } from "../fixtures";
import { expectRefusal } from "../support/engine";

interface StorageEntry {
  label: string;
  slot: string;
  offset: number;
  type: string;
}

/** The wallet's control state as the co-signer reads it, from the Hardhat network's storage. */
async function controlAt(wallet: Address) {
  const answers = await Promise.all(controlRequests(wallet).map((r) => ethers.provider.send(r.method, r.params)));
  expect(answers).to.have.length(CONTROL_READS);
  return Object.fromEntries(CONTROL_FIELDS.map((field, i) => [field, controlOf(answers)[i]!])) as Record<(typeof CONTROL_FIELDS)[number], Hex>;
}

const word = (address: string) => getAddress(address).toLowerCase() as Hex;

describe("the wallet's control state, read from its storage (wallet-control.ts)", function () {
  it("uses the slots and offsets the compiler gives AgentWallet's owner, pending owner, co-signer and pause flag", async function () {
    const info = await hre.artifacts.getBuildInfo("contracts/AgentWallet.sol:AgentWallet");
    const output = info!.output.contracts["contracts/AgentWallet.sol"]!["AgentWallet"] as unknown as { storageLayout?: { storage: StorageEntry[]; types: Record<string, { numberOfBytes: string }> } };
    expect(output.storageLayout, "hardhat.config.ts asks solc for storageLayout").to.not.equal(undefined);
    const { storage, types } = output.storageLayout!;
    for (const [field, expected] of Object.entries(WALLET_CONTROL_LAYOUT)) {
      const entry = storage.find((e) => e.label === expected.label);
      expect(entry, `${expected.label} (${field}) in AgentWallet's storage`).to.not.equal(undefined);
      expect({ slot: Number(entry!.slot), offset: entry!.offset, bytes: Number(types[entry!.type]!.numberOfBytes) }, field).to.deep.equal({
        slot: expected.slot,
        offset: expected.offset,
        bytes: expected.bytes,
      });
    }
    // Nothing else shares the slots read: a change of another variable there would read as a change of control.
    const slots = new Set<number>(Object.values(WALLET_CONTROL_LAYOUT).map((f) => f.slot));
    const labels = new Set(Object.values(WALLET_CONTROL_LAYOUT).map((f) => f.label as string));
    expect(storage.filter((e) => slots.has(Number(e.slot)) && !labels.has(e.label)).map((e) => e.label)).to.deep.equal([]);
  });

  it("reads what the wallet's getters answer, as the owner, the guardian and a transfer of ownership change it", async function () {
    const { wallet, owner, cosigner, guardian, mallory, alice } = await loadFixture(deployWalletFixture);
    const address = getAddress(await wallet.getAddress());
    const code = (await ethers.provider.getCode(address)) as Hex;
    const agree = async () => {
      const read = await controlAt(address);
      expect(read).to.deep.equal({
        owner: word(await wallet.owner()),
        pendingOwner: word(await wallet.pendingOwner()),
        cosigner: word(await wallet.cosigner()),
        paused: (await wallet.paused()) ? "0x01" : "0x00",
        code,
      });
      return read;
    };
    const start = await agree();
    expect(start.owner).to.equal(word(owner.address));
    expect(start.cosigner).to.equal(word(cosigner.address));

    await wallet.connect(guardian).pause();
    expect((await agree()).paused).to.equal("0x01");
    await wallet.connect(owner).setCosigner(alice.address);
    const moved = await agree();
    expect([moved.cosigner, moved.paused]).to.deep.equal([word(alice.address), "0x01"]);
    await wallet.connect(owner).unpause();
    expect((await agree()).cosigner, "the co-signer is read whole beside a cleared flag").to.equal(word(alice.address));
    await wallet.connect(owner).transferOwnership(mallory.address);
    expect((await agree()).pendingOwner).to.equal(word(mallory.address));
    await wallet.connect(mallory).acceptOwnership();
    const after = await agree();
    expect([after.owner, after.pendingOwner]).to.deep.equal([word(mallory.address), toHex(0n, { size: 20 })]);
  });

  describe("checkControlLayout (once per wallet, before its first simulation)", function () {
    const rpc = (<T>(method: string, params: unknown[] = []) => ethers.provider.send(method, params) as Promise<T>) as EvmCall;

    it("accepts an AgentWallet whose four fields are all set, each read both ways", async function () {
      const { wallet, guardian, owner, mallory } = await loadFixture(deployWalletFixture);
      await wallet.connect(guardian).pause();
      await wallet.connect(owner).transferOwnership(mallory.address);
      const address = getAddress(await wallet.getAddress());
      expect(Object.values(await controlAt(address)).every((v) => BigInt(v) !== 0n), "no field is zero").to.equal(true);
      await checkControlLayout(rpc, address);
    });

    it("refuses (WALLET_NOT_FOUND) a contract whose getters answer from other slots, and an address without code", async function () {
      const { owner, cosigner, alice } = await loadFixture(deployWalletFixture);
      const shifted = getAddress(await (await ethers.deployContract("ShiftedControlWallet", [owner.address, cosigner.address])).getAddress());
      const refusal = (address: Address) => expectRefusal(checkControlLayout(rpc, address), "WALLET_NOT_FOUND");
      const err = await refusal(shifted);
      expect(err.message).to.equal(
        `${shifted} does not keep its control state where this co-signer reads it (AgentWallet's storage layout): owner() answers ${toHex(BigInt(owner.address), { size: 32 })}, its slot holds ${toHex(0n, { size: 20 })}`,
      );
      const eoa = getAddress(alice.address);
      expect((await refusal(eoa)).message).to.match(/owner\(\) answers 0x, its slot holds/);
    });
  });
});
