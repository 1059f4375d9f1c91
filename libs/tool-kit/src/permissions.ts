import { isIP } from "node:net";
/**
 * The permission vocabulary shared by tool-developer, sandbox and registry.
 *
 * A tool declares what it needs in its manifest (`permissions.network`, `permissions.secrets`);
 * the operator's policy decides what may be granted; the sandbox turns the intersection into Deno
 * flags. A denial is reported as a {@link PermissionRef} so a model can tell exactly what was
 * missing ("net:api.example.com:443", "env:OPENAI_KEY", "read:/etc/passwd").
 */

/** Deno's permission names, which are also the kinds a denial can name. */
export const PermissionKind = {
  net: "net",
  env: "env",
  read: "read",
  write: "write",
  run: "run",
  ffi: "ffi",
  sys: "sys",
  import: "import",
} as const;
export type PermissionKind = (typeof PermissionKind)[keyof typeof PermissionKind];

/** What a denial names: the kind and, when known, the target (host:port, env name, path …). */
export interface PermissionRef {
  kind: PermissionKind;
  target?: string;
}

export function formatPermission(permission: PermissionRef): string {
  return permission.target === undefined ? permission.kind : `${permission.kind}:${permission.target}`;
}

/** Secret names are environment variable names, UPPER_SNAKE. */
export const SECRET_NAME_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/** A declared network target: `host` or `host:port`; IPv6 literals in brackets. */
export interface NetworkTarget {
  /** Lowercase host name, IPv4 literal, or IPv6 literal in brackets. */
  host: string;
  port?: number;
}

const HOSTNAME_PATTERN =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IPV4_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6_BRACKETED = /^\[([0-9a-f:.]+)\]$/;

/**
 * Parses `host[:port]`. Returns undefined for anything else (schemes, paths, wildcards, user
 * info): Deno's `--allow-net` matches literally, so a declaration must be exactly what is fetched.
 */
export function parseNetworkTarget(text: string): NetworkTarget | undefined {
  const value = text.trim().toLowerCase();
  if (value.length === 0 || value.length > 260) return undefined;
  let host = value;
  let port: number | undefined;
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close < 0) return undefined;
    host = value.slice(0, close + 1);
    const rest = value.slice(close + 1);
    if (rest.length > 0) {
      if (!/^:\d{1,5}$/.test(rest)) return undefined;
      port = Number(rest.slice(1));
    }
    if (!IPV6_BRACKETED.test(host)) return undefined;
  } else {
    const colon = value.lastIndexOf(":");
    if (colon >= 0) {
      const portText = value.slice(colon + 1);
      if (!/^\d{1,5}$/.test(portText)) return undefined;
      port = Number(portText);
      host = value.slice(0, colon);
    }
    const ipv4 = IPV4_PATTERN.exec(host);
    if (ipv4) {
      if (ipv4.slice(1).some((octet) => Number(octet) > 255)) return undefined;
    } else if (!HOSTNAME_PATTERN.test(host)) {
      return undefined;
    }
  }
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return port === undefined ? { host } : { host, port };
}

export function formatNetworkTarget(target: NetworkTarget): string {
  return target.port === undefined ? target.host : `${target.host}:${target.port}`;
}

/** Why a host is considered internal (never granted unless the operator names it). */
export const InternalHostReason = {
  loopback: "loopback",
  private: "private",
  linkLocal: "link-local",
  metadata: "cloud-metadata",
  unspecified: "unspecified",
  sharedAddress: "shared-address",
  multicast: "multicast",
  localName: "local-name",
  /** An IPv6 literal outside global unicast (2000::/3), or one that cannot be read. */
  reservedIpv6: "reserved-ipv6",
} as const;
export type InternalHostReason = (typeof InternalHostReason)[keyof typeof InternalHostReason];

const METADATA_NAMES = new Set(["metadata", "metadata.google.internal", "metadata.goog", "instance-data"]);

/**
 * Classifies a host as internal (loopback, private, link-local, cloud metadata …) or public
 * (undefined). Names are judged by their spelling only; DNS answers are the sandbox's concern.
 */
