import { expect } from "chai";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { REASON_CODES } from "../../src/errors";

/**
 * Which reason codes the test suite asserts, read from the specs' syntax trees. A code counts as asserted only where
 * it is a string literal in one of these places (a mention in a comment, a fixture, a log line or a `throw` does not):
 *
 * 1. the code argument of a helper that checks a code: `expectRefusal(promise, "CODE", status?)` and
 *    `expectRejected(decision, "CODE", ...)` (test/support/engine.ts), `expectError(answer, status, "CODE")`
 *    (test/e2e), `expectCode(promise, "CODE")` (test/store/contract.ts);
 * 2. the expected value of a chai assertion (`equal`, `eql`, `include`, `contain`, `members`, `oneOf`) whose subject
 *    reads a code: `expect(err.code).to.equal("CODE")`, `expect(d.reasons.map((r) => r.code)).to.deep.equal(["CODE"])`,
 *    `expect([err.status, err.code]).to.deep.equal([422, "CODE"])`, `expect(err.codes).to.include("CODE")`;
 * 3. a `code: "CODE"` property of an expected value of a chai assertion, whatever its subject:
 *    `expect(reasons).to.deep.equal([{ code: "CODE", message }])`, `expect(payload).to.include({ code: "CODE" })`;
 * 4. `.property("code", "CODE")` in a chai chain: `expect(err).to.be.instanceOf(CountersignError).with.property("code", "CODE")`.
 *
 * A chain with `.not` asserts the code's absence and never counts.
 */
const CODE_HELPERS: Record<string, { index: number; rest?: boolean }> = {
  expectRefusal: { index: 1 },
  expectRejected: { index: 1, rest: true },
  expectError: { index: 2 },
  expectCode: { index: 1 },
};
const MATCHERS = new Set(["equal", "equals", "eq", "eql", "include", "includes", "contain", "contains", "members", "oneOf", "property"]);

const TEST_ROOT = join(__dirname, "..");
const CODES = new Set<string>(REASON_CODES);

/** Every .ts file under `dir`, recursively. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

const parse = (source: string, fileName = "snippet.ts") => ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);

function stringValue(node: ts.Node): string | undefined {
  return ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) ? node.text : undefined;
}

/** Every string literal in `node` (itself included) that is a reason code. */
function codeLiterals(node: ts.Node): string[] {
  const found: string[] = [];
  const visit = (n: ts.Node) => {
    const value = stringValue(n);
    if (value !== undefined && CODES.has(value)) found.push(value);
    n.forEachChild(visit);
  };
  visit(node);
  return found;
}

/** Every `code: "CODE"` property in `node`. */
function codeProperties(node: ts.Node): string[] {
  const found: string[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isPropertyAssignment(n) && n.name.getText() === "code") {
      const value = stringValue(n.initializer);
      if (value !== undefined && CODES.has(value)) found.push(value);
    }
    n.forEachChild(visit);
  };
  visit(node);
  return found;
}

/** Whether `node` reads a code: a `.code`/`.codes` property or a variable named `code`/`codes`. */
function readsCode(node: ts.Node): boolean {
  if (ts.isPropertyAccessExpression(node) && ["code", "codes"].includes(node.name.text)) return true;
  if (ts.isIdentifier(node) && ["code", "codes"].includes(node.text) && !ts.isPropertyAssignment(node.parent)) return true;
  return node.forEachChild(readsCode) ?? false;
}

/** For a matcher call of a chai chain, `expect(subject)` at its root and the names along the chain; else undefined. */
function chaiRoot(call: ts.CallExpression): { subject: ts.Expression | undefined; names: string[] } | undefined {
  const names: string[] = [];
  let node: ts.Expression = call.expression;
  for (;;) {
    if (ts.isPropertyAccessExpression(node)) {
      names.push(node.name.text);
      node = node.expression;
    } else if (ts.isCallExpression(node)) {
      if (ts.isIdentifier(node.expression) && node.expression.text === "expect") return { subject: node.arguments[0], names };
      node = node.expression;
    } else if (ts.isNonNullExpression(node) || ts.isParenthesizedExpression(node)) {
      node = node.expression;
    } else {
      return undefined;
    }
  }
}

