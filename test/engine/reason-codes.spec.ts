import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { REASON_CODES } from "../../src/errors";

describe("engine: reason codes", function () {
  it("has a test in test/engine asserting each reason code the engine can produce", function () {
    const sources = readdirSync(__dirname)
      .filter((f) => f.endsWith(".spec.ts") && f !== basename(__filename))
      .map((f) => readFileSync(join(__dirname, f), "utf8"))
      .join("\n");
    const untested = REASON_CODES.filter((code) => !sources.includes(`"${code}"`));
    expect(untested, "reason codes no engine test asserts").to.deep.equal([]);
  });
});
