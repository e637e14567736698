/** Kubernetes object names (RFC 1123 labels): lowercase alphanumerics and '-', alphanumeric at both ends. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** undefined when valid, else why not */
export function kubernetesNameProblem(value: string, maxLength: number): string | undefined {
  if (value.length === 0) return "must not be empty";
  if (value.length > maxLength) return `must be at most ${maxLength} characters (got ${value.length})`;
  if (!DNS_LABEL.test(value)) return "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
  return undefined;
}
