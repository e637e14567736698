/**
 * The public half of a user's own ssh key, as the agent reports it (repositoryPublicKey): identical to what
 * ssh-keygen derives, for OpenSSH-format keys (passphrase-protected too) and PEM keys; nothing for garbage.
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { sshPublicKeyOf } from "../../src/agent/ssh-public-key.js";
import { tempDir } from "../helpers/server.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
/** `<type> <base64>` of ssh-keygen's answer, without its comment */
const keygenPublic = (file: string, passphrase = "") => execFileSync("ssh-keygen", ["-y", "-P", passphrase, "-f", file], { encoding: "utf8" }).trim().split(" ").slice(0, 2).join(" ");

const haveSshKeygen = (() => {
  try {
    execFileSync("ssh-keygen", ["-?"], { stdio: "ignore" });
    return true;
  } catch (err) {
    return (err as { status?: number }).status !== undefined; // it ran (and complained about -?)
  }
})();

t.test("OpenSSH-format keys: the public half as ssh-keygen derives it", { skip: haveSshKeygen ? false : "ssh-keygen is not installed" }, async (t) => {
  const dir = tempDir();
  for (const [type, bits, passphrase] of [["ed25519", "", ""], ["rsa", "2048", ""], ["ecdsa", "256", ""], ["ed25519", "", "secret phrase"]] as const) {
    const file = path.join(dir, `${type}-${passphrase ? "p" : "n"}`);
    execFileSync("ssh-keygen", ["-q", "-t", type, ...(bits ? ["-b", bits] : []), "-N", passphrase, "-C", "x", "-f", file]);
    const derived = sshPublicKeyOf(b64(fs.readFileSync(file, "utf8")), "flux-i");
    t.equal(derived, `${keygenPublic(file, passphrase)} flux-i`, `${type}${passphrase ? " (passphrase-protected)" : ""}`);
  }
});

t.test("PEM keys: the same public half ssh-keygen derives", { skip: haveSshKeygen ? false : "ssh-keygen is not installed" }, async (t) => {
  const dir = tempDir();
  const pairs = {
    rsa: crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs1" }).toString(),
    ec: crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "sec1" }).toString(),
  };
  for (const [kind, pem] of Object.entries(pairs)) {
    const file = path.join(dir, kind);
    fs.writeFileSync(file, pem, { mode: 0o600 });
    t.equal(sshPublicKeyOf(b64(pem), "c"), `${keygenPublic(file)} c`, kind);
  }
  const ed = crypto.generateKeyPairSync("ed25519");
  const raw = Buffer.from(ed.publicKey.export({ format: "jwk" }).x ?? "", "base64url");
  t.match(sshPublicKeyOf(b64(ed.privateKey.export({ format: "pem", type: "pkcs8" }).toString()), "c"), new RegExp(`^ssh-ed25519 \\S+ c$`));
  t.ok(Buffer.from(sshPublicKeyOf(b64(ed.privateKey.export({ format: "pem", type: "pkcs8" }).toString()), "c")?.split(" ")[1] ?? "", "base64").subarray(-32).equals(raw), "ed25519 PKCS#8: the key's own point");
});

t.test("anything unreadable yields no key", async (t) => {
  t.equal(sshPublicKeyOf(b64("-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n"), "c"), undefined);
  t.equal(sshPublicKeyOf(b64("hello"), "c"), undefined);
  t.equal(sshPublicKeyOf("", "c"), undefined);
  t.equal(sshPublicKeyOf(b64(`-----BEGIN OPENSSH PRIVATE KEY-----\n${Buffer.from("openssh-key-v1\0\0\0").toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`), "c"), undefined, "a truncated blob");
});
