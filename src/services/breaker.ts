/**
 * The breaker: stops a wallet (`pause()`) or one of its session keys (`revokeSessionKey`) on chain with the guardian
 * key, or flags the wallet for a person, and opens the incident that says why. Called by the pause route and by the
 * monitor's rules (src/monitor/rules.ts).
 *
 * Order of a trip, so co-signing stops in the same instant and not when the transaction is mined:
 * 1. the engine's in-process stop is set (the wallet, or the key, is refused from here on);
 * 2. the incident is opened (or joined) and the wallet flagged, in one store transaction (every replica that shares
 *    the store holds the wallet's later operations for a person from here on);
 * 3. only then is the transaction sent; its receipt is awaited in the background (the pause route waits for it).
 * A trip is idempotent: a trip of a kind whose incident is unresolved and whose transaction is in flight, or whose
 * effect already holds on chain, adds its evidence to that incident and sends nothing.
 */
import type { Logger } from "pino";
import { getAddress, type Address, type Hex } from "viem";
import { CountersignError } from "../errors";
import type { Guardian, PauseResult } from "../monitor/guardian";
import type { AlertWebhook } from "../monitor/webhook";
import { Mutex } from "../simulation/mutex";
import type { Incident, IncidentAction, IncidentActionKind, Store } from "../store";

/** Who tripped the breaker and why. */
export interface TripCause {
  /** Where the trip came from ("api", "monitor"). */
  source: string;
  /** Who (an operator's name, or a rule). */
  operator: string;
  reason: string;
  /** The rule that fired ("manual" for a person, by default). */
  rule?: string;
  /** More evidence for the incident and the audit record. */
  evidence?: Record<string, unknown>;
  /** The block of the offending event: the latency to the pause being mined is measured from it. */
  offendingBlock?: { number: bigint; timestamp: bigint };
}

/** What a pause through the API came to. */
export interface TripResult {
  wallet: Address;
  paused: true;
  /** Null when nothing was sent: the wallet already was paused (or a pause was in flight). */
  txHash: string | null;
  status: "confirmed" | "submitted" | "already_paused";
  blockNumber?: string;
  guardian: Address;
  /** The audit record of the action (breaker.pause), or of the evidence when nothing was sent. */
  auditSeq: number;
  incidentId: string;
}

/** What any trip came to, before its transaction is mined. */
export interface Trip {
  incident: Incident;
  /** Whether this trip opened the incident (false: it joined an unresolved one). */
  opened: boolean;
  /** "sent": a transaction went out; "joined": one was in flight or its effect already holds; "flagged": no transaction by design; "failed". */
  outcome: "sent" | "joined" | "already_done" | "flagged" | "failed";
  txHash: string | null;
  auditSeq: number;
  /** Settles once the transaction is mined (or at once when none was sent); rejects if it failed. */
  mined: Promise<PauseResult | undefined>;
  error?: CountersignError;
}

/** Figures the breaker reports (the service's metrics). */
export interface BreakerMetrics {
  /** An incident was opened by `rule` with `action`. */
  opened?(rule: string, action: IncidentActionKind): void;
  /** From the offending block to the breaker's transaction being mined. */
  latency?(rule: string, action: IncidentActionKind, blocks: number, seconds: number): void;
}

export interface BreakerOptions {
  chainId: number;
  store: Store;
  guardian: Guardian | null;
  /** The wallet's guardians as the chain says now. */
  guardiansOf: (wallet: Address) => Promise<Address[]>;
  /** The engine's in-process stops (cosigner.engine.stops). */
  stops?: Stops;
  /** The newest upstream block seen: a stop lifts once the fork's head reaches it after an "already done". */
  upstreamHead?: () => bigint;
  /** Counts pause transactions sent (e.g. a prom-client counter). */
  trips?: { inc(): void };
  metrics?: BreakerMetrics;
  /**
   * A breaker transaction "submitted" this long ago (ms, default 30 000) without a receipt is stuck: the next trip
   * that joins it checks the chain and sends it again.
   */
  resendAfterMs?: number;
  /** The on-call webhook: one alert per incident opened, never awaited. */
  webhook?: AlertWebhook;
  logger?: Logger;
}

/** One stop: in force until the fork's state includes block `until` (the breaker's transaction mined). */
interface Stop {
  incidentId: string;
  since: number;
  until?: bigint;
}

/**
 * The engine's in-process stops: wallets and session keys the breaker is stopping right now, refused before the
 * fork can show the pause or the revocation. A stop lifts by itself once the fork's state includes the block the
 * breaker's transaction was mined in (from then on the chain refuses), or when an operator clears the wallet.
 * @example const refusal = stops.check(wallet, signer, fork.head.number); if (refusal) throw refusal
 */