export function classifyHost(host: string): InternalHostReason | undefined {
  const value = host.toLowerCase();
  if (METADATA_NAMES.has(value) || value === "169.254.169.254" || value === "[fd00:ec2::254]") {
    return InternalHostReason.metadata;
  }
  const ipv4 = IPV4_PATTERN.exec(value);
  if (ipv4) return classifyIpv4(ipv4.slice(1).map(Number));
  const ipv6 = IPV6_BRACKETED.exec(value);
  if (ipv6) return classifyIpv6(ipv6[1] ?? "");
  if (value === "localhost" || value.endsWith(".localhost")) return InternalHostReason.loopback;
  if (
    !value.includes(".") ||
    value.endsWith(".local") ||
    value.endsWith(".internal") ||
    value.endsWith(".lan") ||
    value.endsWith(".home.arpa") ||
    value.endsWith(".intranet") ||
    value.endsWith(".corp")
  ) {
    return InternalHostReason.localName;
  }
  return undefined;
}

function classifyIpv4(octets: number[]): InternalHostReason | undefined {
  const [a = 0, b = 0] = octets;
  if (a === 127) return InternalHostReason.loopback;
  if (a === 0) return InternalHostReason.unspecified;
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168))
    return InternalHostReason.private;
  if (a === 169 && b === 254) return InternalHostReason.linkLocal;
  if (a === 100 && b >= 64 && b <= 127) return InternalHostReason.sharedAddress;
  if (a === 192 && b === 0 && octets[2] === 0) return InternalHostReason.private;
  if (a === 198 && (b === 18 || b === 19)) return InternalHostReason.private;
  if (a >= 224) return InternalHostReason.multicast;
  return undefined;
}

function classifyIpv6(address: string): InternalHostReason | undefined {
  const groups = ipv6Groups(address);
  // Unreadable spellings are refused rather than guessed at.
  if (!groups) return InternalHostReason.reservedIpv6;
  const [g0 = 0, g1 = 0, , , , g5 = 0, g6 = 0, g7 = 0] = groups;
  const embedded = [g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff];
  const leadingZeros = groups.findIndex((group) => group !== 0);
  if (leadingZeros === -1) return InternalHostReason.unspecified;
  if (leadingZeros === 7 && g7 === 1) return InternalHostReason.loopback;
  // Forms that carry an IPv4 address are judged by it (Deno's IPv4 deny ranges do not match
  // them): ::ffff:0:0/96 mapped, ::/96 compatible, 64:ff9b::/96 NAT64, 2002::/16 6to4.
  if (leadingZeros >= 5 && (g5 === 0xffff || g5 === 0))
    return classifyIpv4(embedded) ?? InternalHostReason.reservedIpv6;
  if (g0 === 0x64 && g1 === 0xff9b) return classifyIpv4(embedded) ?? InternalHostReason.reservedIpv6;
  if (g0 === 0x2002)
    return classifyIpv4([g1 >> 8, g1 & 0xff, (groups[2] ?? 0) >> 8, (groups[2] ?? 0) & 0xff]);
  if ((g0 & 0xffc0) === 0xfe80) return InternalHostReason.linkLocal;
  if ((g0 & 0xfe00) === 0xfc00 || (g0 & 0xffc0) === 0xfec0) return InternalHostReason.private;
  if ((g0 & 0xff00) === 0xff00) return InternalHostReason.multicast;
  // Only global unicast is public; everything else (documentation, benchmarking, discard …) is not.
  if ((g0 & 0xe000) !== 0x2000) return InternalHostReason.reservedIpv6;
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (with `::` and a trailing dotted IPv4), or undefined. */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  if (isIP(text) !== 6) return undefined;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - headGroups.length - tailGroups.length;
  if (tail === undefined ? missing !== 0 : missing < 0) return undefined;
  const all = [...headGroups, ...Array<string>(tail === undefined ? 0 : missing).fill("0"), ...tailGroups];
  const groups = all.map((group) => Number.parseInt(group, 16));
  return groups.length === 8 && groups.every((group) => group >= 0 && group <= 0xffff) ? groups : undefined;
}
