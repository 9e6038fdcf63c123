/**
 * A `newHeads` subscription (`eth_subscribe` over WebSocket) to the upstream: heads arrive as they are made, with no
 * polling delay. Reconnects when the socket drops; says whether it is live right now, so that the head watcher can
 * fall back to a head check per request while it is not.
 */
import { EventEmitter } from "node:events";

/** The part of the `ws` package's WebSocket this file uses (the package ships no types of its own). */
interface Socket {
  on(event: "open" | "pong", listener: () => void): void;
  on(event: "message", listener: (data: Buffer | string) => void): void;
  on(event: "close", listener: (code: number) => void): void;
  on(event: "error", listener: (err: Error) => void): void;
  send(data: string): void;
  ping(): void;
  terminate(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocket = require("ws") as new (url: string, options: { handshakeTimeout: number }) => Socket;

export interface NewHeadsOptions {
  /** The upstream's WebSocket URL (ws:// or wss://). */
  url: string;
  /** How long opening the socket and subscribing may take (ms). */
  openTimeoutMs?: number;
  /** Wait before reconnecting after the socket dropped (ms). */
  retryMs?: number;
  /** A ping every this many ms; a socket that did not answer the previous one is dropped (ms). */
  keepAliveMs?: number;
}

/**
 * The WebSocket URL an HTTP JSON-RPC URL's node serves on (same host, port and path; a Hardhat node does).
 * @example webSocketUrlOf("http://127.0.0.1:8545") // "ws://127.0.0.1:8545/"
 */
export function webSocketUrlOf(httpUrl: string): string {
  const url = new URL(httpUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

/**
 * Emits "head" with each raw header the upstream pushes, "live" once subscribed and "down" when the socket drops.
 * @example const sub = new NewHeadsSubscription({ url: "ws://127.0.0.1:8545" }); sub.on("head", onHead); await sub.start();
 */
export class NewHeadsSubscription extends EventEmitter {
  /** Whether the subscription is confirmed and its socket open. */
  live = false;
  private socket?: Socket;
  private stopped = false;
  private retryTimer?: NodeJS.Timeout;
  private keepAliveTimer?: NodeJS.Timeout;
  private failures = 0;

  constructor(private readonly options: NewHeadsOptions) {
    super();
  }

  /** Opens the socket and subscribes; resolves whether it is live (when not, it keeps trying in the background). */
  start(): Promise<boolean> {
    return this.connect();
  }

  /** Closes the socket and stops reconnecting. */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.socket?.terminate();
    this.socket = undefined;
    this.setLive(false);
  }

  private connect(): Promise<boolean> {
    const timeout = this.options.openTimeoutMs ?? 2_000;
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const settle = (live: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(live);
      };
      const timer = setTimeout(() => {
        settle(false);
        this.drop(socket);
      }, timeout);
      timer.unref();
      let socket: Socket;
      try {
        socket = new WebSocket(this.options.url, { handshakeTimeout: timeout });
      } catch {
        settle(false);
        this.retryLater();
        return;
      }
      this.socket = socket;
      let awaitingPong = false;
      socket.on("open", () => {
        socket.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
        if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
        this.keepAliveTimer = setInterval(() => {
          if (awaitingPong) return this.drop(socket); // silently dead: the watcher falls back until it is back
          awaitingPong = true;
          socket.ping();
        }, this.options.keepAliveMs ?? 5_000);
        this.keepAliveTimer.unref();
      });
      socket.on("pong", () => (awaitingPong = false));
      socket.on("message", (data) => {
        let msg: { id?: number; result?: unknown; error?: unknown; method?: string; params?: { result?: unknown } };
        try {
          msg = JSON.parse(String(data));
        } catch {
          return;
        }
        if (msg.id === 1) {
          const ok = typeof msg.result === "string" && msg.error === undefined;
          if (ok && this.socket === socket) {
            this.failures = 0;
            this.setLive(true);
          } else this.drop(socket);
          settle(ok);
          return;
        }
        if (msg.method === "eth_subscription" && msg.params?.result && this.socket === socket) this.emit("head", msg.params.result);
      });
      socket.on("error", () => {
        settle(false);
        this.drop(socket);
      });
      socket.on("close", () => {
        settle(false);
        this.drop(socket);
      });
    });
  }

  /** Forgets `socket` if it is the current one (live no more) and reconnects later. */
  private drop(socket: Socket): void {
    socket.terminate();
    if (this.socket !== socket) return;
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    this.socket = undefined;
    this.setLive(false);
    this.retryLater();
  }

  /** Reconnects after retryMs, doubling with each failure in a row up to 30 s (an upstream with no WebSocket). */
  private retryLater(): void {
    if (this.stopped || this.retryTimer) return;
    const base = this.options.retryMs ?? 1_000;
    const wait = Math.min(base * 2 ** this.failures, 30_000);
    this.failures += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped) void this.connect();
    }, wait);
    this.retryTimer.unref();
  }

  private setLive(live: boolean): void {
    if (this.live === live) return;
    this.live = live;
    this.emit(live ? "live" : "down");
  }
}
