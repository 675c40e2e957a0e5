/** Text helpers with no I/O (platform-neutral: the browser bundle uses them too). */

/** Drops a leading byte-order mark (U+FEFF) from decoded text. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
