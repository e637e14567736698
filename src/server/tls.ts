/**
 * HTTPS material. The Azure SDK refuses to send bearer tokens over plain HTTP, so the service always
 * serves TLS: configured files in production, otherwise a self-signed certificate kept under DATA_DIR.
 */
import fs from "node:fs";
import path from "node:path";
import { generate } from "selfsigned";
import { readPrivateFile, writePrivateFile } from "./secure-files.js";

export interface TlsMaterial {
  key: string;
  cert: string;
  /** path of the certificate clients should trust (for the self-signed case) */
  certFile: string;
}

export async function loadOrCreateTls(dataDir: string, configured: { certFile?: string; keyFile?: string }): Promise<TlsMaterial> {
  if (configured.certFile && configured.keyFile) {
    return { cert: fs.readFileSync(configured.certFile, "utf8"), key: fs.readFileSync(configured.keyFile, "utf8"), certFile: configured.certFile };
  }
  const certFile = path.join(dataDir, "tls", "cert.pem");
  const keyFile = path.join(dataDir, "tls", "key.pem");
  const existingKey = readPrivateFile(keyFile);
  if (existingKey !== undefined && fs.existsSync(certFile)) {
    return { key: existingKey, cert: fs.readFileSync(certFile, "utf8"), certFile };
  }
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keySize: 2048,
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }] },
    ],
  });
  writePrivateFile(keyFile, pems.private);
  fs.writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { key: pems.private, cert: pems.cert, certFile };
}
