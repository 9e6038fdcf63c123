/**
 * POSTs of JSON over kept-alive connections (node:http and node:https): the co-signer's requests to its upstream.
 * Node's fetch cost 4–8 times the CPU of a plain request here (web streams, abort signals, a Request and a Response
 * object each: measured 0.65–1.2 ms against 0.12–0.3 of a request with a small JSON answer), and the head watcher
 * alone sends ten a second.
 */
import http from "node:http";
import https from "node:https";

/** Repeats of a request whose kept-alive connection turned out closed (see JsonPost.post). */
const MAX_REPEATS = 4;

/** What failed: the connection or the deadline ("unreachable"), the answer's status, or the answer itself. */
export class PostError extends Error {
  constructor(
    message: string,
    readonly reason: "unreachable" | "status" | "not-json" = "unreachable",
    /** The HTTP status of the answer, when there was one. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * A client of one URL; connections are kept for the next request.
 * @example const answer = await new JsonPost("http://127.0.0.1:8545").post(JSON.stringify(request), 5_000)
 */
export class JsonPost {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly send: typeof http.request;
  private closed = false;

  constructor(url: string) {
    this.url = new URL(url);
    const secure = this.url.protocol === "https:";
    if (!secure && this.url.protocol !== "http:") throw new Error(`an upstream URL is http: or https:, not ${this.url.protocol}`);
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.send = secure ? https.request : http.request;
  }

  /**
   * Sends `body`; the parsed JSON answer, or a PostError (unreachable, past `timeoutMs` in all, not 2xx, not JSON).
   * A kept-alive connection can be closed by the server (its keep-alive timeout, 5 s for Node's servers) just as a
   * request goes out on it: the request then fails before any answer ("socket hang up", ECONNRESET). Such a request is
   * sent again within the same deadline; the co-signer only reads from its upstream, so a request sent twice changes
   * nothing. Several kept connections can have been closed at once (after a burst): each such failure drops its
   * connection, so the request is repeated while it fails that way, up to MAX_REPEATS times, until one goes out on a
   * new connection. A request that fails on a new connection, once an answer began, or after close() is not repeated.
   */
  post(body: string, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new PostError("the upstream's client is closed"));
    const deadline = performance.now() + timeoutMs;
    return this.attempt(body, timeoutMs, deadline, MAX_REPEATS);
  }

  private attempt(body: string, timeoutMs: number, deadline: number, repeatsLeft: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let answered = false;
      const request = this.send(
        this.url,
        { method: "POST", agent: this.agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (response) => {
          answered = true;
          const status = response.statusCode ?? 0;
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", fail);
          response.on("end", () => {
            clearTimeout(timer);
            if (status < 200 || status > 299) return reject(new PostError(`HTTP ${status}`, "status", status));
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
            } catch (err) {
              reject(new PostError(`the answer is not JSON: ${(err as Error).message}`, "not-json", status));
            }
          });
        },
      );
      const timer = setTimeout(
        () => request.destroy(new PostError(`no answer within ${timeoutMs} ms`)),
        Math.max(0, deadline - performance.now()),
      );
      const fail = (err: Error): void => {
        clearTimeout(timer);
        const closedWhileIdle = repeatsLeft > 0 && !this.closed && !answered && request.reusedSocket && !(err instanceof PostError)
          && ((err as NodeJS.ErrnoException).code === "ECONNRESET" || (err as NodeJS.ErrnoException).code === "EPIPE");
        if (closedWhileIdle && performance.now() < deadline) {
          resolve(this.attempt(body, timeoutMs, deadline, repeatsLeft - 1));
          return;
        }
        reject(err instanceof PostError ? err : new PostError(err.message));
      };
      request.on("error", fail);
      request.end(body);
    });
  }

  /** Closes the connections; requests in flight fail (and are not repeated), later ones are refused. */
  close(): void {
    this.closed = true;
    this.agent.destroy();
  }
}
