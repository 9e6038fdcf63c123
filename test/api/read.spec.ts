import { expect } from "chai";
import { READ_SIGNATURE_HEADER, READ_TIMESTAMP_HEADER, readMessage } from "../../src/api";
import * as service from "../../src/http/read-auth";

// The SDK signs reads with src/api's message and headers; the service checks them with src/http/read-auth.ts.
describe("src/api signed reads", function () {
  it("use the headers and the message the service checks", function () {
    expect([READ_SIGNATURE_HEADER, READ_TIMESTAMP_HEADER]).to.deep.equal([service.READ_SIGNATURE_HEADER, service.READ_TIMESTAMP_HEADER]);
    expect(readMessage("op_1", 1_700_000_000)).to.equal(service.readMessage("op_1", 1_700_000_000));
  });
});