/** The reason codes `source` asserts (rules 1-4 above), each with the lines where it is asserted. */
function assertedCodes(source: string, fileName = "snippet.ts"): Map<string, number[]> {
  const file = parse(source, fileName);
  const asserted = new Map<string, number[]>();
  const add = (code: string, node: ts.Node) => {
    const line = file.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    asserted.set(code, [...(asserted.get(code) ?? []), line]);
  };
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const helper = ts.isIdentifier(callee) ? CODE_HELPERS[callee.text] : undefined;
      if (helper) {
        const args = helper.rest ? node.arguments.slice(helper.index) : node.arguments.slice(helper.index, helper.index + 1);
        for (const arg of args) {
          const value = stringValue(arg);
          if (value !== undefined && CODES.has(value)) add(value, arg);
        }
      }
      if (ts.isPropertyAccessExpression(callee) && MATCHERS.has(callee.name.text)) {
        const root = chaiRoot(node);
        if (root?.subject && !root.names.includes("not")) {
          const matcher = callee.name.text;
          if (matcher === "property") {
            const [name, value] = node.arguments.map(stringValue);
            if (name === "code" && value !== undefined && CODES.has(value)) add(value, node);
          } else if (readsCode(root.subject)) {
            for (const arg of node.arguments) for (const code of codeLiterals(arg)) add(code, arg);
          } else {
            for (const arg of node.arguments) for (const code of codeProperties(arg)) add(code, arg);
          }
        }
      }
    }
    node.forEachChild(visit);
  };
  visit(file);
  return asserted;
}

/** Where each helper of CODE_HELPERS is declared, with the name of its code parameter. */
function helperDeclarations(files: string[]): Map<string, string[]> {
  const declared = new Map<string, string[]>();
  for (const path of files) {
    const visit = (node: ts.Node) => {
      if (ts.isFunctionDeclaration(node) && node.name && CODE_HELPERS[node.name.text]) {
        const param = node.parameters[CODE_HELPERS[node.name.text]!.index];
        const at = `${relative(TEST_ROOT, path)} (${param ? `${param.dotDotDotToken ? "..." : ""}${param.name.getText()}` : "no such parameter"})`;
        declared.set(node.name.text, [...(declared.get(node.name.text) ?? []), at]);
      }
      node.forEachChild(visit);
    };
    visit(parse(readFileSync(path, "utf8"), path));
  }
  return declared;
}

