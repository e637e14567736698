/**
 * The one rule for a Git repository URL (docs/repository-url.md): parse into scheme, user, host,
 * port, path, query and fragment, then check each part. Forms: http(s)://host/path,
 * ssh://[user@]host[:port]/path and scp-like user@host:path.
 *
 * Why so strict: the agent writes the URL into the Flux Deployment as `--git-url=<url>`, git hands
 * host and user to ssh and path to the remote, so a part starting with '-' is an option
 * (`ssh://-oProxyCommand=…`), and a control character splits or hides what is run or logged. The
 * URL is returned by GET and list, so it must carry no secret: no password, no user info on http(s)
 * (use configurationProtectedSettings), no credential in the query or fragment.
 *
 * Both programs run this one copy: the service at PUT time (src/domain/validation), the reference agent before it
 * renders anything (src/agent: a hostile or stale store must not put `--git-url=ssh://-oProxyCommand=…` into a
 * Deployment). What GET shows of a URL stored before the rule existed is the service's own concern
 * (src/domain/validation/repository-url.ts `servedRepositoryUrl`, built on URL_FORM and secretParamProblem).
 * Reasons never quote the URL: it may be refused precisely because it holds a secret.
 */
export type RepositoryTransport = "https" | "ssh";

export type RepositoryUrlCheck = { ok: true; transport: RepositoryTransport } | { ok: false; reason: string };

export const REPOSITORY_URL_MAX = 2048;

/** RFC 3986: unreserved, reserved and '%'. Everything else (controls, space, '\', '"', '<', '>', '^', '`', '{', '|', '}', non-ASCII) is refused. */
const URI_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/;
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const HOST_NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*)(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*))*\.?$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
const USER = /^[A-Za-z0-9._~+-]+$/;
/** `scheme://authority path ?query #fragment` (the served form of src/domain/validation reads it too) */
export const URL_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/;
const SCP_FORM = /^(?:([^@/]*)@)?(\[[^\]/]*\]|[^:/[\]]*):(.*)$/;

/** query or fragment parameter names that carry credentials: exact names (after lower-casing and dropping '-', '_', '.'), and parts of names */
const SECRET_PARAM_NAMES = new Set(["sig", "key", "auth", "pass", "pwd", "code", "sas"]);
const SECRET_PARAM_PARTS = ["token", "secret", "password", "passwd", "apikey", "signature", "credential", "privatekey", "accesskey", "authorization", "sessionkey"];
/** well-known token formats, refused as any parameter's value (GitHub, GitLab) */
const SECRET_VALUE_PREFIXES = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-"];

const refuse = (reason: string): RepositoryUrlCheck => ({ ok: false, reason });

