import type { ValueTransformer } from 'typeorm';
import type { Capability } from '../capabilities.js';

/** BIGINT epoch-ms columns arrive as strings or numbers depending on the driver path; normalise. */
export const epochMs = {
  to: (value: number) => value,
  from: (value: string | number) => Number(value),
} satisfies ValueTransformer;

export const nullableEpochMs = {
  to: (value: number | null) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
} satisfies ValueTransformer;

export const capabilityList = {
  to: (value: Capability[]) => value.join(','),
  from: (value: string) => (value === '' ? [] : (value.split(',') as Capability[])),
} satisfies ValueTransformer;
