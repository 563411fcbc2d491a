import { createHmac, timingSafeEqual } from 'node:crypto';

/** The kinds of job the api hands the workers; a signature made for one kind never passes for another. */
export type SignedJobKind = 'live' | 'check-batch';

/** A job's data with the signature of everything else in it. */
export type Sealed<T extends object> = T & { sig: string };

/**
 * Signs job envelopes with HMAC-SHA256 over their kind, job id and content, so a worker can tell
 * a job the gateway created from one anybody with access to the queues wrote (through Bull Board,
 * or straight into Redis). The content is serialised canonically (sorted keys, as JSON would carry
 * it), so the signature survives the trip through Redis. Binding the job id stops a signed
 * envelope from being copied into a new job.
 */
export class JobSigner {
  constructor(private readonly secret: Buffer) {}

  seal<T extends object>(kind: SignedJobKind, jobId: string, data: T): Sealed<T> {
    const content = withoutSignature(data) as T;
    return { ...content, sig: this.mac(kind, jobId, content) };
  }

  /** True when `data` carries a valid signature for this kind and job id. */
  verify(kind: SignedJobKind, jobId: string | undefined, data: unknown): boolean {
    if (jobId === undefined || data === null || typeof data !== 'object') return false;
    const sig = (data as { sig?: unknown }).sig;
    if (typeof sig !== 'string') return false;
    const expected = Buffer.from(this.mac(kind, jobId, withoutSignature(data)));
    const presented = Buffer.from(sig);
    return expected.length === presented.length && timingSafeEqual(expected, presented);
  }

  private mac(kind: SignedJobKind, jobId: string, content: object): string {
    return createHmac('sha256', this.secret)
      .update(`${kind}\n${jobId}\n${canonicalJson(content)}`)
      .digest('base64url');
  }
}

function withoutSignature(data: object): object {
  const { sig: _sig, ...content } = data as { sig?: unknown };
  return content;
}

/** JSON with object keys sorted at every level, and without the undefined members JSON drops. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
