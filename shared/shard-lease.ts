/**
 * A shard lease's value: the epoch of the grant (one more than any grant before it) and the
 * owner. Whoever writes for the shard presents the value it was granted; a write under an older
 * epoch is refused, so an owner that lost its lease cannot act after its successor started.
 */
export interface ShardLease {
  epoch: number;
  workerId: string;
}

export function leaseValue(lease: ShardLease): string {
  return `${lease.epoch}:${lease.workerId}`;
}

export function parseLease(value: string | null | undefined): ShardLease | undefined {
  if (!value) return undefined;
  const at = value.indexOf(':');
  const epoch = Number(value.slice(0, at));
  if (at < 1 || !Number.isSafeInteger(epoch)) return undefined;
  return { epoch, workerId: value.slice(at + 1) };
}
