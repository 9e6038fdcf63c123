/**
 * A stand-in for a remote RPC: an HTTP server on 127.0.0.1 that forwards every JSON-RPC request to the node after a
 * fixed delay (a batch is one HTTP request, so it pays the delay once). Counts what passes through, per method.
 */
import { createServer, type Server } from "node:http";
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
    try {
      const upstream = await fetch(targetUrl, { method: "POST", headers: { "content-type": "application/json" }, body });
      res.writeHead(upstream.status, { "content-type": "application/json" });
      res.end(await upstream.text());
    } catch (err) {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`proxy: ${(err as Error).message}`);
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
