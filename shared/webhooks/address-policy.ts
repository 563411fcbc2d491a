/**
 * Which addresses a webhook may reach. Only public unicast addresses, unless the operator allows
 * private ones: loopback, RFC 1918, link-local (cloud metadata at 169.254.169.254), CGNAT,
 * unique-local, multicast, unspecified, reserved ranges, and IPv6 forms that embed an IPv4
 * address (IPv4-mapped, NAT64, 6to4, Teredo) are refused: a public endpoint never needs them, and
 * they are the usual way to dress a private IPv4 address up. ipaddr.js classifies.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface AddressPolicy {
  allowHttp: boolean;
  allowPrivate: boolean;
}

export class RefusedAddressError extends Error {
  override name = 'RefusedAddressError';
  readonly code = 'EWEBHOOKADDRESS';
}

/** The range name when the address may not be reached, or undefined when it may. */
export function refusedRange(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'invalid';
  const range = ipaddr.parse(address).range();
  return range === 'unicast' ? undefined : range;
}

/** Why the URL may not be used as an endpoint (scheme, credentials), or undefined. Addresses are checked separately. */
export function urlProblem(raw: string, policy: AddressPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'https:' && !(policy.allowHttp && url.protocol === 'http:'))
    return policy.allowHttp ? 'must be an http or https URL' : 'must be an https URL';
  if (url.username || url.password) return 'must not carry credentials';
  if (url.hash) return 'must not have a fragment';
  return undefined;
}

/** Host as dns.lookup and net.connect take it: IPv6 literals without their brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** Resolves a host and refuses it when any of its addresses is refused (a name cannot smuggle a private address in beside a public one). */
export async function resolveAllowed(host: string, policy: AddressPolicy): Promise<LookupAddress[]> {
  const addresses = isIP(host)
    ? [{ address: host, family: isIP(host) }]
    : await new Promise<LookupAddress[]>((resolve, reject) =>
        dnsLookup(host, { all: true, verbatim: true }, (err, found) => (err ? reject(err) : resolve(found))),
      );
  if (addresses.length === 0) throw new Error(`${host} has no address`);
  if (!policy.allowPrivate) {
    for (const { address } of addresses) {
      const range = refusedRange(address);
      if (range)
        throw new RefusedAddressError(
          `${host} resolves to ${address}, a ${range} address; webhooks reach public addresses only (WEBHOOK_ALLOW_PRIVATE)`,
        );
    }
  }
  return addresses;
}

/**
 * A `lookup` for http.request: the connection goes to the address that was checked, in the same
 * resolution, so a DNS answer that changes between check and connect cannot reach a refused one.
 */
export function checkedLookup(policy: AddressPolicy) {
  return (
    host: string,
    options: { all?: boolean },
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    resolveAllowed(host, policy).then(
      (addresses) =>
        options.all ? callback(null, addresses) : callback(null, addresses[0]!.address, addresses[0]!.family),
      (err: Error) => callback(err, '', 0),
    );
  };
}
