/**
 * The embedded default's key file: created 0600 at first start, refused when readable by others,
 * rotated without restart, re-wrapped, and the old version disabled with everything still readable.
 * Also the DEK rotation path (a new data key per partition, old data still readable).
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { disableKeyVersion, ensureKeyFile, InsecureKeyFileError, LocalKeyFileProvider, RECHECK_MS, rotateKeyFile } from "../../src/keys/local-key-file.js";
import { KeyRefusedError } from "../../src/ports/key-provider.js";
import { startServer, tempDir } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64, SUB } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";

t.test("created owner-only; looser permissions are refused loudly", async (t) => {
  const file = path.join(tempDir(), "keys", "kek.json");
  const provider = new LocalKeyFileProvider(file);
  t.equal(fs.statSync(file).mode & 0o777, 0o600);
  const wrapped = await provider.wrap(Buffer.alloc(32, 1));
  t.same(await provider.unwrap(wrapped), Buffer.alloc(32, 1));
  fs.chmodSync(file, 0o644);
  t.throws(() => new LocalKeyFileProvider(file), InsecureKeyFileError);
  t.throws(() => new LocalKeyFileProvider(file), /chmod 600/, "the message says how to fix it");
});

t.test("a running provider: wraps under a rotated version, and stops unwrapping a disabled one, within RECHECK_MS", async (t) => {
  const file = path.join(tempDir(), "keys", "kek.json");
  const provider = new LocalKeyFileProvider(file);
  const dek = Buffer.alloc(32, 7);
  const old = await provider.wrap(dek);
  t.same(await provider.unwrap(old), dek);
  const v2 = rotateKeyFile(file);
  await new Promise((resolve) => setTimeout(resolve, RECHECK_MS + 50));
  const fresh = await provider.wrap(dek);
  t.equal(fresh.kek.version, v2, "a wrap after RECHECK_MS uses the new version");
  t.not(fresh.wrapped.subarray(0, 12).toString("hex"), old.wrapped.subarray(0, 12).toString("hex"), "a fresh IV per wrap");
  disableKeyVersion(file, old.kek.version);
  await new Promise((resolve) => setTimeout(resolve, RECHECK_MS + 50));
  await t.rejects(provider.unwrap(old), KeyRefusedError, "disabled in the file: refused without a restart");
  t.same(await provider.unwrap(fresh), dek);
});

t.test("a rotation written in the same clock tick as the last load is still seen (file times are coarse)", async (t) => {
  const file = path.join(tempDir(), "keys", "kek.json");
  // two writes a few milliseconds apart mostly get the same mtime (the kernel's coarse clock): made certain here
  const tick = new Date("2026-12-03T12:00:00Z");
  const sameTick = () => fs.utimesSync(file, tick, tick);
  ensureKeyFile(file);
  sameTick();
  const provider = new LocalKeyFileProvider(file);
  const dek = Buffer.alloc(32, 9);
  const old = await provider.wrap(dek);
  const v2 = rotateKeyFile(file);
  sameTick();
  t.equal(fs.statSync(file).mtimeMs, tick.getTime(), "the rotated file has the loaded file's mtime");
  await new Promise((resolve) => setTimeout(resolve, RECHECK_MS + 50));
  t.equal((await provider.wrap(dek)).kek.version, v2, "the next wrap after RECHECK_MS uses the new version");
  disableKeyVersion(file, old.kek.version);
  sameTick();
  await new Promise((resolve) => setTimeout(resolve, RECHECK_MS + 50));
  await t.rejects(provider.unwrap(old), KeyRefusedError, "and a version disabled in the same tick stops unwrapping");
});

t.test("KEK rotation without restart, re-wrap, old version disabled", async (t) => {
  const dataDir = tempDir();
  const keyFile = path.join(dataDir, "keys", "kek.json");
  const server = await startServer({ dataDir });
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  t.equal((await http(`${clusterPath("lk")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  t.equal((await http(`${configurationPath("lk", "c1")}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: knownHostsB64() }) })).status, 201);
  const v1 = (await server.keyProvider?.current())?.version ?? "";

  const v2 = rotateKeyFile(keyFile);
  t.equal((await server.keyProvider?.current())?.version, v2, "the running service sees the new version");
  t.equal((await http(`${configurationPath("lk", "c2")}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: knownHostsB64() }) })).status, 201);
  const secretKeys = (await server.store.inner.scan({ kind: "secretKey" }, { limit: 100 })).items;
  t.same(secretKeys.map((d) => (d.body as { kek: { version: string } }).kek.version).sort(), [v1, v2].sort(), "the new secrets key is wrapped under v2");

  const report = await server.dataKeys?.rewrap();
  t.equal(report?.rewrapped, 2, "the data key and the old secrets key moved to v2");
  disableKeyVersion(keyFile, v1);
  const restarted = await startServer({ dataDir });
  t.teardown(() => restarted.close());
  const again = client(restarted.url, restarted.ca, restarted.token);
  t.equal((await again(`${configurationPath("lk", "c1")}?${V}`)).status, 200, "v1 disabled: data from before still reads after a restart");
});

t.test("without re-wrap, disabling the old version makes its data unreadable, and says so without leaking", async (t) => {
  const dataDir = tempDir();
  const keyFile = path.join(dataDir, "keys", "kek.json");
  const first = await startServer({ dataDir });
  const http = client(first.url, first.ca, first.token);
  t.equal((await http(`${clusterPath("nr")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  const v1 = (await first.keyProvider?.current())?.version ?? "";
  await first.close();
  rotateKeyFile(keyFile);
  disableKeyVersion(keyFile, v1);
  const second = await startServer({ dataDir });
  t.teardown(() => second.close());
  const res = await client(second.url, second.ca, second.token)(`${clusterPath("nr")}?${CV}`);
  t.equal(res.status, 500);
  t.equal(res.json.error.code, "EncryptionKeyUnavailable");
});

t.test("DEK rotation: new writes use a new data key; data under the old one still reads", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  t.equal((await http(`${clusterPath("dr")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  const partition = SUB.toLowerCase();
  const before = (await server.store.inner.get("cluster", clusterPath("dr").toLowerCase(), partition))?.body.dek;
  const fresh = await server.dataKeys?.rotateDataKey(partition);
  t.equal((await http(`${clusterPath("dr2")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  const after = (await server.store.inner.get("cluster", clusterPath("dr2").toLowerCase(), partition))?.body.dek;
  t.not(before, after);
  t.equal(after, fresh, "sealed with the new data key");
  t.equal((await http(`${clusterPath("dr")}?${CV}`)).status, 200, "the old one still opens older data");
});