describe("reason codes", function () {
  const files = tsFiles(TEST_ROOT).filter((f) => f !== __filename);

  it("has a test asserting each reason code as a refusal's code or a decision's reason", function () {
    const where = new Map<string, string[]>();
    for (const path of files) {
      for (const [code, lines] of assertedCodes(readFileSync(path, "utf8"), path)) {
        where.set(code, [...(where.get(code) ?? []), ...lines.map((l) => `${relative(TEST_ROOT, path)}:${l}`)]);
      }
    }
    const unasserted = REASON_CODES.filter((code) => !where.has(code));
    expect(unasserted, "reason codes no test asserts (see the rules at the top of this file)").to.deep.equal([]);
  });

  it("reads the code at the argument where each assertion helper takes it", function () {
    const declared = helperDeclarations(files);
    for (const [name, { rest }] of Object.entries(CODE_HELPERS)) {
      const declarations = declared.get(name) ?? [];
      expect(declarations, `${name} is declared somewhere under test/`).to.not.be.empty;
      for (const at of declarations) expect(at, name).to.match(rest ? /\(\.\.\.codes\)$/ : /\(code\)$/);
    }
  });

  describe("what counts as asserting a code", function () {
    const counted = (source: string) => [...assertedCodes(source).keys()];

    it("counts the code argument of the assertion helpers, over several lines too", function () {
      expect(counted(`await expectRefusal(engine.propose(body), "NONCE_USED", 409);`)).to.deep.equal(["NONCE_USED"]);
      expect(counted(`await expectRefusal(\n  engine.propose(body),\n  "BUSY",\n  503,\n);`)).to.deep.equal(["BUSY"]);
      expect(counted(`expectRejected(decision, "INTENT_MISMATCH", "BOUND_VIOLATED");`)).to.deep.equal(["INTENT_MISMATCH", "BOUND_VIOLATED"]);
      expect(counted(`expectError(await post("/v1/operations", op), 401, "BAD_AGENT_SIGNATURE");`)).to.deep.equal(["BAD_AGENT_SIGNATURE"]);
      expect(counted(`await expectCode(store.get("x"), "STORE_UNAVAILABLE");`)).to.deep.equal(["STORE_UNAVAILABLE"]);
    });

    it("counts the expected value of an assertion on a code", function () {
      expect(counted(`expect(err.code).to.equal("NOT_FOUND");`)).to.deep.equal(["NOT_FOUND"]);
      expect(counted(`expect((outcome as R).reason.code).to.equal("WALLET_PAUSED");`)).to.deep.equal(["WALLET_PAUSED"]);
      expect(counted(`expect(d.reasons.map((r) => r.code)).to.deep.equal(["ABOVE_REVIEW_THRESHOLD", "NEW_RECIPIENT"]);`)).to.deep.equal([
        "ABOVE_REVIEW_THRESHOLD",
        "NEW_RECIPIENT",
      ]);
      expect(counted(`expect(d.reasons.map((r) => r.code)).to.include("ANOMALY_FLAGGED");`)).to.deep.equal(["ANOMALY_FLAGGED"]);
      expect(counted(`expect([err.status, err.code]).to.deep.equal([422, "DEADLINE_TOO_FAR"]);`)).to.deep.equal(["DEADLINE_TOO_FAR"]);
      expect(counted(`expect(errors.map((e) => e.code)).to.deep.equal(Array(7).fill("NONCE_CONFLICT"));`)).to.deep.equal(["NONCE_CONFLICT"]);
      expect(counted(`expect(err.codes).to.deep.equal(["RECIPIENT_NOT_ALLOWED"]);`)).to.deep.equal(["RECIPIENT_NOT_ALLOWED"]);
    });

    it("counts a code property of an expected value, and .property(\"code\", …)", function () {
      expect(counted(`expect(reasons).to.deep.equal([{ code: "SWAP_SOLD_TOO_MUCH", message: "m" }]);`)).to.deep.equal(["SWAP_SOLD_TOO_MUCH"]);
      expect(counted(`expect(refusal.payload).to.include({ code: "NONCE_USED" });`)).to.deep.equal(["NONCE_USED"]);
      expect(counted(`expect(err).to.be.instanceOf(CountersignError).with.property("code", "WALLET_NOT_FOUND");`)).to.deep.equal(["WALLET_NOT_FOUND"]);
    });

    it("does not count a mention that asserts no code", function () {
      expect(counted(`// refused with "BUSY"\nconst x = 1;`)).to.deep.equal([]);
      expect(counted(`throw new CountersignError("UNKNOWN_SESSION_KEY", "refused (test)");`)).to.deep.equal([]);
      expect(counted(`const table = [{ expect: [404, "WALLET_NOT_FOUND"] }];`)).to.deep.equal([]);
      expect(counted(`expect(JSON.stringify(res.body)).to.contain("BOUNDS_MISMATCH");`)).to.deep.equal([]);
      expect(counted(`expect(outcome("f").detail).to.include("WALLET_PAUSED");`)).to.deep.equal([]);
      expect(counted(`expect(metrics).to.contain('reasons_total{code="RECIPIENT_NOT_ALLOWED"}');`)).to.deep.equal([]);
      expect(counted(`expect(err.code).to.not.equal("NONCE_USED");`)).to.deep.equal([]);
      expect(counted(`expect(d.reasons.find((r) => r.code === "APPROVAL_STALE")!.message).to.contain(WETH);`)).to.deep.equal([]);
      expect(counted(`expectRefusal(p, code);`)).to.deep.equal([]);
      expect(counted(`expectError(answer, 404, "X"); expectRefusal(p, "NOT_A_CODE");`)).to.deep.equal([]);
    });
  });
});
