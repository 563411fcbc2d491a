import type { Request } from 'express';

/**
 * The client's address, what per-client limits count by: the peer, or the address a trusted
 * proxy forwarded (TRUST_PROXY decides whose X-Forwarded-For is believed, so a client cannot name
 * itself anew on every request).
 */
export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}
