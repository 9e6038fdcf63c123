import { expect } from "chai";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { JsonPost, PostError } from "../../src/simulation/json-post";
import { UpstreamCache, UpstreamError } from "../../src/simulation/upstream-cache";

/** A local HTTP server answering every request with `answer`; counts connections and requests. */
async function serve(answer: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const seen = { connections: 0, requests: [] as string[] };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      seen.requests.push(body);
      answer(req, body, res);
    });
  });
  server.on("connection", () => (seen.connections += 1));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const stop = () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url, seen, stop };
}

/** A server that answers each connection's first request with `answer` and closes the connection at its second. */
function serveClosingAtSecondRequest(answer: (body: string, res: ServerResponse) => void) {
  const perSocket = new WeakMap<object, number>();
  return serve((req, body, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (n > 1) return void req.socket.destroy();
    answer(body, res);
  });
}

const rejection = (p: Promise<unknown>) => p.then(
  () => {
    throw new Error("expected a rejection");
  },
  (err: unknown) => err as Error,
);

describe("JsonPost (the upstream's HTTP client)", function () {
  it("posts the body as JSON and answers the parsed JSON, over one kept-alive connection", async function () {
    const server = await serve((req, body, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ method: req.method, type: req.headers["content-type"], echo: JSON.parse(body) }));
    });
    const client = new JsonPost(server.url);
    try {
      for (let i = 0; i < 3; i++) {
        expect(await client.post(JSON.stringify({ i }), 1_000)).to.deep.equal({ method: "POST", type: "application/json", echo: { i } });
      }
      expect(server.seen.connections).to.equal(1);
    } finally {
      client.close();
      await server.stop();
    }
  });

  it("fails with the status for an answer other than 2xx, and UpstreamCache says 'upstream answered HTTP 503'", async function () {
    const server = await serve((_req, _body, res) => {
      res.statusCode = 503;
      res.end("{}");
    });
    const client = new JsonPost(server.url);
    const cache = new UpstreamCache({ upstreamUrl: server.url, timeoutMs: 1_000 });
    try {
      const err = await rejection(client.post("{}", 1_000));
      expect(err).to.be.instanceOf(PostError);
      expect((err as PostError).status).to.equal(503);
      const upstream = await rejection(cache.upstream("eth_blockNumber"));
      expect(upstream).to.be.instanceOf(UpstreamError);
      expect(upstream.message).to.equal("upstream answered HTTP 503");
    } finally {
      client.close();
      await cache.stop();
      await server.stop();
    }
  });

  it("gives up on an upstream that never answers once the deadline passes", async function () {
    const server = await serve(() => undefined);
    const client = new JsonPost(server.url);
    try {
      const started = performance.now();
      const err = await rejection(client.post("{}", 200));
      expect(err).to.be.instanceOf(PostError);
      expect(err.message).to.equal("no answer within 200 ms");
      expect(performance.now() - started).to.be.within(150, 2_000);
    } finally {
      client.close();
      await server.stop();
    }
  });

  it("sends once more, on a new connection, a request whose kept-alive connection the server closed as it went out", async function () {
    // The race of a kept-alive connection: the server closes it (its keep-alive timeout) as the next request is
    // written on it, and the request fails before any answer with "socket hang up". Here the server closes every
    // connection when its second request arrives, so the race happens on every second request. CI's replica test
    // (three co-signers, one Hardhat node) lost a decision to it as UPSTREAM_UNAVAILABLE.
    const server = await serveClosingAtSecondRequest((body, res) => {
      res.setHeader("content-type", "application/json");
      res.end(body);
    });
    const client = new JsonPost(server.url);
    try {
      for (let i = 0; i < 4; i++) expect(await client.post(JSON.stringify({ i }), 1_000)).to.deep.equal({ i });
      // each request after the first: once on the kept connection (closed), once on a new one (answered)
      expect(server.seen.requests).to.have.length(7);
      expect(server.seen.connections).to.equal(4);
    } finally {
      client.close();
      await server.stop();
    }
  });

  it("goes on to a new connection when several kept ones were closed at once (after a burst)", async function () {
    // the burst's answers come together, so that both connections are kept
    const server = await serveClosingAtSecondRequest((body, res) => setTimeout(() => res.end(body), 20));
    const client = new JsonPost(server.url);
    try {
      expect(await Promise.all([client.post("1", 1_000), client.post("2", 1_000)])).to.deep.equal([1, 2]);
      expect(server.seen.connections).to.equal(2);
      // both kept connections fail in turn, then a new one answers
      expect(await client.post("3", 1_000)).to.equal(3);
      expect(server.seen.requests.slice(0, 2)).to.have.members(["1", "2"]);
      expect(server.seen.requests.slice(2)).to.deep.equal(["3", "3", "3"]);
      expect(server.seen.connections).to.equal(3);
    } finally {
      client.close();
      await server.stop();
    }
  });

  it("sends nothing once closed: a request in flight fails and is not repeated, a later one is refused", async function () {
    let count = 0;
    const server = await serve((_req, body, res) => {
      count += 1;
      if (count === 1) res.end(body); // keeps the connection for the next request, which gets no answer
    });
    const client = new JsonPost(server.url);
    try {
      expect(await client.post("1", 1_000)).to.equal(1);
      const inFlight = rejection(client.post("2", 1_000));
      while (server.seen.requests.length < 2) await new Promise((r) => setTimeout(r, 5));
      client.close();
      expect(await inFlight).to.be.instanceOf(PostError);
      expect((await rejection(client.post("3", 1_000))).message).to.equal("the upstream's client is closed");
      await new Promise((r) => setTimeout(r, 50));
      expect(server.seen.requests).to.deep.equal(["1", "2"]);
    } finally {
      await server.stop();
    }
  });

  it("does not send again a request that failed on a new connection, nor one the server answered", async function () {
    const closing = await serve((req) => req.socket.destroy());
    const client = new JsonPost(closing.url);
    try {
      const err = await rejection(client.post("{}", 1_000));
      expect(err).to.be.instanceOf(PostError);
      expect(err.message).to.equal("socket hang up");
      expect(closing.seen.requests).to.have.length(1);
    } finally {
      client.close();
      await closing.stop();
    }
    // an answer cut off midway on a kept connection is a failure, not a repeat: the server saw the request
    let count = 0;
    const cutting = await serve((req, _body, res) => {
      count += 1;
      if (count === 1) return res.end("{}");
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write("{\"partial\":");
      setTimeout(() => req.socket.destroy(), 20);
    });
    const second = new JsonPost(cutting.url);
    try {
      expect(await second.post("{}", 1_000)).to.deep.equal({});
      const err = await rejection(second.post("{}", 1_000));
      expect(err).to.be.instanceOf(PostError);
      expect(cutting.seen.requests).to.have.length(2);
    } finally {
      second.close();
      await cutting.stop();
    }
  });

  it("fails for an answer that is not JSON and for an upstream that is not there", async function () {
    const server = await serve((_req, _body, res) => res.end("<html>gateway</html>"));
    const client = new JsonPost(server.url);
    try {
      expect((await rejection(client.post("{}", 1_000))).message).to.match(/^the answer is not JSON: /);
    } finally {
      client.close();
      await server.stop();
    }
    const gone = new JsonPost(server.url);
    const err = await rejection(gone.post("{}", 1_000));
    expect(err).to.be.instanceOf(PostError);
    expect(err.message).to.contain("ECONNREFUSED");
    expect(() => new JsonPost("ftp://127.0.0.1/")).to.throw("an upstream URL is http: or https:, not ftp:");
  });
});
