import { randomBytes } from "node:crypto";
import {
  DefaultLimits,
  LimitCeilings,
  type NetworkTarget,
  type ToolLimits,
  type ToolManifest,
  classifyHost,
  formatNetworkTarget,
  parseNetworkTarget,
} from "@insitu/tool-kit";

/**
 * What the operator permits. Tools get the intersection of what they declare, what the caller
 * grants, and this.
 */
export interface SandboxPolicy {
  /** Whether public hosts a tool declares may be granted (internal ones never, unless named below). */
  allowPublicHosts: boolean;
  /** Public hosts never granted, even when declared (`host` or `host:port`). */
  blockedHosts: string[];
  /**
   * Internal hosts (loopback, private, link-local, metadata, local names) the operator explicitly
   * allows, as `host:port` or `host`. Nothing internal is reachable otherwise.
   */
  internalHosts: string[];
  /** Secret values tools may be granted, by name. Values come from the sandbox's environment. */
  secrets: Record<string, string>;
  /**
   * Hosts a secret is bound to (`NAME@host[:port]` in SANDBOX_SECRETS). The tool holds a
   * placeholder; the egress proxy swaps the value in, in request headers, only for these hosts
   * (docs/adr/0103). An unbound secret is swapped in for any host the call may reach.
   */
  secretHosts: Record<string, string[]>;
  /** Upper bounds on any call's limits. */
  maxLimits: Required<ToolLimits>;
  /** Limits of a call whose manifest and request name none. */
  defaultLimits: Required<ToolLimits>;
}

export function defaultPolicy(overrides: Partial<SandboxPolicy> = {}): SandboxPolicy {
  return {
    allowPublicHosts: true,
    blockedHosts: [],
    internalHosts: [],
    secrets: {},
    secretHosts: {},
    maxLimits: { ...LimitCeilings },
    defaultLimits: { ...DefaultLimits },
    ...overrides,
  };
}

/** Every address range a tool must not reach unless the operator names a host inside it. */
export const INTERNAL_RANGES_V4: readonly string[] = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "224.0.0.0/3",
];
// Deno 2.9's --deny-net takes IPv4 CIDRs but only single IPv6 addresses, so the IPv6 private and
// link-local ranges cannot be listed here; see docs/adr/0011-sandbox-network-policy.md.
export const INTERNAL_RANGES_V6: readonly string[] = ["[::1]", "[::]", "[fd00:ec2::254]"];

/** The permissions one call gets, in the form the runner turns into Deno flags. */
export interface Grant {
  /** `--allow-net` entries (host or host:port), sorted. */
  net: string[];
  /** `--deny-net` entries: internal ranges, minus addresses the operator named. Applied to DNS answers. */
  denyNet: string[];
  /**
   * The tool's environment: each granted secret's *placeholder* by name (`--allow-env` gets the
   * names). The values never enter the tool process.
   */
  env: Record<string, string>;
  /** The granted secrets, for the egress proxy to swap into request headers. */
  secrets: GrantedSecret[];
  /** Declared permissions that were not granted, and why (for logs). */
  refused: { permission: string; reason: string }[];
  limits: Required<ToolLimits>;
}

/** One granted secret: what the tool sees, what the origin gets, and where. */
export interface GrantedSecret {
  name: string;
  /** The text in the tool's environment, new for every call. */
  placeholder: string;
  value: string;
  /** Targets the value may go to (`host` or `host:port`); undefined = any target of the call. */
  hosts?: string[];
}

/** A placeholder no one can guess or compute from the value: new random bits per call. */
export function mintPlaceholder(name: string): string {
  return `insitu-secret-${name}-${randomBytes(12).toString("hex")}`;
}

/**
 * Computes a call's grant. Pure but for the placeholders it mints (pass `mint` to fix them): the
 * same inputs always give the same flags.
 */
