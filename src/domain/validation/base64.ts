/** Strict base64: Node's decoder skips invalid characters silently, so the shape is checked first. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function decodeBase64Strict(value: string): Buffer | undefined {
  const compact = value.replace(/\s+/g, "");
  if (compact.length === 0 || !BASE64.test(compact)) return undefined;
  return Buffer.from(compact, "base64");
}