export class Stops {
  private readonly wallets = new Map<string, Stop>();
  private readonly keys = new Map<string, Stop>();

  /** Stops co-signing for `wallet` (every key), or only for `key` of it. */
  stop(wallet: Address, key: Address | null, incidentId: string): void {
    const map = key ? this.keys : this.wallets;
    const id = scopeId(wallet, key);
    // `since` is the latest trip's moment: a clear from before it (read later from the audit log) leaves it in force.
    map.set(id, { incidentId, since: Date.now() });
  }

  /** The breaker's transaction for this stop was mined in `block`: the chain refuses once the fork has it. */
  settle(wallet: Address, key: Address | null, block: bigint): void {
    const stop = (key ? this.keys : this.wallets).get(scopeId(wallet, key));
    if (stop) stop.until = block;
  }

  /**
   * Lifts every stop of `wallet` (an operator cleared it); with `clearedAt` (ms), only the stops set before that
   * moment (a clear read later from the audit log never lifts a newer trip's stop).
   */
  lift(wallet: Address, clearedAt?: number): void {
    const older = (stop: Stop | undefined) => clearedAt === undefined || (stop !== undefined && stop.since <= clearedAt);
    if (older(this.wallets.get(scopeId(wallet, null)))) this.wallets.delete(scopeId(wallet, null));
    const prefix = `${getAddress(wallet)}:`;
    for (const id of [...this.keys.keys()]) if (id.startsWith(prefix) && older(this.keys.get(id))) this.keys.delete(id);
  }

  /** Whether `wallet` (or `key` of it) is stopped on a fork whose state is at `stateBlock` (metrics, tests). */
  isStopped(wallet: Address, key: Address | null = null, stateBlock = 0n): boolean {
    return this.live(key ? this.keys : this.wallets, scopeId(wallet, key), stateBlock) !== undefined;
  }

  /**
   * Why `signer` may not have `wallet` co-signed on a fork whose state is at block `stateBlock`; undefined if it may.
   * WALLET_PAUSED for a stopped wallet, UNKNOWN_SESSION_KEY for a stopped key (what the chain says once mined).
   */
  check(wallet: Address, signer: Address, stateBlock: bigint): CountersignError | undefined {
    // No stop at all (nearly always): nothing to look up, and no address to checksum twice for each decision.
    if (this.wallets.size === 0 && this.keys.size === 0) return undefined;
    const w = this.live(this.wallets, scopeId(wallet, null), stateBlock);
    if (w) {
      return new CountersignError("WALLET_PAUSED", "the wallet is being paused by the circuit breaker", { incidentId: w.incidentId, by: "breaker" });
    }
    const k = this.live(this.keys, scopeId(wallet, signer), stateBlock);
    if (k) {
      return new CountersignError("UNKNOWN_SESSION_KEY", `session key ${signer} is being revoked by the circuit breaker`, {
        incidentId: k.incidentId,
        by: "breaker",
      });
    }
    return undefined;
  }

  private live(map: Map<string, Stop>, id: string, stateBlock: bigint): Stop | undefined {
    const stop = map.get(id);
    if (stop && stop.until !== undefined && stateBlock >= stop.until) {
      map.delete(id);
      return undefined;
    }
    return stop;
  }
}

function scopeId(wallet: Address, key: Address | null): string {
  return key ? `${getAddress(wallet)}:${getAddress(key)}` : getAddress(wallet);
}

/**
 * Trips and clears the breaker of served wallets.
 * @example await breaker.pause(wallet, { source: "api", operator: "alice", reason: "suspicious memo" })
 */
export class Breaker {
  private readonly locks = new Map<string, Mutex>();
  /** Receipts being awaited, by incident: a joining trip waits for the same one. */
  private readonly pending = new Map<string, Promise<PauseResult | undefined>>();
  /** The transaction in flight per "kind:scope", whatever its incident (a resolved incident's pause still counts). */
  private readonly inFlight = new Map<string, { txHash: string; mined: Promise<PauseResult | undefined> }>();

  constructor(private readonly options: BreakerOptions) {}

