/**
 * The approver's page (/ui) in headless Chromium (Debian's `chromium`, driven by playwright-core), against the service
 * on a real local chain with the default approval policy (deployments/approval-policy.json) and two named approvers.
 * Screenshots go to test-results/ for a reviewer.
 */
import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { hashToken } from "../../src/approvals/approvers";
import { devAccount, LOCAL_ROLES } from "../../src/chain/accounts";
import { bearer, call, executeOnChain, startHttpHarness, usdc, usdcTransfer, type HttpHarness, type OperationBody } from "../support/http";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = resolve(__dirname, "..", "..", "test-results");
const ALICE_OPS = "alice-ops-token-for-the-page-0123456789";
const BOB_OPS = "bob-ops-token-for-the-page-0123456789ab";
const alice = devAccount(LOCAL_ROLES.alice).address;
const bob = devAccount(LOCAL_ROLES.bob).address;

describe("the approver's page /ui (headless Chromium)", function () {
  this.timeout(240_000);
  let h: HttpHarness;
  let browser: Browser;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}: the browser tests drive Debian's chromium with playwright-core. ` +
          "Install it with `sudo apt-get install -y chromium` (or set CHROMIUM_PATH); `npx playwright install` is not used here.",
      );
    }
    mkdirSync(SHOTS, { recursive: true });
    const dir = mkdtempSync(join(tmpdir(), "countersign-ui-"));
    writeFileSync(
      join(dir, "approvers.json"),
      JSON.stringify({ approvers: [{ name: "alice-ops", tokenSha256: hashToken(ALICE_OPS) }, { name: "bob-ops", tokenSha256: hashToken(BOB_OPS) }] }),
    );
    h = await startHttpHarness(() => ({ APPROVAL_POLICY_FILE: resolve(__dirname, "..", "..", "deployments", "approval-policy.json"), APPROVERS_FILE: join(dir, "approvers.json") }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
    // bob becomes a known recipient (two approvals through the API), so a large payment to him needs one person.
    const first = await call(h.url, "POST", "/v1/operations", await usdcTransfer(h, bob, usdc(1)));
    expect(first.body.reasons[0].message).to.contain("first-payment-to-new-recipient");
    await call(h.url, "POST", `/v1/operations/${first.body.id}/approve`, {}, bearer(ALICE_OPS));
    expect((await call(h.url, "POST", `/v1/operations/${first.body.id}/approve`, {}, bearer(BOB_OPS))).body.status).to.equal("approved");
  });
  after(async function () {
    await browser?.close();
    await h?.stop();
  });

  /** A new page signed in with `token` (typed and submitted with the keyboard). */
  async function signedIn(token: string, viewport = { width: 1100, height: 900 }): Promise<Page> {
    const page = await browser.newPage({ viewport });
    await page.goto(`${h.url}/ui`);
    await page.getByLabel("Approver token").fill(token);
    await page.keyboard.press("Enter");
    await page.getByText(/Signed in as /).waitFor();
    return page;
  }

  /** Proposes and checks it waits for people. */
  async function pending(op: OperationBody): Promise<string> {
    const res = await call(h.url, "POST", "/v1/operations", op);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return res.body.id as string;
  }

  const card = (page: Page, id: string) => page.locator(`li.op[data-id="${id}"]`);

  it("shows a pending operation in plain words: amount, recipient, rule and why, changes, budget after, approvals, time left", async function () {
    const id = await pending(await usdcTransfer(h, alice, usdc(300), { nonce: undefined }));
    const page = await signedIn(ALICE_OPS);
    const item = card(page, id);
    await item.waitFor();
    expect(await item.locator("h3").textContent()).to.equal("pay 300.00 USDC to alice 0x9965…A4dc");
    const text = (await item.textContent()) ?? "";
    expect(text).to.contain("first-payment-to-new-recipient").and.contain("irreversible");
    expect(text).to.contain("NEW_RECIPIENT");
    expect(text).to.contain("wallet 0x").and.contain("-300.00 USDC").and.contain("alice 0x9965…A4dc +300.00 USDC");
    expect(text).to.match(/700\.00 USDC left of 1,000\.00 USDC after it|left of .* USDC after it/);
    expect(text).to.contain("0 of 2");
    expect(text).to.match(/\d+ min \d+ s left|\d+ s left/);
    await page.screenshot({ path: join(SHOTS, "ui-pending.png"), fullPage: true });
    const phone = await signedIn(ALICE_OPS, { width: 390, height: 844 });
    await card(phone, id).waitFor();
    const width = Number(await phone.evaluate("document.documentElement.scrollWidth"));
    expect(width, "no horizontal scrolling on a phone-sized screen").to.be.at.most(390);
    await phone.screenshot({ path: join(SHOTS, "ui-pending-phone.png"), fullPage: true });
    await phone.close();
    await page.close();
    await call(h.url, "POST", `/v1/operations/${id}/reject`, { note: "test done" }, bearer(ALICE_OPS));
  });

  it("Approve leads to a valid co-signature: the wallet executes the operation on chain", async function () {
    const op = await usdcTransfer(h, bob, usdc(300));
    const id = await pending(op);
    const page = await signedIn(BOB_OPS);
    const item = card(page, id);
    await item.waitFor();
    expect((await item.textContent()) ?? "").to.contain("large-third-party-payment").and.contain("0 of 1");
    const approve = item.getByRole("button", { name: "Approve" });
    await approve.focus();
    await page.keyboard.press("Enter");
    await page.getByText("Approved: simulated again and co-signed.").first().waitFor();
    await page.screenshot({ path: join(SHOTS, "ui-approved.png"), fullPage: true });
    const decision = (await call(h.url, "GET", `/v1/operations/${id}`, undefined, bearer(BOB_OPS))).body;
    expect(decision.status).to.equal("approved");
    expect(decision.decidedBy).to.equal("bob-ops");
    expect((await executeOnChain(h, op, decision.cosignerSignature)).status).to.equal("success");
    await item.waitFor({ state: "detached" });
    await page.close();
  });

  it("Reject is final: it needs a reason, then the operation cannot be approved and the history shows why", async function () {
    const id = await pending(await usdcTransfer(h, bob, usdc(260)));
    const page = await signedIn(ALICE_OPS);
    const item = card(page, id);
    await item.waitFor();
    await item.getByRole("button", { name: "Reject" }).click();
    await item.getByText("Write the reason for the rejection first.").waitFor();
    expect((await call(h.url, "GET", `/v1/operations/${id}`, undefined, bearer(ALICE_OPS))).body.status).to.equal("pending_approval");
    await item.getByLabel("Reason (required to reject)").fill("the invoice was already paid");
    await item.getByRole("button", { name: "Reject" }).click();
    await item.waitFor({ state: "detached" });
    const again = await call(h.url, "POST", `/v1/operations/${id}/approve`, {}, bearer(BOB_OPS));
    expect(again.status).to.equal(409);
    expect(again.body.error.details.state).to.equal("rejected");
    await page.getByRole("button", { name: "History" }).click();
    const past = card(page, id);
    await past.waitFor();
    const text = (await past.textContent()) ?? "";
    expect(text).to.contain("rejected").and.contain("the invoice was already paid").and.contain("alice-ops");
    await page.screenshot({ path: join(SHOTS, "ui-history.png"), fullPage: true });
    await page.close();
  });

  it("a two-approver operation needs both: the first approval waits, the second signs", async function () {
    const op = await usdcTransfer(h, alice, usdc(200));
    const id = await pending(op);
    const first = await signedIn(ALICE_OPS);
    await card(first, id).getByRole("button", { name: "Approve" }).click();
    await card(first, id).getByText("Your approval is recorded; it needs another approver.").waitFor();
    await card(first, id).locator('[data-field="approvals"]').getByText("1 of 2 (alice-ops)").waitFor();
    expect((await call(h.url, "GET", `/v1/operations/${id}`, undefined, bearer(ALICE_OPS))).body.status).to.equal("pending_approval");
    // The same approver again does not count.
    await card(first, id).getByRole("button", { name: "Approve" }).click();
    await card(first, id).getByText(/already approved/).waitFor();
    await first.screenshot({ path: join(SHOTS, "ui-quorum-one-of-two.png"), fullPage: true });
    await first.close();
    const second = await signedIn(BOB_OPS);
    await card(second, id).getByText("1 of 2 (alice-ops)").waitFor();
    await card(second, id).getByRole("button", { name: "Approve" }).click();
    await second.getByText("Approved: simulated again and co-signed.").first().waitFor();
    const decision = (await call(h.url, "GET", `/v1/operations/${id}`, undefined, bearer(BOB_OPS))).body;
    expect(decision.status).to.equal("approved");
    expect(decision.decidedBy).to.equal("alice-ops, bob-ops");
    expect((await executeOnChain(h, op, decision.cosignerSignature)).status).to.equal("success");
    await second.close();
  });

  it("updates without a reload and keeps the token for the tab only", async function () {
    const page = await signedIn(ALICE_OPS);
    const id = await pending(await usdcTransfer(h, bob, usdc(270)));
    await card(page, id).waitFor({ timeout: 15_000 });
    expect(await page.evaluate("localStorage.length")).to.equal(0);
    expect(await page.evaluate("sessionStorage.length")).to.equal(1);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Approver token").waitFor();
    expect(await page.evaluate("sessionStorage.length")).to.equal(0);
    await page.close();
    await call(h.url, "POST", `/v1/operations/${id}/reject`, { note: "test done" }, bearer(ALICE_OPS));
  });
});