export function computeGrant(
  manifest: ToolManifest,
  request: { grantedSecrets?: string[]; limits?: ToolLimits },
  policy: SandboxPolicy,
  mint: (name: string) => string = mintPlaceholder,
): Grant {
  const refused: Grant["refused"] = [];
  const net = new Set<string>();
  const internalAllowed = policy.internalHosts
    .map((text) => parseNetworkTarget(text))
    .filter((target): target is NetworkTarget => target !== undefined);
  const blocked = policy.blockedHosts
    .map((text) => parseNetworkTarget(text))
    .filter((target): target is NetworkTarget => target !== undefined);
  const openedAddresses: string[] = [];

  for (const declared of manifest.permissions.network) {
    const target = parseNetworkTarget(declared);
    if (!target) {
      refused.push({ permission: `net:${declared}`, reason: "not host[:port]" });
      continue;
    }
    const internal = classifyHost(target.host);
    if (internal) {
      const named = internalAllowed.find(
        (allowed) =>
          allowed.host === target.host &&
          (allowed.port === undefined || target.port === undefined || allowed.port === target.port),
      );
      if (!named) {
        refused.push({
          permission: `net:${declared}`,
          reason: `${internal} address not allowed by the operator`,
        });
        continue;
      }
      const port = target.port ?? named.port;
      net.add(formatNetworkTarget(port === undefined ? { host: target.host } : { host: target.host, port }));
      openedAddresses.push(target.host);
      continue;
    }
    if (!policy.allowPublicHosts) {
      refused.push({ permission: `net:${declared}`, reason: "the operator allows no public hosts" });
      continue;
    }
    if (
      blocked.some(
        (entry) => entry.host === target.host && (entry.port === undefined || entry.port === target.port),
      )
    ) {
      refused.push({ permission: `net:${declared}`, reason: "blocked by the operator" });
      continue;
    }
    net.add(formatNetworkTarget(target));
  }

  const env: Record<string, string> = {};
  const secrets: GrantedSecret[] = [];
  const granted = new Set(request.grantedSecrets ?? []);
  for (const name of manifest.permissions.secrets) {
    if (!granted.has(name)) {
      refused.push({ permission: `env:${name}`, reason: "not granted by the caller" });
    } else if (!Object.hasOwn(policy.secrets, name)) {
      refused.push({ permission: `env:${name}`, reason: "not configured by the operator" });
    } else {
      // A call that may also reach other hosts still gets the secret: those hosts see only the
      // placeholder, because the proxy swaps the value in for the bound hosts alone.
      const placeholder = mint(name);
      env[name] = placeholder;
      const hosts = policy.secretHosts[name];
      secrets.push({
        name,
        placeholder,
        value: policy.secrets[name] as string,
        ...(hosts ? { hosts: [...hosts] } : {}),
      });
    }
  }

  return {
    net: [...net].sort(),
    denyNet: net.size === 0 ? [] : denyList(openedAddresses),
    env,
    secrets,
    refused,
    limits: effectiveLimits(manifest.limits, request.limits, policy),
  };
}

/** Each limit: the request's, else the manifest's, else the default; never above the operator's maximum. */
export function effectiveLimits(
  manifestLimits: ToolLimits | undefined,
  requestLimits: ToolLimits | undefined,
  policy: SandboxPolicy,
): Required<ToolLimits> {
  const pick = (key: keyof ToolLimits): number =>
    Math.min(
      requestLimits?.[key] ?? manifestLimits?.[key] ?? policy.defaultLimits[key],
      policy.maxLimits[key],
    );
  return { timeoutMs: pick("timeoutMs"), memoryMb: pick("memoryMb"), outputBytes: pick("outputBytes") };
}

/** The internal ranges as `--deny-net` entries, with every operator-opened IPv4 address carved out. */
export function denyList(openedHosts: string[]): string[] {
  let v4 = INTERNAL_RANGES_V4.map(parseCidr);
  for (const host of openedHosts) {
    const address = parseIpv4(host);
    if (address === undefined) continue;
    v4 = v4.flatMap((range) => subtract(range, { base: address, bits: 32 }));
  }
  const v6 = INTERNAL_RANGES_V6.filter((entry) => !openedHosts.includes(entry));
  return [...v4.map(formatCidr), ...v6];
}

interface Cidr {
  base: number;
  bits: number;
}

function parseIpv4(text: string): number | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!match) return undefined;
  return match.slice(1).reduce((value, octet) => value * 256 + Number(octet), 0);
}

function parseCidr(text: string): Cidr {
  const [address = "", bits = "32"] = text.split("/");
  return { base: parseIpv4(address) ?? 0, bits: Number(bits) };
}

function formatCidr(cidr: Cidr): string {
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(cidr.base / 2 ** shift) % 256);
  return cidr.bits === 32 ? octets.join(".") : `${octets.join(".")}/${cidr.bits}`;
}

function contains(outer: Cidr, inner: Cidr): boolean {
  if (inner.bits < outer.bits) return false;
  const size = 2 ** (32 - outer.bits);
  return Math.floor(inner.base / size) === Math.floor(outer.base / size);
}

/** `range` minus `hole`, as the smallest list of CIDRs (at most 32). */
function subtract(range: Cidr, hole: Cidr): Cidr[] {
  if (!contains(range, hole)) return contains(hole, range) ? [] : [range];
  if (range.bits === hole.bits) return [];
  const half = 2 ** (32 - range.bits - 1);
  const low: Cidr = { base: range.base, bits: range.bits + 1 };
  const high: Cidr = { base: range.base + half, bits: range.bits + 1 };
  return contains(low, hole) ? [...subtract(low, hole), high] : [low, ...subtract(high, hole)];
}