  /**
   * Pauses `wallet` on chain (or joins the pause in flight), flags it and records why; waits until it is mined.
   * @throws CountersignError GUARDIAN_UNAVAILABLE (no guardian key), NOT_A_GUARDIAN, UPSTREAM_UNAVAILABLE.
   * @example const r = await breaker.pause(wallet, { source: "api", operator: "alice", reason: "suspicious" })
   */
  async pause(wallet: Address, cause: TripCause): Promise<TripResult> {
    const trip = await this.trip("pause", wallet, null, cause);
    if (trip.error) throw trip.error;
    const mined = await trip.mined;
    return {
      wallet,
      paused: true,
      txHash: trip.outcome === "sent" ? trip.txHash : null,
      status: trip.outcome === "sent" ? (mined?.status ?? "submitted") : "already_paused",
      ...(mined?.blockNumber !== undefined ? { blockNumber: mined.blockNumber.toString() } : {}),
      guardian: this.options.guardian!.address,
      auditSeq: trip.auditSeq,
      incidentId: trip.incident.id,
    };
  }

  /**
   * Trips the breaker: "pause" the wallet, "revoke" one session key, or "flag" the wallet (no transaction). Returns
   * once the stop is in force and the transaction sent; `mined` follows. A trip of the API (source "api") throws
   * before touching anything when the guardian cannot act; any other trip still stops co-signing, flags and opens
   * the incident (fail closed) and reports the failure in it.
   * @example const trip = await breaker.trip("revoke", wallet, key, { source: "monitor", operator: "rules", reason, rule: "refusal_burst" })
   */
  async trip(kind: IncidentActionKind, wallet: Address, key: Address | null, cause: TripCause): Promise<Trip> {
    wallet = getAddress(wallet);
    key = key ? getAddress(key) : null;
    const id = `${kind}:${scopeId(wallet, key)}`;
    let lock = this.locks.get(id);
    if (!lock) this.locks.set(id, (lock = new Mutex()));
    return lock.run(() => this.tripLocked(id, kind, wallet, key, cause));
  }

