/** The README's configuration tables, generated from each service's config spec. */
export function configTables(): { balancer: string; monolith: string };
