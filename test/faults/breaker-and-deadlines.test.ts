/**
 * The circuit breaker's contract (src/ports/circuit-breaker.ts) on a manual clock, the deadline, and
 * the JWKS fetch against an identity provider that stalls: a bearer token is answered 503 at the
 * configured deadline, not 401 (the token may be fine) and not after the stall.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRemoteJWKSet, SignJWT, generateKeyPair } from "jose";
import t from "tap";
import { ArmError } from "../../src/arm/errors.js";
import { JwtAuthenticator } from "../../src/auth/jwt-authenticator.js";
import { CircuitBreaker, DeadlineExceededError, withDeadline, type BreakerState } from "../../src/ports/circuit-breaker.js";
import { GuardedStore } from "../../src/store/guarded.js";
import { StoreUnavailableError, type Store } from "../../src/store/port.js";

class Down extends Error {}
class Refused extends Error {}
/** what a promise rejected with (undefined when it resolved) */
const caught = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (err: unknown) => err);

t.test("breaker: opens after N consecutive failures, refuses without calling, probes, doubles the interval, closes", async (t) => {
  let now = 0;
  const breaker = new CircuitBreaker("dep", { failureThreshold: 3, openMs: 1000, maxOpenMs: 3000, now: () => now });
  const states: BreakerState[] = [];
  breaker.onStateChange((s) => states.push(s));
  let calls = 0;
  const run = (outcome: "ok" | "down" | "refused") =>
    breaker.run(
      async () => {
        calls++;
        if (outcome === "down") throw new Down();
        if (outcome === "refused") throw new Refused();
        return "ok";
      },
      (err) => err instanceof Down,
      (ms) => Object.assign(new Error("open"), { retryAfterMs: ms }),
    );
  t.ok((await caught(run("down"))) instanceof Down);
  t.ok((await caught(run("refused"))) instanceof Refused, "a refusal proves the dependency answered: the count starts over");
  t.ok((await caught(run("down"))) instanceof Down);
  t.ok((await caught(run("down"))) instanceof Down);
  t.equal(breaker.state, "closed", "two consecutive failures only");
  t.ok((await caught(run("down"))) instanceof Down);
  t.equal(breaker.state, "open");
  const before = calls;
  t.match(await caught(run("ok")), { message: "open", retryAfterMs: 1000 });
  t.equal(calls, before, "refused without calling the dependency");
  t.equal(breaker.refused, 1);
  now += 1000;
  t.ok((await caught(run("down"))) instanceof Down, "the first call after the interval is the probe");
  t.equal(breaker.state, "open");
  now += 1000;
  t.match(await caught(run("ok")), { retryAfterMs: 1000 }, "the interval doubled after a failed probe");
  now += 1000;
  t.equal(await run("ok"), "ok", "a probe that succeeds closes the circuit");
  t.equal(breaker.state, "closed");
  t.same(states, ["open", "halfOpen", "open", "halfOpen", "closed"]);
});

t.test("breaker with a background probe: no caller is the probe, recovery without traffic", async (t) => {
  const breaker = new CircuitBreaker("dep", { failureThreshold: 1, openMs: 50, maxOpenMs: 200 });
  let up = false;
  breaker.useProbe(async () => {
    if (!up) throw new Down();
  });
  t.teardown(() => breaker.dispose());
  t.ok((await caught(breaker.run(async () => Promise.reject(new Down()), () => true, () => new Error("open")))) instanceof Down);
  t.equal(breaker.state, "open");
  await new Promise((r) => setTimeout(r, 80));
  t.match(await caught(breaker.run(async () => "ok", () => true, () => new Error("open"))), { message: "open" }, "refused while probes fail");
  up = true;
  await new Promise((r) => setTimeout(r, 250));
  t.equal(breaker.state, "closed", "closed by the probe alone");
});

t.test("deadline: a call that never answers is abandoned at its deadline, and its signal is aborted", async (t) => {
  let aborted = false;
  const started = performance.now();
  const err = await caught(withDeadline("stall", 100, (signal) => new Promise(() => signal.addEventListener("abort", () => (aborted = true)))));
  t.ok(err instanceof DeadlineExceededError);
  t.ok(performance.now() - started < 500);
  t.ok(aborted, "the client is told to give up");
});

t.test("JWKS: a stalled identity provider answers 503 at the deadline, not 401, not later", async (t) => {
  const stalled = new Set<http.ServerResponse>();
  const idp = http.createServer((_req, res) => void stalled.add(res));
  await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    idp.closeAllConnections();
    idp.close();
  });
  const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${(idp.address() as AddressInfo).port}/keys`), { timeoutDuration: 300 });
  const auth = new JwtAuthenticator({ mode: "production", issuer: "https://idp.example", audience: "api", key: jwks, trustedCallers: [] });
  const { privateKey } = await generateKeyPair("RS256");
  const token = await new SignJWT({ tid: "t", oid: "o" }).setProtectedHeader({ alg: "RS256", kid: "k1" }).setIssuer("https://idp.example").setAudience("api").setExpirationTime("1h").sign(privateKey);
  const started = performance.now();
  const err = await auth.authenticate(`Bearer ${token}`).catch((e: unknown) => e);
  const took = performance.now() - started;
  t.ok(err instanceof ArmError, String(err));
  t.equal((err as ArmError).statusCode, 503);
  t.match((err as ArmError).headers, { "retry-after": /^\d+$/ });
  t.ok(took < 1000, `answered in ${took.toFixed(0)} ms (deadline 300 ms)`);
  t.comment(`JWKS stall: 503 after ${took.toFixed(0)} ms`);
});

t.test("store guard: throttling (429) never opens the breaker; an engine that is down does", async (t) => {
  const failing = (cause: { code: number }) =>
    new Proxy({ engine: "cosmos" } as Store, {
      get: (target, prop) => (prop === "engine" ? target.engine : async () => Promise.reject(new StoreUnavailableError("engine answered", 1, { cause }))),
    });
  for (const [code, opens] of [[429, false], [503, true]] as const) {
    const breaker = new CircuitBreaker("store", { failureThreshold: 3, openMs: 60_000, maxOpenMs: 60_000 });
    const guarded = new GuardedStore(failing({ code }), { deadlineMs: 1000, breaker });
    t.teardown(() => breaker.dispose());
    for (let i = 0; i < 6; i++) await caught(guarded.get("cluster", "k", "p"));
    t.equal(breaker.state, opens ? "open" : "closed", `${code}: ${opens ? "opens" : "stays closed"}`);
  }
});
