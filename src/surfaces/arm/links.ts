/** Absolute links the service hands out (nextLink, Location): on the host the caller used, or ARM's. */
import type { ArmCall } from "./route-table.js";

/** ARM builds links from the Referer it sends; direct callers get links on the host they called */
export function baseUrl(call: ArmCall): URL {
  const referer = call.request.headers.referer;
  if (typeof referer === "string") {
    try {
      return new URL(referer);
    } catch {
      // fall through to the request's own host
    }
  }
  return new URL(`${call.request.protocol}://${call.request.headers.host ?? "localhost"}${call.request.url}`);
}

/** `path` under the same origin as the request, with the request's api-version */
export function linkTo(call: ArmCall, path: string): string {
  const url = baseUrl(call);
  url.pathname = path;
  url.search = `?api-version=${encodeURIComponent(call.apiVersion)}`;
  return url.toString();
}
