/**
 * Adds a route-level hook to the hooks a route already has (none, one, or several). Route-level hooks are how
 * the API runs per-route work (the key check of a route's scope, the route's metrics) without looking the route
 * up on every request: `request.routeOptions` builds a fresh object each time it is read.
 */
export function withHook<H>(hooks: H | readonly H[] | undefined, hook: H): H[] {
  if (hooks === undefined) return [hook];
  return Array.isArray(hooks) ? [...(hooks as readonly H[]), hook] : [hooks as H, hook];
}