  private async tripLocked(id: string, kind: IncidentActionKind, wallet: Address, key: Address | null, cause: TripCause): Promise<Trip> {
    const { chainId, store, guardian, logger } = this.options;
    const rule = cause.rule ?? "manual";
    // A person's pause (source "api") is refused before anything is touched when the guardian cannot act.
    if (kind !== "flag" && cause.source === "api") await this.checkGuardian(wallet);
    // 1. Stop co-signing in this process before anything else can happen (the incident id follows).
    const stops = this.options.stops;
    const stopKey = kind === "revoke" ? key : null;
    if (kind !== "flag") stops?.stop(wallet, stopKey, "(opening)");
    // Whatever keeps the guardian from acting (no key, not a guardian, the fork busy or unreachable) becomes the
    // incident's recorded problem: it never aborts the trip (the rules retry failed trips, src/monitor/rules.ts).
    let problem: CountersignError | undefined;
    if (kind !== "flag" && cause.source !== "api") {
      try {
        await this.checkGuardian(wallet);
      } catch (err) {
        problem = err instanceof CountersignError ? err : new CountersignError("UPSTREAM_UNAVAILABLE", `the guardians of ${wallet} could not be read: ${(err as Error)?.message ?? String(err)}`);
      }
    }
    const evidence = { rule, at: new Date().toISOString(), source: cause.source, operator: cause.operator, reason: cause.reason, ...cause.evidence };
    // 2. Open (or join) the incident and flag the wallet, in one transaction.
    const { incident, opened, record } = await store.openIncident({
      chainId,
      wallet,
      sessionKey: key,
      rule,
      summary: cause.reason,
      evidence,
      actionKind: kind,
      ...(kind === "revoke" ? {} : { flagReason: cause.reason }),
    });
    if (kind !== "flag") stops?.stop(wallet, stopKey, incident.id);
    if (opened) this.options.metrics?.opened?.(rule, kind);
    const base = { incident, opened, auditSeq: record.seq };
    const actionBase = { kind, ...(key ? { sessionKey: key } : {}), ...(guardian ? { guardian: guardian.address } : {}) };
    const audit = { source: cause.source, operator: cause.operator, reason: cause.reason, rule, ...cause.evidence };
    const auditKind = kind === "pause" ? "breaker.pause" : kind === "revoke" ? "breaker.revoke" : "breaker.flag";

    if (kind === "flag") {
      if (!opened) return { ...base, outcome: "joined", txHash: null, mined: Promise.resolve(undefined) };
      const done = await store.recordIncidentAction(incident.id, { ...actionBase, status: "none", txHash: null, at: now() }, auditKind, audit);
      logger?.warn({ wallet, incidentId: incident.id, rule, reason: cause.reason }, "breaker: wallet flagged");
      this.alert(done.incident);
      return { ...base, incident: done.incident, auditSeq: done.record.seq, outcome: "flagged", txHash: null, mined: Promise.resolve(undefined) };
    }

    // Idempotency: a transaction of this incident in flight, or its effect already on chain, is not sent again. A
    // transaction "submitted" longer than `resendAfterMs` ago without a receipt is stuck (underpriced, dropped): it is
    // checked on chain below and sent again (a replacement with the same nonce and a higher fee when it still waits).
    const last = incident.actions.at(-1);
    const stuck =
      !opened && last?.status === "submitted" && last.txHash !== null && Date.now() - Date.parse(last.at) >= (this.options.resendAfterMs ?? 30_000) ? last : undefined;
    if (!opened && last && !stuck && (last.status === "sending" || last.status === "submitted")) {
      logger?.info({ wallet, incidentId: incident.id, rule }, "breaker: joined the trip in flight");
      const inFlight = this.pending.get(incident.id);
      // The stop was set afresh above: it lifts with the same receipt.
      const mined = inFlight
        ? inFlight.then((r) => {
            if (r?.status === "confirmed" && r.blockNumber !== undefined) stops?.settle(wallet, stopKey, r.blockNumber);
            return r;
          })
        : Promise.resolve(undefined);
      mined.catch(() => {});
      return { ...base, outcome: "joined", txHash: last.txHash, mined };
    }
    // Another process opened it a moment ago and is about to act (its lock is not ours): do not act twice.
    if (!opened && !last && Date.now() - Date.parse(incident.openedAt) < 30_000) {
      return { ...base, outcome: "joined", txHash: null, mined: Promise.resolve(undefined) };
    }
    if (problem) return this.failed(base, incident, actionBase, auditKind, audit, problem, opened);
    let alreadyDone: boolean;
    try {
      alreadyDone = kind === "pause" ? await guardian!.isPaused(wallet) : (await guardian!.sessionKeyValidUntil(wallet, key!)) === 0n;
    } catch {
      alreadyDone = false;
    }
    if (alreadyDone) {
      const head = this.options.upstreamHead?.();
      if (head !== undefined) stops?.settle(wallet, stopKey, head);
      if (!opened && last && (last.status === "confirmed" || last.status === "already_done")) {
        return { ...base, outcome: "joined", txHash: last.txHash, mined: Promise.resolve(undefined) };
      }
      const done = await store.recordIncidentAction(incident.id, { ...actionBase, status: "already_done", txHash: null, at: now() }, auditKind, audit);
      logger?.warn({ wallet, key, incidentId: incident.id, rule }, `breaker: ${kind} already in force on chain; nothing sent`);
      if (opened) this.alert(done.incident);
      return { ...base, incident: done.incident, auditSeq: done.record.seq, outcome: "already_done", txHash: null, mined: Promise.resolve(undefined) };
    }

    // An operator resolved the incident while its transaction was in flight: this new incident joins that transaction.
    const flying = !stuck ? this.inFlight.get(id) : undefined;
    if (flying) {
      const done = await store.recordIncidentAction(incident.id, { ...actionBase, status: "submitted", txHash: flying.txHash, at: now() }, `${auditKind}.joined`, {
        ...audit,
        txHash: flying.txHash,
      });
      logger?.info({ wallet, incidentId: incident.id, txHash: flying.txHash }, `breaker: ${kind} of a resolved incident still in flight; joined it`);
      if (opened) this.alert(done.incident);
      return { ...base, incident: done.incident, auditSeq: done.record.seq, outcome: "joined", txHash: flying.txHash, mined: flying.mined };
    }

    // 3. Only now the transaction (again, for a stuck one).
    let sent;
    try {
      if (stuck) sent = await guardian!.resend(wallet, kind, key, stuck.txHash as Hex);
      else sent = kind === "pause" ? await guardian!.sendPause(wallet) : await guardian!.sendRevoke(wallet, key!);
    } catch (err) {
      const error = err instanceof CountersignError ? err : new CountersignError("UPSTREAM_UNAVAILABLE", String(err));
      return this.failed(base, incident, actionBase, auditKind, audit, error, opened);
    }
    if (kind === "pause") this.options.trips?.inc();
    const action: IncidentAction = { ...actionBase, status: "submitted", txHash: sent.txHash, at: now() };
    const done = stuck
      ? await store.recordIncidentAction(incident.id, action, `${auditKind}.resent`, { ...audit, txHash: sent.txHash, replaces: stuck.txHash })
      : await store.recordIncidentAction(incident.id, action, auditKind, { ...audit, txHash: sent.txHash });
    logger?.warn(
      { wallet, key, txHash: sent.txHash, replaces: stuck?.txHash, incidentId: incident.id, rule, reason: cause.reason, auditSeq: done.record.seq },
      stuck ? `breaker: ${kind} stuck since ${stuck.at}; sent again` : `breaker: ${kind} sent`,
    );
    if (!stuck) this.alert(done.incident);
    const mined = sent.mined.then(
      async (result) => {
        if (result.status === "confirmed" && result.blockNumber !== undefined) {
          stops?.settle(wallet, stopKey, result.blockNumber);
          const latency = this.latency(cause, result);
          if (latency) this.options.metrics?.latency?.(rule, kind, latency.blocks, latency.seconds);
          await store
            .recordIncidentAction(
              incident.id,
              { ...action, status: "confirmed", blockNumber: result.blockNumber.toString(), at: now() },
              `${auditKind}.confirmed`,
              latency ? { latencyBlocks: latency.blocks, latencySeconds: latency.seconds } : {},
              true,
            )
            .catch((err: unknown) => logger?.error({ err, incidentId: incident.id }, "breaker: could not record the confirmation"));
          logger?.warn({ wallet, key, txHash: sent.txHash, block: result.blockNumber.toString(), incidentId: incident.id }, `breaker: ${kind} mined`);
        }
        return result;
      },
      async (err: unknown) => {
        await store
          .recordIncidentAction(incident.id, { ...action, status: "failed", error: (err as Error).message, at: now() }, `${auditKind}.failed`, {}, true)
          .catch(() => undefined);
        logger?.error({ wallet, key, txHash: sent.txHash, incidentId: incident.id, err: (err as Error).message }, `breaker: ${kind} failed`);
        throw err;
      },
    );
    mined.catch(() => {});
    this.pending.set(incident.id, mined);
    const flight = { txHash: sent.txHash, mined };
    this.inFlight.set(id, flight);
    void mined
      .finally(() => {
        this.pending.delete(incident.id);
        if (this.inFlight.get(id) === flight) this.inFlight.delete(id);
      })
      .catch(() => {});
    return { ...base, incident: done.incident, auditSeq: done.record.seq, outcome: "sent", txHash: sent.txHash, mined };
  }

