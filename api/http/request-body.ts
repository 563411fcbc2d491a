import express, { type RequestHandler } from 'express';
import { jsonDepthExceeds } from './json-depth.js';

/** Deeper than any route's body needs (a check batch, `{"phones": [...]}`, is 2 levels). */
export const MAX_JSON_DEPTH = 8;
/** What a route taking a small JSON object (a name, a phone number) reads at most. */
export const SMALL_JSON_BODY_BYTES = 16 * 1024;

/** How much body a route reads, of which types. Routes declare it; nothing else reads a body. */
export interface BodyLimits {
  /** Largest application/json body, in bytes. */
  jsonBytes: number;
  /** Text media types the route also takes, and their size limit. */
  text?: { types: string[]; bytes: number };
}

/** Thrown from body-parser's verify hook, which runs on the raw bytes before JSON.parse. */
export class TooDeepError extends Error {
  readonly status = 400;
  readonly type = 'entity.too.deep';
}

/**
 * The body parsers of one route. A body over its limit is refused from its Content-Length
 * before any byte is read (413), and JSON nested deeper than MAX_JSON_DEPTH before it is parsed.
 */
export function bodyReaders(limits: BodyLimits): RequestHandler[] {
  const readers = [express.json({ limit: limits.jsonBytes, verify: refuseDeepJson })];
  if (limits.text) readers.push(express.text({ type: limits.text.types, limit: limits.text.bytes }));
  return readers;
}

function refuseDeepJson(_req: unknown, _res: unknown, raw: Buffer, encoding: string | null): void {
  // body-parser lets JSON be sent in any utf-* charset; the scan reads UTF-8.
  const bytes = encoding === null || encoding === 'utf-8' || encoding === 'utf8' ? raw : utf8Of(raw, encoding);
  if (jsonDepthExceeds(bytes, MAX_JSON_DEPTH))
    throw new TooDeepError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
}

function utf8Of(raw: Buffer, encoding: string): Buffer {
  let text: string;
  try {
    text = new TextDecoder(encoding).decode(raw);
  } catch {
    throw Object.assign(new Error(`unsupported charset "${encoding}"`), { status: 415, type: 'charset.unsupported' });
  }
  return Buffer.from(text, 'utf8');
}
