/**
 * Miner-supplied text (worker names, user agents) shown to a human: a terminal or a web page. Control
 * characters (C0, DEL, C1: NUL, ESC sequences that would drive a terminal) and the Unicode bidirectional
 * controls (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F: an RTL override would make "gpj.exe" read
 * "exe.jpg") are replaced by U+FFFD, and the result is clipped, so a hostile name can neither restyle
 * the output nor pass for another one. HTML escaping is a separate matter: the pages only ever set
 * text through `textContent`.
 */
import { createHmac, randomBytes } from "node:crypto";

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/** The regular expression source of {@link displaySafe}'s replaced set (the pages' script uses the same). */
export const UNSAFE_TEXT_SOURCE = UNSAFE.source;

/** `s` with control and bidi characters replaced by U+FFFD, clipped to `max` characters (… marks a cut). */
export function displaySafe(s: string, max = 128): string {
  const clean = s.replace(UNSAFE, "\ufffd");
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}

/** How payout addresses appear on public status pages: as they are, shortened, or as a pseudonym. */
export type AddressDisplay = "full" | "short" | "hidden";
export const ADDRESS_DISPLAY_VALUES: readonly AddressDisplay[] = ["full", "short", "hidden"];

/**
 * Shows addresses as configured: `full`; `short` = first 6 … last 4 characters; `hidden` = `miner-` and 8 hex
 * digits of an HMAC under a key drawn at start, so rows stay distinguishable while the process runs but the
 * address cannot be recovered by hashing candidate addresses.
 */
export class AddressMask {
  private readonly key = randomBytes(16);
  constructor(readonly display: AddressDisplay) {}

  show(address: string): string {
    if (this.display === "full") return displaySafe(address, 100);
    if (this.display === "short") return address.length <= 12 ? displaySafe(address, 12) : displaySafe(`${address.slice(0, 6)}…${address.slice(-4)}`, 12);
    return `miner-${createHmac("sha256", this.key).update(address).digest("hex").slice(0, 8)}`;
  }
}
