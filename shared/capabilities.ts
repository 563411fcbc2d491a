export const CAPABILITIES = ['read', 'send', 'manage'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export function isCapability(value: string): value is Capability {
  return (CAPABILITIES as readonly string[]).includes(value);
}

/** Parses "read,send" into a validated, de-duplicated list; throws on an unknown name. */
export function parseCapabilities(list: string): Capability[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !isCapability(n));
  if (unknown.length > 0)
    throw new Error(`unknown capabilities: ${unknown.join(', ')} (known: ${CAPABILITIES.join(', ')})`);
  return [...new Set(names as Capability[])];
}
