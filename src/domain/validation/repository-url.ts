/** The Git repository URL forms Flux v1 can clone: http(s)://, ssh:// and scp-like git@host:path. */
export type RepositoryTransport = "https" | "ssh";

const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!\/\/)[^\s]+$/;

export function repositoryTransport(url: string): RepositoryTransport | undefined {
  if (/\s/.test(url)) return undefined;
  if (SCP_LIKE.test(url)) return "ssh";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (!parsed.hostname) return undefined;
  if (parsed.protocol === "http:" || parsed.protocol === "https:") return parsed.username || parsed.password ? undefined : "https";
  // ssh://git@host is the usual form; a password in the URL is not
  if (parsed.protocol === "ssh:") return parsed.password ? undefined : "ssh";
  return undefined;
}
