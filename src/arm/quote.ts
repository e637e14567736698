/**
 * How a submitted value appears in an error message: quoted, and at most QUOTE_MAX_CHARS of it, so a
 * response never grows with what the caller sent (a 900 KB value is not echoed back).
 */
export const QUOTE_MAX_CHARS = 80;

/** the first QUOTE_MAX_CHARS characters, an ellipsis when cut; never splits a surrogate pair */
export function clip(value: unknown, max = QUOTE_MAX_CHARS): string {
  const text = typeof value === "string" ? value : String(value);
  const chars = Array.from(text.length > max * 2 + 2 ? text.slice(0, max * 2 + 2) : text);
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : chars.join("");
}

/** `'value'`, clipped: use it wherever a submitted value is interpolated into a message */
export const quote = (value: unknown): string => `'${clip(value)}'`;
