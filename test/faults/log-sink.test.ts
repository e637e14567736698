/**
 * A log sink that cannot be written never stops the service: a real full device (/dev/full gives
 * ENOSPC), a pipe whose reader stopped reading (a stalled child process), and one whose reader died
 * (EPIPE). Lines are dropped and counted, requests are answered as usual, and once the sink works
 * again one line says how many were lost.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { fdWriter, SafeLogSink, streamWriter, type SinkWriter } from "../../src/ops/log-sink.js";
import { clusterBody, clusterPath } from "../helpers/fixtures.js";
import { client } from "../helpers/http.js";
import { freePort, ready, startProcess } from "../helpers/process.js";
import { startServer, tempDir } from "../helpers/server.js";

const line = (i: number) => `${JSON.stringify({ level: 30, msg: `line ${i}` })}\n`;

t.test("a full device: lines dropped and counted, never thrown; the first good write reports the loss", async (t) => {
  const full = fs.openSync("/dev/full", "w");
  const file = path.join(tempDir(), "log.jsonl");
  const good = fs.openSync(file, "w");
  t.teardown(() => {
    fs.closeSync(full);
    fs.closeSync(good);
  });
  // the operator frees space: the same sink writes to a place that works again
  let target = fdWriter(full);
  const switchable: SinkWriter = { write: (data, done) => target.write(data, done) };
  let counted = 0;
  const sink = new SafeLogSink(switchable, { retryMs: 20, onDrop: (n) => (counted += n) });
  for (let i = 0; i < 50; i++) t.doesNotThrow(() => sink.write(line(i)));
  await new Promise((r) => setTimeout(r, 100));
  t.ok(sink.droppedTotal > 0, `dropped ${sink.droppedTotal}`);
  t.equal(counted, sink.droppedTotal, "every drop is counted for the metric");
  target = fdWriter(good);
  sink.write(line(1000));
  await sink.drain(2000);
  await new Promise((r) => setTimeout(r, 50));
  const written = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { msg: string; droppedLines?: number });
  const report = written.find((l) => l.droppedLines !== undefined);
  t.ok(report, "one line says lines were lost");
  t.equal(written.filter((l) => l.droppedLines !== undefined).length, 1, "said once");
  t.ok(written.some((l) => l.msg === "line 1000"), "and logging goes on");
  t.equal(report?.droppedLines, sink.droppedTotal - 0, "with the count of lines lost");
});

t.test("a stalled reader, then a dead one: the service answers as usual, the sink drops beyond its bound", async (t) => {
  // a child that never reads its stdin: the pipe fills up and writes stop completing
  const reader = spawn("sleep", ["60"], { stdio: ["pipe", "ignore", "ignore"] });
  t.teardown(() => void reader.kill("SIGKILL"));
  let counted = 0;
  const sink = new SafeLogSink(streamWriter(reader.stdin), { maxQueuedBytes: 32 * 1024, retryMs: 50, onDrop: (n) => (counted += n) });
  // fill the pipe's kernel buffer (64 KiB) and the sink's own bound
  for (let i = 0; i < 5000; i++) sink.write(line(i));
  const server = await startServer({ logStream: sink });
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  const started = performance.now();
  for (let i = 0; i < 100; i++) t.equal((await http("/healthz")).status, 200);
  const stalledMs = performance.now() - started;
  t.ok(counted > 0, `lines dropped while the reader stalls: ${counted}`);
  t.ok(stalledMs < 5000, `100 requests in ${stalledMs.toFixed(0)} ms with the log stalled`);
  reader.kill("SIGKILL");
  await new Promise((r) => reader.once("exit", r));
  const before = counted;
  for (let i = 0; i < 50; i++) t.equal((await http("/healthz")).status, 200, "a closed pipe breaks nothing either");
  await new Promise((r) => setTimeout(r, 200));
  t.ok(counted > before, `and drops go on being counted (${counted})`);
  t.comment(`log sink: stalled reader, 100 requests in ${stalledMs.toFixed(0)} ms, ${counted} lines dropped and counted`);
});

t.test("the real process whose stdout reader goes away (EPIPE) keeps serving", async (t) => {
  const dataDir = tempDir();
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const proc = startProcess(dataDir, port);
  t.teardown(() => void proc.child.kill("SIGKILL"));
  const ca = await ready(url, dataDir);
  const token = fs.readFileSync(path.join(dataDir, "dev-token"), "utf8").trim();
  const http = client(url, ca, token);
  // the log's reader dies: every write to fd 1 fails with EPIPE from now on
  proc.child.stdout?.destroy();
  let exited = false;
  proc.child.on("exit", () => (exited = true));
  t.equal((await http(`${clusterPath("epipe")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody() })).status, 201);
  for (let i = 0; i < 30; i++) t.equal((await http(`${clusterPath("epipe")}?api-version=2024-01-01`)).status, 200);
  await new Promise((r) => setTimeout(r, 200));
  const metrics = await http("/metrics");
  const dropped = Number(/^log_lines_dropped_total (\d+)$/m.exec(metrics.text)?.[1] ?? 0);
  t.ok(dropped > 0, `log lines dropped and counted: ${dropped}`);
  t.notOk(exited, "the process is still running");
  t.comment(`closed stdout pipe: 31 requests answered, ${dropped} lines dropped and counted`);
});
