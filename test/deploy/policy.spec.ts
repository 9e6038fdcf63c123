import { expect } from "chai";
import { toFunctionSelector } from "viem";
import { devAccount, LOCAL_ROLES } from "../../src/chain/accounts";
import { parsePolicy, policyWarnings, UNSAFE_SELECTORS } from "../../src/deploy/policy";

const TOKEN = "0x1f9840a85d5aF5bf1D1762F925BDADdC4201F984";
const POOL = "0x87870Bca3F3fD6335C3F4ce8392D69350B4fA4E2";

/** A valid policy with these call permissions. */
const policyWith = (callPermissions: { target: string; selector: string }[]) =>
  parsePolicy({ owner: "deployer", cosigner: devAccount(LOCAL_ROLES.cosigner).address, callPermissions });

describe("deploy policy: call permissions the co-signer cannot fully see", function () {
  describe("policyWarnings", function () {
    it("warns about an ERC-777 authorizeOperator permission, naming the index, target and selector", function () {
      const warnings = policyWarnings(policyWith([{ target: TOKEN, selector: "authorizeOperator(address)" }]));
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.contain("callPermissions[0]").and.contain(TOKEN).and.contain("0x959b8c3f").and.contain("AuthorizedOperator");
    });

    it("warns about a selector given in hex as about its signature (Aave approveDelegation 0xc04a8a10)", function () {
      const warnings = policyWarnings(policyWith([{ target: POOL, selector: "0xC04A8A10" }]));
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.contain("approveDelegation(address,uint256)");
    });

    it("warns once per unsafe permission and not about a plain swap permission", function () {
      const warnings = policyWarnings(
        policyWith([
          { target: POOL, selector: "swap(address,address,uint256,uint256)" },
          { target: TOKEN, selector: "setOperator(address,bool)" },
          { target: TOKEN, selector: "approve(address,uint256,uint256)" },
          { target: TOKEN, selector: "approve(address,address,uint160,uint48)" },
        ]),
      );
      expect(warnings.map((w) => w.slice(0, w.indexOf("]") + 1))).to.deep.equal(["callPermissions[1]", "callPermissions[2]", "callPermissions[3]"]);
    });

    it("is empty for a policy without call permissions", function () {
      expect(policyWarnings(policyWith([]))).to.deep.equal([]);
    });
  });

  describe("UNSAFE_SELECTORS", function () {
    it("holds the selectors viem computes for ERC-777, ERC-6909, credit delegation, Permit2, increaseAllowance and permit", function () {
      const expected = [
        "authorizeOperator(address)",
        "send(address,uint256,bytes)",
        "operatorSend(address,address,uint256,bytes,bytes)",
        "setOperator(address,bool)",
        "approve(address,uint256,uint256)",
        "approveDelegation(address,uint256)",
        "approve(address,address,uint160,uint48)",
        "increaseAllowance(address,uint256)",
        "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
      ].map((s) => toFunctionSelector(s));
      expect([...UNSAFE_SELECTORS.keys()]).to.have.members(expected);
      expect(expected.slice(0, 1).concat(expected[3]!, expected[5]!, expected[6]!)).to.deep.equal(["0x959b8c3f", "0x558a7297", "0xc04a8a10", "0x87517c45"]);
    });
  });
});
