import { isIP } from "node:net";
import { classifyHost } from "@insitu/tool-kit";

/**
 * Why a *resolved* address must not be dialled for a tool, or undefined when it is public.
 *
 * The proxy judges the address it is about to dial, never the name: a public-looking name may
 * answer with loopback in any spelling. IPv4 private, loopback, link-local, CGNAT, metadata,
 * multicast; IPv6 loopback, unspecified, ULA, link-local, site-local, multicast, and every form
 * that carries an IPv4 address (mapped, compatible, NAT64, 6to4) judged by that address — all via
 * `classifyHost`. On top of it: Teredo (2001::/32, whose client address is obfuscated, so it is
 * refused outright), documentation (2001:db8::/32) and discard (100::/64) ranges, and zone ids.
 */
export function classifyAddress(address: string): string | undefined {
  let text = address.trim().toLowerCase();
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  // A zone id (fe80::1%eth0) only occurs on link-local scopes; refuse whatever carries one.
  if (text.includes("%")) return "link-local";
  const family = isIP(text);
  if (family === 0) return "not an address";
  if (family === 4) return classifyHost(text);
  const reason = classifyHost(`[${text}]`);
  if (reason) return reason;
  const groups = expandIpv6(text);
  if (!groups) return "reserved-ipv6";
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0] = groups;
  if (g0 === 0x2001 && g1 === 0) return "teredo";
  if (g0 === 0x2001 && g1 === 0xdb8) return "documentation";
  if (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) return "discard";
  return undefined;
}

/** The eight groups of a valid IPv6 address (a trailing dotted IPv4 counts as two). */
function expandIpv6(text: string): number[] | undefined {
  let value = text;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(value);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    value = `${value.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = value.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - headGroups.length - tailGroups.length;
  if (tail === undefined ? missing !== 0 : missing < 0) return undefined;
  const groups = [
    ...headGroups,
    ...Array<string>(tail === undefined ? 0 : missing).fill("0"),
    ...tailGroups,
  ].map((group) => Number.parseInt(group, 16));
  return groups.length === 8 && groups.every((group) => group >= 0 && group <= 0xffff) ? groups : undefined;
}
