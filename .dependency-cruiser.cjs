// Import rules for src/, checked by `npm run lint:deps` (scripts/lint-deps.ts) in .ci/run.
// Imports point down only, nothing forms a cycle (type-only imports count), and no route
// imports another. Each layer's rule lists what it may import; anything else in src/ is refused.
//
//   entry      src/index.ts, src/app.ts: the Worker's handlers and the Hono app
//   routes     src/routes/: one Hono sub-app per capability
//   http       src/http/: Hono glue (middleware, validation, caller auth) and http/deps.ts, where
//              every route's dependencies are built
//   config     src/config.ts: the Worker's vars and secrets, parsed once
//   domain     src/domain/: the rules, plain TypeScript
//   channels   src/channels/: the SMS and FCM vendors' adapters and the webhook sender, beside
//              domain ("provider" means the tenant everywhere in Portero)
//   queue      src/queue/: the queue consumers and the sweeper, beside domain
//   shards     src/shards/: the Durable Object of a provider's send state, an adapter like storage
//              whose rules are domain's
//   storage    src/storage/: one module per table or KV use
//   neutral    src/errors.ts, encoding.ts, log.ts, channel.ts, token-claims.ts, src/utils/:
//              shared by every layer, importing only each other
//
// Allowed edges (the row may import the column; · = refused):
//
//              routes  http  config  domain  channels  queue  shards  storage  neutral
//   entry        ✓      ✓      ✓       ✓        ✓        ✓      ✓       ✓        ✓
//   routes       ·      ✓      ✓       ✓        ·        ·      ·       ✓        ✓
//   http         ·      ✓      ✓       ✓        ✓        ·      ✓       ✓        ✓
//   config       ·      ·      ·       ✓        ✓        ·      ·       ✓        ✓
//   domain       ·      ·      ·       ✓        ·        ·      ·       ✓        ✓
//   channels     ·      ·      ·       ·        ✓        ·      ·       ✓        ✓
//   queue        ·      ·      ·       ·        ✓        ✓      ·       ✓        ✓
//   shards       ·      ·      ·       ✓        ·        ·      ✓       ✓        ✓
//   storage      ·      ·      ·       ·        ·        ·      ·       ✓        ✓
//   neutral      ·      ·      ·       ·        ·        ·      ·       ·        ✓
//
// Routes may go straight to storage for plain reads and writes that carry no rule. Only
// src/routes/admin/index.ts imports routes of its own: it mounts the admin sub-apps, as app.ts
// mounts the others. `hono` and `@hono/*` are imported by entry, routes and http only.
//
// src/openapi/ holds what the routes' OpenAPI declarations share and the transforms of the
// generated document: routes and entry import it, and it imports no route (the document comes
// from the app), only domain (the /Services field spellings) and neutral modules.

const ENTRY = '^src/(index|app)[.]'
const ROUTES = '^src/routes/'
const HTTP = '^src/http/'
const CONFIG = '^src/config[.]'
const DOMAIN = '^src/domain/'
const CHANNELS = '^src/channels/'
const QUEUE = '^src/queue/'
const SHARDS = '^src/shards/'
const STORAGE = '^src/storage/'
const NEUTRAL = '^src/((errors|encoding|log|channel|token-claims)[.]|utils/)'
const OPENAPI = '^src/openapi/'

const any = (...paths) => paths.map((path) => `(${path})`).join('|')

/** A layer's rule: from `from`, an import of anything in src/ other than `allowed` is refused. */
function importsOnly(name, comment, from, allowed) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: from },
    to: { path: '^src/', pathNot: any(...allowed) },
  }
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle, of values or of types, means two modules are one: split or move a piece.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-route-to-route',
      comment:
        'A route imports no other route: move the shared piece down to http/ or domain/. ' +
        'routes/admin/index.ts mounts the admin sub-apps, as app.ts mounts the others.',
      severity: 'error',
      from: { path: ROUTES, pathNot: '^src/routes/admin/index[.]' },
      to: { path: ROUTES },
    },
    {
      name: 'hono-only-in-http-layer',
      comment: 'Only entry, routes and http/ know Hono: domain, storage, channels and queue never.',
      severity: 'error',
      from: { path: '^src/', pathNot: any(ENTRY, ROUTES, HTTP, OPENAPI) },
      to: { path: '(^|/)node_modules/(hono|@hono/)|^(hono|@hono/)' },
    },
    importsOnly(
      'routes-import-down',
      'Routes call http/ glue, config and domain (or storage for a plain read or write); ' +
        'adapters and queues reach them through http/deps.ts.',
      ROUTES,
      [ROUTES, HTTP, CONFIG, DOMAIN, STORAGE, NEUTRAL, OPENAPI],
    ),
    importsOnly(
      'openapi-imports-down',
      'src/openapi/ describes the routes without importing them: the document comes from the app.',
      OPENAPI,
      [OPENAPI, DOMAIN, NEUTRAL],
    ),
    importsOnly(
      'http-imports-down',
      'http/ is the glue between routes and the layers below; it never imports a route.',
      HTTP,
      [HTTP, CONFIG, DOMAIN, CHANNELS, SHARDS, STORAGE, NEUTRAL],
    ),
    importsOnly(
      'config-imports-down',
      'config.ts parses settings into what domain, channels and storage declare they need.',
      CONFIG,
      [DOMAIN, CHANNELS, STORAGE, NEUTRAL],
    ),
    importsOnly(
      'domain-imports-down',
      'Domain gets storage and channels as arguments: it imports no adapter, queue, config or ' +
        'HTTP module.',
      DOMAIN,
      [DOMAIN, STORAGE, NEUTRAL],
    ),
    importsOnly(
      'channels-import-down',
      'Providers sit beside domain: they use storage (a token cache) and neutral modules only.',
      CHANNELS,
      [CHANNELS, STORAGE, NEUTRAL],
    ),
    importsOnly(
      'queue-imports-down',
      'Queue consumers sit beside domain: they drive channels and storage.',
      QUEUE,
      [QUEUE, CHANNELS, STORAGE, NEUTRAL],
    ),
    importsOnly(
      'shards-import-down',
      "A send shard keeps its state's SQL and applies domain's rules to it: no route, HTTP, " +
        'config, queue or channel.',
      SHARDS,
      [SHARDS, DOMAIN, STORAGE, NEUTRAL],
    ),
    importsOnly(
      'storage-no-domain',
      'Storage imports other storage and neutral modules only: no domain, provider or HTTP type.',
      STORAGE,
      [STORAGE, NEUTRAL],
    ),
    importsOnly(
      'neutral-imports-neutral',
      'Modules every layer may import import no layer themselves.',
      NEUTRAL,
      [NEUTRAL],
    ),
  ],
  options: {
    // Packages are leaves: their own imports are not checked, only that an import names them.
    doNotFollow: { path: 'node_modules' },
    // node_modules is a symbolic link in some checkouts; keep packages under their own name.
    preserveSymlinks: true,
    // Resolve packages as the Workers bundler does, so rules see their real paths.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['workerd', 'worker', 'browser', 'import', 'default'],
    },
  },
}