  /** Lifts a wallet's anomaly flag (and this process's stops) once people have looked (unpausing is the owner's). */
  async clear(wallet: Address, operator: string): Promise<{ wallet: Address; cleared: boolean; anomaly: string | null }> {
    const was = await this.options.store.clearAnomaly(this.options.chainId, wallet, operator);
    this.options.stops?.lift(wallet);
    this.options.logger?.info({ wallet, operator, was: was ?? null }, "anomaly flag cleared");
    return { wallet, cleared: was !== undefined, anomaly: was ?? null };
  }

  private async checkGuardian(wallet: Address): Promise<void> {
    const { guardian } = this.options;
    if (!guardian) {
      throw new CountersignError("GUARDIAN_UNAVAILABLE", "no guardian key is configured (GUARDIAN_KEYSTORE_PATH or GUARDIAN_PRIVATE_KEY)");
    }
    const guardians = await this.options.guardiansOf(wallet);
    if (!guardians.includes(guardian.address)) {
      throw new CountersignError("NOT_A_GUARDIAN", `this service's guardian ${guardian.address} is not a guardian of ${wallet}`, {
        guardian: guardian.address,
        guardians,
      });
    }
  }

  private async failed(
    base: { incident: Incident; opened: boolean; auditSeq: number },
    incident: Incident,
    actionBase: Omit<IncidentAction, "status" | "txHash" | "at">,
    auditKind: string,
    audit: Record<string, unknown>,
    error: CountersignError,
    opened: boolean,
  ): Promise<Trip> {
    const done = await this.options.store.recordIncidentAction(
      incident.id,
      { ...actionBase, status: "failed", txHash: null, error: `${error.code}: ${error.message}`, at: now() },
      `${auditKind}.failed`,
      audit,
    );
    this.options.logger?.error({ wallet: incident.wallet, incidentId: incident.id, code: error.code, err: error.message }, "breaker: trip failed; co-signing stays stopped");
    if (opened) this.alert(done.incident);
    const mined = Promise.reject(error);
    mined.catch(() => {});
    return { ...base, incident: done.incident, auditSeq: done.record.seq, outcome: "failed", txHash: null, mined, error };
  }

  private latency(cause: TripCause, result: PauseResult): { blocks: number; seconds: number } | undefined {
    const from = cause.offendingBlock;
    if (!from || result.blockNumber === undefined) return undefined;
    const seconds = result.blockTimestamp !== undefined ? Number(result.blockTimestamp - from.timestamp) : 0;
    return { blocks: Number(result.blockNumber - from.number), seconds: Math.max(0, seconds) };
  }

  private alert(incident: Incident): void {
    this.options.webhook?.notify({ type: "incident", incident });
  }
}

function now(): string {
  return new Date().toISOString();
}
