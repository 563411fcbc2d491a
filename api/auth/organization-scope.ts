/** Operators (and manage callers of ADMIN_ORGANIZATIONS) on the admin pages: every organization's data. */
export const EVERY_ORGANIZATION = Symbol('every organization');

/**
 * Whose data a caller reaches: one organization's (its id: every API caller, and the console for
 * an organization's own people), or every organization's.
 */
export type OrganizationScope = string | typeof EVERY_ORGANIZATION;

export function includesOrganization(scope: OrganizationScope, organizationId: string | undefined): boolean {
  return organizationId !== undefined && (scope === EVERY_ORGANIZATION || scope === organizationId);
}
