/**
 * The load generator of the benchmark's HTTP phases, in a process of its own as a client would be (its work and its
 * memory are not the service's; a worker thread's heap counted in the service's RSS): POSTs pre-signed request bodies
 * to /v1/operations over keep-alive loopback connections, `concurrency` at a time (closed loop) or at `ratePerSecond`
 * (open loop), until `durationMs` ends or the bodies run out. Bodies come in the first message ({ workerData }) and in
 * messages ({ bodies }) from the parent, which signs them (deadlines are at most 300 s ahead, so a long run is fed as
 * it goes); { end: true } says no more will come. Plain JavaScript: the process skips ts-node.
 *
 * workerData: { url, urls?, bodies: string[], concurrency, durationMs, ratePerSecond? } (with `urls`, requests go to
 * them in turn, as a round-robin load balancer would send them to replicas)
 * Posts { results } about every second and { done: true, elapsedMs, cpuMicros } at the end (cpuMicros: this process's
 * CPU time, user and system, from the first request on); `startedMs` counts from the start.
 */
let onMessage;
process.on("message", (m) => (m.workerData ? run(m.workerData) : onMessage(m)));

/**
 * Keep-alive HTTP/1.1 connections to one host, at most `max` open, each carrying one request at a time; a request
 * waits for a free one. Requests are written as bytes and answers read from the socket (status line, content-length,
 * body): a client as lean as a load generator should be (autocannon does the same), so that the two cores measure the
 * service rather than node:http's client objects and streams (measured here: 0.67 ms of this process's CPU a request
 * with node:http's client).
 */
class Connections {
  constructor(target, max) {
    this.host = target.hostname;
    this.port = Number(target.port || 80);
    this.head = `POST ${target.pathname} HTTP/1.1\r\nhost: ${target.host}\r\ncontent-type: application/json\r\nconnection: keep-alive\r\ncontent-length: `;
    this.max = max;
    this.open = 0;
    this.idle = [];
    this.waiting = [];
  }

  /** POSTs `body`; resolves { status, body } (body a Buffer), or rejects with the connection's error. */
  async post(body) {
    const conn = await this.take();
    try {
      return await conn.exchange(Buffer.from(`${this.head}${Buffer.byteLength(body)}\r\n\r\n${body}`));
    } finally {
      this.give(conn);
    }
  }

  take() {
    // An idle connection the service closed meanwhile (its keep-alive timeout) is not used again.
    for (let conn = this.idle.pop(); conn; conn = this.idle.pop()) {
      if (!conn.dead) return Promise.resolve(conn);
      this.open--;
    }
    if (this.open < this.max) return Promise.resolve(this.connect());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  connect() {
    this.open++;
    return new Connection(this.host, this.port);
  }

  give(conn) {
    if (conn.dead) {
      conn.socket.destroy();
      this.open--;
      if (this.waiting.length > 0) this.waiting.shift()(this.connect());
      return;
    }
    const next = this.waiting.shift();
    if (next) next(conn);
    else this.idle.push(conn);
  }

  destroy() {
    for (const conn of this.idle) conn.socket.destroy();
  }
}

/** One keep-alive connection: one request at a time, its answer framed by content-length. */
class Connection {
  constructor(host, port) {
    this.socket = require("node:net").connect(port, host);
    this.socket.setNoDelay(true);
    this.dead = false;
    this.buf = Buffer.alloc(0);
    this.pending = undefined;
    this.socket.on("data", (chunk) => this.onData(chunk));
    const fail = (err) => {
      this.dead = true;
      const pending = this.pending;
      this.pending = undefined;
      pending?.reject(err ?? new Error("the service closed the connection"));
    };
    this.socket.on("error", fail);
    this.socket.on("close", () => fail());
  }

  exchange(bytes) {
    if (this.dead) return Promise.reject(new Error("the service closed the connection"));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(bytes, (err) => err && this.settle("reject", err));
    });
  }

  onData(chunk) {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const end = this.buf.indexOf("\r\n\r\n");
    if (end < 0 || !this.pending) return;
    const head = this.buf.toString("latin1", 0, end);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) {
      this.dead = true;
      this.socket.destroy();
      return this.settle("reject", new Error("an answer without content-length"));
    }
    const total = end + 4 + Number(length[1]);
    if (this.buf.length < total) return;
    const answer = { status: Number(head.slice(9, 12)), body: this.buf.subarray(end + 4, total) };
    this.buf = this.buf.subarray(total);
    if (/\r\nconnection:\s*close/i.test(head)) this.dead = true;
    this.settle("resolve", answer);
  }

  settle(how, value) {
    const pending = this.pending;
    this.pending = undefined;
    pending?.[how](value);
  }
}

function run(workerData) {
  const { url, concurrency, durationMs, ratePerSecond } = workerData;
  const targets = (workerData.urls ?? [url]).map((u) => new Connections(new URL("/v1/operations", u), concurrency));
  let turn = 0;
  const queue = [...workerData.bodies];
  let ended = false;
  let waiting;
  onMessage = (m) => {
    if (m.bodies) queue.push(...m.bodies);
    if (m.end) ended = true;
    waiting?.();
  };

  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let batch = [];
  const flush = setInterval(() => {
    if (batch.length > 0) process.send({ results: batch });
    batch = [];
  }, 1000);

  /** The i-th body, waiting for the parent to send it; undefined once the parent said there are no more. */
  async function bodyAt(i) {
    while (i >= queue.length) {
      if (ended) return undefined;
      await new Promise((r) => (waiting = r));
    }
    const body = queue[i];
    queue[i] = undefined; // sent bodies are not kept
    return body;
  }

  async function post(body) {
    const started = performance.now();
    try {
      const { status, body: answer } = await targets[turn++ % targets.length].post(body);
      const result = { startedMs: started - t0, ms: performance.now() - started, status };
      if (status !== 200) {
        try {
          const parsed = JSON.parse(answer.toString("utf8"));
          result.code = parsed.error?.code ?? (parsed.reasons ?? []).map((r) => r.code).join(",") ?? parsed.status;
        } catch {
          result.code = "unparsable";
        }
      }
      batch.push(result);
    } catch (err) {
      batch.push({ startedMs: started - t0, ms: performance.now() - started, status: 0, code: err.message });
    }
  }

  async function closedLoop() {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (;;) {
          if (performance.now() - t0 >= durationMs) return;
          const body = await bodyAt(next++);
          if (body === undefined) return;
          await post(body);
        }
      }),
    );
  }

  async function openLoop() {
    const inFlight = new Set();
    const interval = 1000 / ratePerSecond;
    for (let i = 0; ; i++) {
      const due = i * interval;
      if (due >= durationMs) break;
      const body = await bodyAt(i);
      if (body === undefined) break;
      const wait = t0 + due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const p = post(body).then(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  }

  (async () => {
    await (ratePerSecond ? openLoop() : closedLoop());
    clearInterval(flush);
    if (batch.length > 0) process.send({ results: batch });
    for (const target of targets) target.destroy();
    const cpu = process.cpuUsage(cpu0);
    process.send({ done: true, elapsedMs: performance.now() - t0, cpuMicros: cpu.user + cpu.system }, () => process.disconnect());
  })();
}
