// The approver's page: plain JS, no build. Reads GET /v1/approvals, acts with POST /v1/operations/:id/approve|reject.
// The token lives in sessionStorage (this tab only). Everything the agent wrote (memo, intent) is shown as text, never HTML.
"use strict";

(function () {
  const TOKEN_KEY = "countersign.approverToken";
  const POLL_MS = 3000;
  const $ = (id) => document.getElementById(id);
  const state = { view: "pending", data: null, skewMs: 0, items: new Map(), busy: new Set() };

  // ---------- formatting ----------
  const lower = (a) => String(a).toLowerCase();
  function nameOf(address) {
    const names = (state.data && state.data.names) || {};
    for (const [a, n] of Object.entries(names)) if (lower(a) === lower(address)) return n;
    return null;
  }
  function short(address) {
    const a = String(address);
    return /^0x[0-9a-fA-F]{40}$/.test(a) ? `${a.slice(0, 6)}…${a.slice(-4)}` : a;
  }
  /** "alice 0x9965…A4dc", or the short address alone. */
  function who(address) {
    const n = nameOf(address);
    return n ? `${n} ${short(address)}` : short(address);
  }
  function assetInfo(asset) {
    const assets = (state.data && state.data.assets) || {};
    if (asset === "native") return assets.native || { symbol: "ETH", decimals: 18 };
    for (const [a, info] of Object.entries(assets)) if (lower(a) === lower(asset)) return info;
    return null;
  }
  /** Base units to "1,200.00" (at least two decimals, no trailing zeros past them). */
  function units(value, decimals) {
    let v = BigInt(value);
    const negative = v < 0n;
    if (negative) v = -v;
    const base = 10n ** BigInt(decimals);
    const whole = (v / base).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    let frac = decimals > 0 ? (v % base).toString().padStart(decimals, "0") : "";
    frac = frac.replace(/0+$/, "");
    if (frac.length < 2) frac = frac.padEnd(Math.min(2, Math.max(decimals, 0)), "0");
    return `${negative ? "-" : ""}${whole}${frac ? "." + frac : ""}`;
  }
  /** "1,200.00 USDC", or base units and a short address for an unknown asset. */
  function amount(value, asset) {
    const info = assetInfo(asset);
    if (!info) return `${value} units of ${short(asset)}`;
    return `${units(value, info.decimals)} ${info.symbol}`;
  }
  function signed(value, asset) {
    const v = BigInt(value);
    return `${v > 0n ? "+" : ""}${amount(value, asset)}`;
  }
  /** The intent in plain words. */
  function describe(intent) {
    if (!intent) return "an operation";
    if (intent.kind === "transfer") return `pay ${amount(intent.amount, intent.asset)} to ${who(intent.to)}`;
    if (intent.kind === "swap") {
      return `swap at most ${amount(intent.sell.maxAmount, intent.sell.asset)} for at least ${amount(intent.buy.minAmount, intent.buy.asset)}`;
    }
    if (intent.kind === "call") {
      const expect = (intent.expect || []).map((e) => signed(e.delta, e.asset)).join(", ");
      return `call contracts, the wallet expecting ${expect || "no balance change"}`;
    }
    return "an operation";
  }
  function timeLeft(expiresAt) {
    const ms = Date.parse(expiresAt) - (Date.now() + state.skewMs);
    if (ms <= 0) return "expired";
    const s = Math.floor(ms / 1000);
    const m = Math.floor(s / 60);
    return m > 0 ? `${m} min ${s % 60} s left` : `${s} s left`;
  }
  function when(iso) {
    return new Date(iso).toLocaleString();
  }

  // ---------- DOM ----------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  function say(text) {
    $("status").textContent = text;
  }

  // ---------- API ----------
  async function api(method, path, body) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const res = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      cache: "no-store",
    });
    const json = await res.json().catch(() => ({}));
    if (res.status === 401) signOut("The token was not accepted; sign in again.");
    return { status: res.status, json };
  }

  // ---------- rendering ----------
  function changesList(item) {
    const changes = (item.simulation && item.simulation.changes) || [];
    if (changes.length === 0) return el("p", {}, "no balance changes");
    return el(
      "ul",
      { "aria-label": "Simulated changes" },
      changes.map((c) =>
        el("li", {}, el("span", {}, lower(c.account) === lower(item.wallet) ? `wallet ${short(c.account)}` : who(c.account)), " ", el("span", { class: BigInt(c.delta) < 0n ? "neg" : "pos" }, signed(c.delta, c.asset))),
      ),
    );
  }
  function budgetText(item) {
    if (!item.budget || item.budget.length === 0) return "not read";
    return item.budget.map((b) => `${amount(b.after, b.asset)} left of ${amount(b.available, b.asset)} after it`).join("; ");
  }
  function approvalsText(item) {
    const names = item.approvals.map((a) => a.approver);
    return `${names.length} of ${item.rule.approvalsRequired}${names.length ? ` (${names.join(", ")})` : ""}`;
  }

  function pendingCard(item) {
    const titleId = `t-${item.id}`;
    const noteId = `note-${item.id}`;
    const li = el("li", { class: "op", "data-id": item.id, "aria-labelledby": titleId });
    const time = el("dd", { "data-field": "time" }, timeLeft(item.expiresAt));
    const approvals = el("dd", { "data-field": "approvals" }, approvalsText(item));
    const budget = el("dd", { "data-field": "budget" }, budgetText(item));
    const note = el("textarea", { id: noteId, name: "note", maxlength: 500, rows: 1 });
    const feedback = el("p", { class: "feedback", role: "alert" });
    const approve = el("button", { type: "button", class: "approve", onclick: () => act(item, "approve", note, feedback, [approve, reject]) }, "Approve");
    const reject = el("button", { type: "button", class: "reject", onclick: () => act(item, "reject", note, feedback, [approve, reject]) }, "Reject");
    li.append(
      el("h3", { id: titleId }, describe(item.intent)),
      el("p", { class: "meta" }, `proposed ${when(item.createdAt)} · ${item.id}`, item.memo ? ` · memo: “${item.memo}”` : ""),
      el(
        "dl",
        {},
        el("dt", {}, "Asked by rule"),
        el("dd", {}, `${item.rule.name}: ${item.rule.description} (${item.rule.reversible ? "reversible" : "irreversible"})`),
        el("dt", {}, "Why"),
        // The rule is named above: each reason's own specifics only.
        el("dd", {}, el("ul", {}, item.reasons.map((r) => el("li", {}, `${r.code}: ${r.message.split("; rule ")[0]}`)))),
        el("dt", {}, "Simulated changes"),
        el("dd", {}, changesList(item), item.simulation ? el("span", { class: "meta" }, `at block ${item.simulation.blockNumber}`) : null),
        el("dt", {}, "Budget"),
        budget,
        el("dt", {}, "Approvals"),
        approvals,
        el("dt", {}, "Time left"),
        time,
      ),
      el("div", { class: "actions" }, el("div", { class: "note" }, el("label", { for: noteId }, "Reason (required to reject)"), note), approve, reject),
      feedback,
    );
    return li;
  }

  function executionText(item) {
    return item.execution ? `executed in transaction ${item.execution.txHash}` : item.state === "approved" ? "co-signed; not executed yet" : "not executed";
  }

  function historyCard(item) {
    const titleId = `t-${item.id}`;
    return el(
      "li",
      { class: "op", "data-id": item.id, "aria-labelledby": titleId },
      el("h3", { id: titleId }, el("span", { class: `badge ${item.state}` }, item.state), " ", describe(item.intent)),
      el("p", { class: "meta" }, `proposed ${when(item.createdAt)} · decided ${when(item.updatedAt)}${item.decidedBy ? ` by ${item.decidedBy}` : ""} · ${item.id}`),
      el(
        "dl",
        {},
        el("dt", {}, "Rule"),
        el("dd", {}, `${item.rule.name} (${item.rule.reversible ? "reversible" : "irreversible"})`),
        el("dt", {}, "Reasons"),
        el("dd", {}, item.reasons.length ? el("ul", {}, item.reasons.map((r) => el("li", {}, `${r.code}: ${r.message}`))) : "none"),
        el("dt", {}, "Simulated changes"),
        el("dd", {}, changesList(item)),
        el("dt", {}, "Transaction"),
        el("dd", { "data-field": "tx" }, executionText(item)),
      ),
    );
  }

  function render() {
    const list = $("list");
    const items = (state.data && state.data.items) || [];
    const wanted = new Set(items.map((i) => `${state.view}:${i.id}`));
    for (const [key, node] of state.items) {
      if (!wanted.has(key)) {
        node.remove();
        state.items.delete(key);
      }
    }
    let previous = null;
    for (const item of items) {
      const key = `${state.view}:${item.id}`;
      let node = state.items.get(key);
      if (!node) {
        node = state.view === "pending" ? pendingCard(item) : historyCard(item);
        state.items.set(key, node);
      } else if (state.view === "pending") {
        node.querySelector('[data-field="approvals"]').textContent = approvalsText(item);
        node.querySelector('[data-field="budget"]').textContent = budgetText(item);
      } else {
        node.querySelector('[data-field="tx"]').textContent = executionText(item);
      }
      node._item = item;
      // Newest first, as the API orders them; a node moves only when it is out of place (focus stays put).
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (expected !== node) list.insertBefore(node, expected);
      previous = node;
    }
    if (state.view === "pending") $("pending-count").textContent = `(${items.length})`;
    say(items.length === 0 ? (state.view === "pending" ? "Nothing is waiting for you." : "Nothing decided yet.") : `${items.length} ${state.view === "pending" ? "waiting" : "decided"}; updated ${new Date().toLocaleTimeString()}`);
  }

  function tick() {
    for (const node of state.items.values()) {
      const field = node.querySelector('[data-field="time"]');
      if (field && node._item) field.textContent = timeLeft(node._item.expiresAt);
    }
  }

  async function refresh() {
    if (!sessionStorage.getItem(TOKEN_KEY)) return;
    try {
      const { status, json } = await api("GET", `/v1/approvals?view=${state.view}`);
      if (status !== 200) return;
      state.data = json;
      state.skewMs = Date.parse(json.now) - Date.now();
      $("who").textContent = `Signed in as ${json.approver}`;
      render();
    } catch {
      say("The co-signer did not answer; retrying.");
    }
  }

  async function act(item, action, note, feedback, buttons) {
    const reason = note.value.trim();
    if (action === "reject" && reason === "") {
      feedback.textContent = "Write the reason for the rejection first.";
      note.focus();
      return;
    }
    for (const b of buttons) b.disabled = true;
    feedback.textContent = action === "approve" ? "Simulating again and approving…" : "Rejecting…";
    try {
      const { status, json } = await api("POST", `/v1/operations/${encodeURIComponent(item.id)}/${action}`, reason ? { note: reason } : {});
      if (status === 200 && json.status === "approved") feedback.textContent = "Approved: simulated again and co-signed.";
      else if (status === 200 && json.status === "rejected") feedback.textContent = `Rejected: ${json.reasons.map((r) => r.message).join("; ")}`;
      else if (status === 200 && json.reasons.some((r) => r.code === "APPROVAL_STALE")) feedback.textContent = "The figures changed since they were shown; review the new ones and approve again.";
      else if (status === 200) feedback.textContent = "Your approval is recorded; it needs another approver.";
      else feedback.textContent = `${(json.error && json.error.message) || `failed (${status})`}`;
      if (status === 200 && json.status !== "pending_approval") {
        // The card leaves the list; what happened stays said (for screen readers too).
        $("notice").textContent = `${describe(item.intent)}: ${feedback.textContent}`;
        const key = `pending:${item.id}`;
        state.items.get(key)?.remove();
        state.items.delete(key);
      }
    } finally {
      for (const b of buttons) b.disabled = false;
      await refresh();
    }
  }

  // ---------- session ----------
  function show(signedIn) {
    $("signin").hidden = signedIn;
    $("main").hidden = !signedIn;
    $("who").hidden = !signedIn;
    $("signout").hidden = !signedIn;
  }
  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    for (const node of state.items.values()) node.remove();
    state.items.clear();
    state.data = null;
    $("notice").textContent = "";
    show(false);
    $("signin-error").textContent = message || "";
    $("token").focus();
  }
  function setView(view) {
    state.view = view;
    $("tab-pending").setAttribute("aria-pressed", String(view === "pending"));
    $("tab-history").setAttribute("aria-pressed", String(view === "history"));
    for (const node of state.items.values()) node.remove();
    state.items.clear();
    say("Loading…");
    refresh();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const token = $("token").value.trim();
      sessionStorage.setItem(TOKEN_KEY, token);
      $("token").value = "";
      const { status } = await api("GET", "/v1/approvals?view=pending&limit=1");
      if (status !== 200) return signOut("The token was not accepted.");
      show(true);
      setView("pending");
      $("tab-pending").focus();
    });
    $("signout").addEventListener("click", () => signOut("Signed out."));
    $("tab-pending").addEventListener("click", () => setView("pending"));
    $("tab-history").addEventListener("click", () => setView("history"));
    if (sessionStorage.getItem(TOKEN_KEY)) {
      show(true);
      setView("pending");
    } else show(false);
    setInterval(refresh, POLL_MS);
    setInterval(tick, 1000);
  });
})();
