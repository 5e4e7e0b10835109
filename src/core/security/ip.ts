/**
 * IP address helpers for bans and allow-lists. Pure (node:net's `isIP*` and `BlockList` do no I/O).
 *
 * - A dual-stack listener reports IPv4 peers as IPv4-mapped IPv6 (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2);
 *   they are folded back to IPv4 so a ban or an allow-list entry matches however the peer arrived.
 * - An IPv6 host usually owns a whole /64 (RFC 6177 recommends /48–/56 per site, SLAAC hosts pick any
 *   interface id), so banning one IPv6 address is trivially dodged: bans key IPv6 peers by prefix.
 */
import { BlockList, isIPv4, isIPv6 } from "node:net";

/** `::ffff:a.b.c.d` → `a.b.c.d`; anything else unchanged (lowercased). */
export function normalizeIp(ip: string): string {
  const lower = ip.toLowerCase();
  if (lower.startsWith("::ffff:") && isIPv4(lower.slice(7))) return lower.slice(7);
  return lower;
}

/** The eight 16-bit groups of an IPv6 address (with an embedded dotted IPv4 tail), or null. */
export function ipv6Groups(ip: string): number[] | null {
  if (!isIPv6(ip)) return null;
  let text = ip.toLowerCase();
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (isIPv4(tail)) {
    const [a, b, c, d] = tail.split(".").map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = rest === undefined ? [] : rest ? rest.split(":") : [];
  const missing = 8 - left.length - right.length;
  if (rest === undefined ? missing !== 0 : missing < 0) return null;
  const groups = [...left, ...Array<string>(rest === undefined ? 0 : missing).fill("0"), ...right].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

/**
 * The key a peer is tracked under: the normalised IPv4 address, or the IPv6 prefix of
 * `ipv6PrefixBits` (a multiple of 16, default 64) written as `2001:db8:1:2::/64`.
 */
export function banKey(ip: string, ipv6PrefixBits = 64): string {
  const n = normalizeIp(ip);
  if (isIPv4(n)) return n;
  const groups = ipv6Groups(n);
  if (!groups || ipv6PrefixBits >= 128) return n;
  const keep = Math.max(1, Math.floor(ipv6PrefixBits / 16));
  return `${groups.slice(0, keep).map((g) => g.toString(16)).join(":")}::/${keep * 16}`;
}

/** An allow-list of IPs and CIDR blocks (`bans.allowlist`), already validated by the config loader. */
export class IpAllowList {
  private readonly list = new BlockList();
  readonly size: number;
  /** Entries that were neither an IP nor a CIDR block (skipped). */
  readonly invalid: string[];

  /** Entries that are not an IP or CIDR are skipped and returned in `invalid`. */
  constructor(entries: readonly string[]) {
    let n = 0;
    const invalid: string[] = [];
    for (const entry of entries) {
      const [addr, prefix] = entry.split("/");
      const ip = normalizeIp(addr);
      const type = isIPv4(ip) ? "ipv4" : isIPv6(ip) ? "ipv6" : null;
      if (!type) {
        invalid.push(entry);
        continue;
      }
      if (prefix === undefined) this.list.addAddress(ip, type);
      else this.list.addSubnet(ip, Number(prefix), type);
      n++;
    }
    this.size = n;
    this.invalid = invalid;
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    const n = normalizeIp(ip);
    if (isIPv4(n)) return this.list.check(n, "ipv4");
    if (isIPv6(n)) return this.list.check(n, "ipv6");
    return false;
  }
}
