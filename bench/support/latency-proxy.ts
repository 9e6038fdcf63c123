/**
 * A stand-in for a remote RPC: an HTTP server on 127.0.0.1 that forwards every JSON-RPC request to the node after a
 * fixed delay (a batch is one HTTP request, so it pays the delay once). Counts what passes through, per method.
 */
import { Agent, createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface LatencyProxy {
  url: string;
  /** HTTP requests forwarded (a batch counts once) and JSON-RPC calls inside them, per method. */
  readonly stats: { requests: number; calls: number; byMethod: Map<string, number> };
  stop(): Promise<void>;
}

/**
 * Starts a proxy to `targetUrl` that adds `delayMs` to every request.
 * @example const proxy = await startLatencyProxy(node.url, 20); ...; await proxy.stop();
 */
export async function startLatencyProxy(targetUrl: string, delayMs: number): Promise<LatencyProxy> {
  const stats = { requests: 0, calls: 0, byMethod: new Map<string, number>() };
  const agent = new Agent({ keepAlive: true });
  const server: Server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    stats.requests += 1;
    try {
      const parsed = JSON.parse(body) as { method?: string } | { method?: string }[];
      for (const call of Array.isArray(parsed) ? parsed : [parsed]) {
        stats.calls += 1;
        const method = call.method ?? "?";
        stats.byMethod.set(method, (stats.byMethod.get(method) ?? 0) + 1);
      }
    } catch {
      // forwarded as is; the node answers the parse error
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    // node:http with kept-alive connections, not fetch: the proxy runs in the benchmark's process, beside the
    // co-signer, and fetch's CPU (about a millisecond a request here) was added to the decisions it measures.
    const upstream = request(targetUrl, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, { "content-type": "application/json" });
      answer.pipe(res);
    });
    upstream.on("error", (err) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`proxy: ${err.message}`);
    });
    upstream.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    async stop() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
