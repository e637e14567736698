/**
 * A TCP proxy in front of a test server, to break the network the way an outage does: "pass" forwards,
 * "drop" resets every connection (new and open ones), "stall" accepts and never forwards a byte (a
 * dependency that answers after 30 s, or never). TLS passes through untouched.
 */
import net from "node:net";

export type ProxyMode = "pass" | "drop" | "stall";

export interface TcpProxy {
  port: number;
  mode: ProxyMode;
  setMode(mode: ProxyMode): void;
  /** connections currently open through the proxy (a stalled dependency must not pile them up) */
  open(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const proxy: TcpProxy = {
    port: 0,
    mode: "pass",
    setMode(mode) {
      this.mode = mode;
      // an outage or a stall also hits the connections already open (keep-alive pools)
      if (mode !== "pass") for (const s of sockets) s.destroy();
    },
    open: () => sockets.size,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => undefined);
    if (proxy.mode === "drop") return void client.resetAndDestroy();
    if (proxy.mode === "stall") return; // accepted, never answered
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  proxy.port = (server.address() as net.AddressInfo).port;
  return proxy;
}
