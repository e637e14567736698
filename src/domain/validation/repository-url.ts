/**
 * What GET and list show of a stored repository URL. The rule itself (docs/repository-url.md) is part of the
 * contract with the agent and lives once, in src/contract/repository-url.ts; this file adds only the service's
 * served form of a URL stored before the rule existed. It never shows a secret a URL once carried.
 */
import { checkRepositoryUrl, secretParamProblem, URL_FORM } from "../../contract/repository-url.js";

export const REDACTED = "REDACTED";

function redactParams(part: string): string {
  return part
    .split(/([&;])/)
    .map((pair) => {
      if (pair === "&" || pair === ";") return pair;
      const eq = pair.indexOf("=");
      const probe = secretParamProblem(pair, "query");
      if (!probe) return pair;
      return eq < 0 ? REDACTED : `${pair.slice(0, eq)}=${REDACTED}`;
    })
    .join("");
}

/**
 * What GET and list show of a stored URL. A URL that passes the rule is shown as it is; one stored before the
 * rule existed has its user info on http(s), any password, and credential parameters replaced by REDACTED,
 * so no read ever returns a secret a URL once carried. (The agent refuses such a URL: it is not deployable.)
 */
export function servedRepositoryUrl(url: string): string {
  if (checkRepositoryUrl(url).ok) return url;
  const m = URL_FORM.exec(url);
  if (m) {
    const [, scheme = "", authority = "", path = "", query, fragment] = m;
    const at = authority.lastIndexOf("@");
    let userInfo = at < 0 ? undefined : authority.slice(0, at);
    if (userInfo !== undefined) userInfo = /^ssh$/i.test(scheme) && !userInfo.includes(":") ? userInfo : REDACTED;
    const host = at < 0 ? authority : authority.slice(at + 1);
    return `${scheme}://${userInfo !== undefined ? `${userInfo}@` : ""}${host}${path}${query !== undefined ? `?${redactParams(query)}` : ""}${fragment !== undefined ? `#${redactParams(fragment)}` : ""}`;
  }
  const at = url.indexOf("@");
  const colon = url.indexOf(":");
  // scp-like user:password@host:path
  if (at > 0 && colon >= 0 && colon < at && !url.includes("://")) return `${REDACTED}${url.slice(at)}`;
  return url;
}
