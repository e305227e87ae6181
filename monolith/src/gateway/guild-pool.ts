import { Permission, can, isSnowflake, subjectOf, type TokenClaims } from '@gateway/protocol';
import { compareStrings, type Entity, type EntityStore, type UserGuildEntry } from '../store/store.js';

/**
 * The `guild` pool as one caller sees it. Stored guilds are the guilds the bot is in; the
 * per-user fields are computed here at answer time, never stored:
 * - `has_architus`: true for a stored guild; false for one of the user's own Discord guilds
 *   (`PUT /api/users/:id/guilds`) the bot is not in.
 * - `architus_admin`: the token's `admin`, or the guild's ADMINISTRATOR bit in its `guilds`.
 * - `owner`, `permissions` (the Discord bitfield), `features`: from the user's entry for that
 *   guild; false, 0 and the stored guild's features (else []) without one.
 * A caller sees the guilds its token names (all of them with `admin`) and its own listed ones;
 * any other id is nonexistent to it, so a guild's existence is not revealed.
 */
export class GuildView {
  private constructor(
    private readonly claims: TokenClaims,
    private readonly listed: ReadonlyMap<string, UserGuildEntry>,
  ) {}

  /** The view of a connection: its user's listed guilds are read once per request. */
  static async of(store: EntityStore, claims: TokenClaims): Promise<GuildView> {
    const { subject, guest } = subjectOf(claims);
    const list = subject !== undefined && !guest ? await store.userGuilds(subject) : undefined;
    return new GuildView(claims, new Map((list ?? []).map((g) => [g.id, g])));
  }

  /** True with `admin`: every stored guild is visible, so only a walk of the pool lists them. */
  get seesAll(): boolean {
    return this.claims.admin === true;
  }

  /**
   * Every id `visible` admits without `admin` (the token's guilds and the listed ones), in the
   * store's page order (code point), so a caller's guilds are looked up instead of the whole
   * pool being walked and filtered.
   */
  ids(): string[] {
    const ids = new Set(Object.keys(this.claims.guilds ?? {}).filter((id) => isSnowflake(id)));
    for (const id of this.listed.keys()) ids.add(id);
    return [...ids].sort(compareStrings);
  }

  visible(id: string): boolean {
    return this.claims.admin === true || (this.claims.guilds !== undefined && Object.hasOwn(this.claims.guilds, id)) || this.listed.has(id);
  }

  /** A stored guild with the caller's fields. */
  present(stored: Entity): Entity {
    const mine = this.listed.get(stored.id);
    const features = mine?.features ?? (Array.isArray(stored.features) ? stored.features : []);
    return {
      ...stored,
      has_architus: true,
      architus_admin: can(this.claims, stored.id, Permission.ADMINISTRATOR),
      owner: mine?.owner ?? false,
      permissions: mine?.permissions ?? 0,
      features,
    };
  }

  /** A listed guild the store does not have (the bot is not in it), or undefined. */
  absent(id: string): Entity | undefined {
    const g = this.listed.get(id);
    if (!g) return undefined;
    // member_count: the dashboard's partial_guild needs a number; Discord's list has none.
    return { id: g.id, name: g.name, icon: g.icon, owner: g.owner, permissions: g.permissions, features: g.features, has_architus: false, architus_admin: false, member_count: 0 };
  }

  /** The listed guilds that are not stored, as `absent` gives them, in the list's order. */
  async unstored(store: EntityStore): Promise<Entity[]> {
    const ids = [...this.listed.keys()];
    if (ids.length === 0) return [];
    const { nonexistent } = await store.get('guild', undefined, ids);
    return nonexistent.map((id) => this.absent(id)!);
  }
}
