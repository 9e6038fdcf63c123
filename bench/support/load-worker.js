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

function run(workerData) {
  const http = require("node:http");

  const { url, concurrency, durationMs, ratePerSecond } = workerData;
  const targets = (workerData.urls ?? [url]).map((u) => new URL("/v1/operations", u));
  let turn = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
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

  function post(body) {
    return new Promise((resolve) => {
      const started = performance.now();
      const req = http.request(
        targets[turn++ % targets.length],
        { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            const result = { startedMs: started - t0, ms: performance.now() - started, status: res.statusCode };
            if (res.statusCode !== 200) {
              try {
                const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
                result.code = parsed.error?.code ?? (parsed.reasons ?? []).map((r) => r.code).join(",") ?? parsed.status;
              } catch {
                result.code = "unparsable";
              }
            }
            batch.push(result);
            resolve();
          });
        },
      );
      req.on("error", (err) => {
        batch.push({ startedMs: started - t0, ms: performance.now() - started, status: 0, code: err.message });
        resolve();
      });
      req.end(body);
    });
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
    agent.destroy();
    const cpu = process.cpuUsage(cpu0);
    process.send({ done: true, elapsedMs: performance.now() - t0, cpuMicros: cpu.user + cpu.system }, () => process.disconnect());
  })();
}
