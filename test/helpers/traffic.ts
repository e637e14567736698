/**
 * Records what an SDK client sends and receives, in oav's traffic format (one JSON file per pair),
 * through a real pipeline policy: the captured bytes are exactly what crossed the wire.
 */
import fs from "node:fs";
import path from "node:path";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";

export interface TrafficPair {
  liveRequest: { method: string; url: string; headers: Record<string, string>; body: unknown };
  liveResponse: { statusCode: string; headers: Record<string, string>; body: unknown };
}

const parse = (text: string | undefined | null): unknown => {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

export class TrafficRecorder {
  readonly pairs: TrafficPair[] = [];

  policy(): PipelinePolicy {
    return {
      name: "trafficRecorder",
      sendRequest: async (request, next) => {
        const response = await next(request);
        const reqHeaders = Object.fromEntries([...request.headers].filter(([name]) => name.toLowerCase() !== "authorization"));
        this.pairs.push({
          liveRequest: { method: request.method, url: request.url, headers: reqHeaders, body: typeof request.body === "string" ? parse(request.body) : null },
          liveResponse: { statusCode: String(response.status), headers: Object.fromEntries([...response.headers]), body: parse(response.bodyAsText) },
        });
        return response;
      },
    };
  }

  writeTo(dir: string, filter: (p: TrafficPair) => boolean = () => true): number {
    fs.mkdirSync(dir, { recursive: true });
    const chosen = this.pairs.filter(filter);
    chosen.forEach((pair, i) => fs.writeFileSync(path.join(dir, `${String(i).padStart(3, "0")}.json`), JSON.stringify(pair, null, 2)));
    return chosen.length;
  }
}
