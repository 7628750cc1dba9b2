import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * SSRF policy for `http` sources: which hosts a dashboard may name, and which resolved addresses a socket may
 * connect to. Pure functions; the connector calls them at the moment it connects.
 */

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Network = [Address, number];

/** Addresses a cloud serves instance credentials on; named in refusals so an attempt is easy to spot in logs. */
const METADATA_ADDRESSES = new Set(['169.254.169.254', '169.254.170.2', 'fd00:ec2::254', '100.100.100.200']);

const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
const IPV6_RESERVED_ZERO = ipaddr.IPv6.parseCIDR('::/8');

/** `[::1]` → `::1`, `Example.COM.` → `example.com`: the forms URL.hostname and operators write. */
function normalizeHost(host: string): string {
  const unbracketed = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const lower = unbracketed.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * Exact names (case-insensitive, trailing dot ignored) or `*.example.com`, which matches subdomains only, never
 * `example.com` itself. Wildcards never match IP literals, so `*.0.0.1` cannot admit 127.0.0.1.
 */
export function isHostAllowed(hostname: string, allowedHosts: readonly string[]): boolean {
  const host = normalizeHost(hostname);
  if (host === '') return false;
  return allowedHosts.some((entry) => {
    const pattern = normalizeHost(entry.trim());
    if (!pattern.startsWith('*.')) return !pattern.includes('*') && pattern === host;
    const suffix = pattern.slice(1);
    return suffix.length > 1 && isIP(host) === 0 && host.endsWith(suffix) && host.length > suffix.length;
  });
}

/** A CIDR or a bare address (= a single host); IPv4-mapped IPv6 networks become IPv4 ones. */
function parseNetwork(text: string): Network {
  const trimmed = text.trim();
  let network: Network;
  try {
    if (trimmed.includes('/')) {
      network = ipaddr.parseCIDR(trimmed);
    } else {
      const address = ipaddr.parse(trimmed);
      network = [address, address.kind() === 'ipv4' ? 32 : 128];
    }
  } catch {
    throw new Error(`invalid network "${text}" (expected a CIDR such as 10.1.2.0/24)`);
  }
  const [address, bits] = network;
  if (address instanceof ipaddr.IPv6 && bits >= 96 && address.isIPv4MappedAddress()) {
    return [address.toIPv4Address(), bits - 96];
  }
  return network;
}

/** Parses PRECIS_HTTP_ALLOWED_NETWORKS; throws naming the bad entry so a typo fails at start-up. */
export function parseNetworks(networks: readonly string[]): Network[] {
  return networks.map(parseNetwork);
}

function inNetworks(address: Address, networks: readonly Network[]): boolean {
  return networks.some(([base, bits]) => base.kind() === address.kind() && address.match(base, bits));
}

function ipv4FromWords(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/** Only ordinary unicast is reachable; every special range (private, loopback, reserved, …) is refused. */
function ipv4Refusal(address: ipaddr.IPv4): string | undefined {
  const range = address.range();
  return range === 'unicast' ? undefined : range;
}

/**
 * IPv6 forms that carry an IPv4 address a gateway will deliver to (NAT64, 6to4, Teredo): judged by the embedded
 * address, so 64:ff9b::a00:1 is as private as 10.0.0.1.
 */
function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = address.parts;
  const range = address.range();
  if (range === 'rfc6145') return ipv4FromWords(p[6] ?? 0, p[7] ?? 0);
  if (range === 'rfc6052' && address.match(NAT64_WELL_KNOWN)) {
    return ipv4FromWords(p[6] ?? 0, p[7] ?? 0);
  }
  if (range === '6to4') return ipv4FromWords(p[1] ?? 0, p[2] ?? 0);
  // Teredo stores the client's address inverted so NATs do not rewrite it.
  if (range === 'teredo') return ipv4FromWords(~(p[6] ?? 0) & 0xffff, ~(p[7] ?? 0) & 0xffff);
  return undefined;
}

function ipv6Refusal(address: ipaddr.IPv6): string | undefined {
  const embedded = embeddedIpv4(address);
  if (embedded) {
    const inner = ipv4Refusal(embedded);
    return inner === undefined ? undefined : `${address.range()} address embedding ${inner} ${embedded}`;
  }
  const range = address.range();
  if (range !== 'unicast') return range;
  // ::/8 is reserved; it holds the deprecated IPv4-compatible form (::7f00:1), which ipaddr calls unicast.
  if (address.match(IPV6_RESERVED_ZERO)) return 'reserved (IPv4-compatible)';
  return undefined;
}

/**
 * May a socket connect to `ip`? Refuses loopback, unspecified, private, unique-local, link-local (including the
 * cloud metadata addresses), carrier-grade NAT, multicast, broadcast and reserved addresses, also when written
 * as IPv4-mapped, IPv4-compatible, NAT64, 6to4 or Teredo IPv6 — unless the address is in `allowedNetworks`.
 */
export function checkAddress(ip: string, allowedNetworks: readonly string[]): AddressVerdict {
  let address: Address;
  try {
    // process() turns ::ffff:127.0.0.1 into 127.0.0.1, so mapped forms are judged (and exempted) as IPv4.
    address = ipaddr.process(normalizeHost(ip));
  } catch {
    return { allowed: false, reason: `"${ip}" is not an IP address` };
  }
  if (inNetworks(address, parseNetworks(allowedNetworks))) return { allowed: true };
  const refusal = address instanceof ipaddr.IPv4 ? ipv4Refusal(address) : ipv6Refusal(address);
  if (refusal === undefined) return { allowed: true };
  const text = address.toString();
  const metadata = METADATA_ADDRESSES.has(text) ? ', cloud metadata service' : '';
  return { allowed: false, reason: `address ${text} is not allowed (${refusal}${metadata})` };
}