/** percent-decodes strictly: every '%' starts two hex digits and the bytes are UTF-8; undefined otherwise */
function decode(part: string): string | undefined {
  if (/%(?![0-9A-Fa-f]{2})/.test(part)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < part.length; i++) {
    if (part[i] === "%") {
      bytes.push(parseInt(part.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(part.charCodeAt(i)); // ASCII only: URI_CHARS ran first
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

function hostProblem(host: string): string | undefined {
  if (host.startsWith("-") || (decode(host) ?? "").startsWith("-")) return "the host starts with '-'";
  if (host.length === 0 || host.length > 253 || !(HOST_NAME.test(host) || IPV6.test(host))) return "the host is not a valid host name or IP address";
  return undefined;
}

function userProblem(user: string): string | undefined {
  const decoded = decode(user) ?? "";
  if (user.startsWith("-") || decoded.startsWith("-")) return "the user starts with '-'";
  if (!USER.test(user)) return "the user name may hold only letters, digits and . _ ~ + -";
  return undefined;
}

function pathProblem(path: string): string | undefined {
  const decoded = decode(path);
  if (decoded === undefined) return "the path holds an invalid percent-encoding";
  if (decoded.split("/").some((segment) => segment.startsWith("-"))) return "a path segment starts with '-'";
  return undefined;
}

/** `a=1&b=2` (also ';'-separated, '+' for space), as in query strings and OAuth-style fragments */
export function secretParamProblem(part: string | undefined, where: "query" | "fragment"): string | undefined {
  if (part === undefined || part === "") return undefined;
  for (const pair of part.split(/[&;]/)) {
    const eq = pair.indexOf("=");
    const name = (decode((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, " ")) ?? "").toLowerCase().replace(/[-_.\s]/g, "");
    const value = eq < 0 ? "" : (decode(pair.slice(eq + 1).replace(/\+/g, " ")) ?? "");
    if (SECRET_PARAM_NAMES.has(name) || SECRET_PARAM_PARTS.some((p) => name.includes(p))) return `the ${where} holds a credential parameter`;
    if (SECRET_VALUE_PREFIXES.some((p) => value.toLowerCase().startsWith(p))) return `the ${where} holds a token`;
  }
  return undefined;
}

function checkScpLike(url: string): RepositoryUrlCheck {
  const m = SCP_FORM.exec(url);
  if (!m) return refuse("it is not an http(s)://, ssh:// or user@host:path URL");
  const [, userInfo, host = "", path = ""] = m;
  if (userInfo === undefined || userInfo === "") return refuse("an scp-like URL needs a user (user@host:path)");
  if (userInfo.includes(":")) return refuse("it holds a password");
  // git reads an scp-like path literally: '?' or '#' there is no query, only a place to smuggle a token into the stored URL
  if (/[?#]/.test(path)) return refuse("an scp-like path may not hold '?' or '#'");
  const problem = userProblem(userInfo) ?? hostProblem(host) ?? (path === "" || path.startsWith("//") ? "the path is missing" : undefined) ?? pathProblem(path);
  return problem ? refuse(problem) : { ok: true, transport: "ssh" };
}

function checkUrlForm(m: RegExpExecArray): RepositoryUrlCheck {
  const [, rawScheme = "", authority = "", path = "", query, fragment] = m;
  const scheme = rawScheme.toLowerCase();
  if (scheme !== "http" && scheme !== "https" && scheme !== "ssh") return refuse("only the http, https and ssh schemes are supported");
  const at = authority.lastIndexOf("@");
  const userInfo = at < 0 ? undefined : authority.slice(0, at);
  const hostPort = at < 0 ? authority : authority.slice(at + 1);
  if (userInfo !== undefined) {
    if (userInfo.includes(":")) return refuse("it holds a password");
    if (scheme !== "ssh") return refuse("an http(s) URL may not hold user info (use configurationProtectedSettings)");
    if (userInfo.includes("@")) return refuse("the user info holds '@'");
    const problem = userProblem(userInfo);
    if (problem) return refuse(problem);
  }
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d{0,5}))?$/.exec(hostPort);
  if (!hp) return refuse("the host or port is not valid");
  const [, host = "", port] = hp;
  const hostIssue = hostProblem(host);
  if (hostIssue) return refuse(hostIssue);
  if (port !== undefined && port !== "" && Number(port) > 65535) return refuse("the port is not valid");
  if (path !== "" && !path.startsWith("/")) return refuse("the path must start with '/'");
  const problem = pathProblem(path) ?? secretParamProblem(query, "query") ?? secretParamProblem(fragment, "fragment");
  if (problem) return refuse(problem);
  return { ok: true, transport: scheme === "ssh" ? "ssh" : "https" };
}

export function checkRepositoryUrl(url: string): RepositoryUrlCheck {
  if (url.length === 0) return refuse("it is empty");
  if (url.length > REPOSITORY_URL_MAX) return refuse(`it is longer than ${REPOSITORY_URL_MAX} characters`);
  if (CONTROL.test(url)) return refuse("it holds a control character");
  if (!URI_CHARS.test(url)) return refuse("it holds a character a URL may not hold (spaces, '\\', quotes, non-ASCII: percent-encode them)");
  const decoded = decode(url);
  if (decoded === undefined) return refuse("it holds an invalid percent-encoding (each '%' starts two hex digits of UTF-8)");
  if (CONTROL.test(decoded)) return refuse("it holds a percent-encoded control character");
  const m = URL_FORM.exec(url);
  if (m) return checkUrlForm(m);
  if (url.includes("://")) return refuse("it is not an http(s)://, ssh:// or user@host:path URL");
  return checkScpLike(url);
}

/** the transport of an acceptable URL, undefined when the URL is refused */
export function repositoryTransport(url: string): RepositoryTransport | undefined {
  const check = checkRepositoryUrl(url);
  return check.ok ? check.transport : undefined;
}
