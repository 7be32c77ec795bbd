// The operator console: sign-in, then one page per hash route (#/providers, #/messages/{id}, …).
// Plain modules from this origin, no framework (docs/decisions.md): every page is built with the
// DOM API from what the management API answers.
import {
  api,
  ApiError,
  clientId,
  signedIn,
  signIn,
  signOut,
  whenSignedOut,
  withQuery,
} from './api.js'
import {
  actionButton,
  announce,
  facts,
  form,
  h,
  instant,
  pagedTable,
  secretPanel,
  time,
} from './ui.js'
import { lineChart } from './charts.js'

const main = document.getElementById('main')
const nav = document.getElementById('nav')
const who = document.getElementById('who')
const signOutButton = document.getElementById('sign-out')

const PROVIDER_SCOPES = ['services:send', 'recipients:manage', 'tokens:introspect']
const OPERATOR_SCOPES = ['admin', 'tokens:introspect', 'tokens:introspect:any']
const MESSAGE_STATUSES = [
  'scheduled',
  'queued',
  'sending',
  'sent',
  'delivered',
  'partially_delivered',
  'partially_sent',
  'undelivered',
  'failed',
  'dead',
  'cancelled',
]
const FINAL = new Set([
  'delivered',
  'undelivered',
  'failed',
  'dead',
  'partially_delivered',
  'cancelled',
])
const PAGE_SIZE = 20

/** Bumped on every render: a page's late answers and timers check it before they touch the DOM. */
let renderId = 0

const enc = encodeURIComponent
const text = (value) => (value === null || value === undefined || value === '' ? '—' : value)
const link = (href, label) => h('a', { href }, label)

/** A page: its heading first, focused so keyboard and screen-reader users start there. */
function page(title, ...content) {
  document.title = `${title} · Portero console`
  const heading = h('h1', { tabindex: '-1' }, title)
  main.replaceChildren(heading, ...content)
  heading.focus()
  for (const a of nav.querySelectorAll('a')) {
    const current = location.hash.startsWith(a.getAttribute('href'))
    if (current) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
}

// ——— Sign-in ————————————————————————————————————————————————————————————————————————

function signInPage(reason) {
  nav.hidden = true
  who.hidden = true
  signOutButton.hidden = true
  const why = reason ? h('p', { class: 'notice' }, reason) : null
  page(
    'Sign in',
    why,
    h(
      'p',
      {},
      'Sign in with an operator client (one with the admin scope). The token stays in this ' +
        "page's memory only: reloading the page or closing it signs you out.",
    ),
    form({
      fields: [
        { name: 'client_id', label: 'Client id', required: true, autocomplete: 'username' },
        {
          name: 'client_secret',
          label: 'Client secret',
          type: 'password',
          required: true,
          autocomplete: 'current-password',
        },
      ],
      submitLabel: 'Sign in',
      submit: async ({ client_id, client_secret }) => {
        await signIn(client_id, client_secret)
        announce(`Signed in as ${client_id}.`)
        route()
      },
    }),
  )
}

whenSignedOut((reason) => {
  renderId++
  announce(reason, 'error')
  signInPage(reason)
})

signOutButton.addEventListener('click', () => signOut('Signed out.'))

// ——— Overview ————————————————————————————————————————————————————————————————————————

const RANGES = [
  ['hour', 'Last hour'],
  ['day', 'Last day'],
  ['week', 'Last week'],
]
let overviewQuery = { range: 'day' }

function overviewPage() {
  const results = h('div', { 'aria-busy': 'true' })
  const show = async (query) => {
    overviewQuery = query
    const mine = renderId
    results.setAttribute('aria-busy', 'true')
    try {
      const o = await api(withQuery('/admin/overview', query))
      if (mine !== renderId) return
      results.replaceChildren(...overviewView(o))
    } finally {
      results.removeAttribute('aria-busy')
    }
  }
  page(
    'Overview',
    h(
      'p',
      {},
      'What Portero counted, per hour: messages and their deliveries a second or so after each ' +
        'change, tokens and failed logins a few seconds after the request.',
    ),
    form({
      className: 'card compact',
      fields: [
        {
          name: 'range',
          label: 'Range',
          type: 'select',
          required: true,
          value: overviewQuery.range,
          options: RANGES,
        },
        {
          name: 'provider_id',
          label: 'Provider id',
          value: overviewQuery.provider_id,
          hint: 'Empty for every provider.',
        },
      ],
      submitLabel: 'Show',
      submit: (values) => show(values),
    }),
    results,
  )
  show(overviewQuery).catch((err) => announce(err.message, 'error'))
}

function overviewView(o) {
  const t = o.totals
  const seconds = (v) => (v === null ? '—' : `≤ ${v} s`)
  const range = RANGES.find(([r]) => r === o.range)?.[1] ?? o.range
  const who = o.provider_id ? `provider ${o.provider_id}` : 'every provider'
  return [
    h('h2', {}, `${range}, ${who}`),
    facts([
      ['Accepted', String(t.accepted)],
      ['Sent', String(t.sent)],
      ['Delivered', String(t.delivered)],
      ['Undelivered', String(t.undelivered)],
      ['Failed', String(t.failed)],
      ['Dead', String(t.dead)],
      ['Latency p50', seconds(t.latency_p50_seconds)],
      ['Latency p95', seconds(t.latency_p95_seconds)],
      ['Tokens issued', String(t.tokens_issued)],
      ['Failed logins', String(t.failed_logins)],
    ]),
    h(
      'div',
      { class: 'charts' },
      lineChart({
        title: 'Messages',
        hours: o.hours,
        series: [
          ['accepted', 'Accepted'],
          ['delivered', 'Delivered'],
          ['undelivered', 'Undelivered'],
          ['failed', 'Failed'],
          ['dead', 'Dead'],
        ],
      }),
      lineChart({
        title: 'Acceptance to delivered',
        hours: o.hours,
        unit: ' s',
        series: [
          ['latency_p50_seconds', 'p50 (s)'],
          ['latency_p95_seconds', 'p95 (s)'],
        ],
      }),
      lineChart({
        title: 'Tokens and failed logins',
        hours: o.hours,
        series: [
          ['tokens_issued', 'Tokens issued'],
          ['failed_logins', 'Failed logins'],
        ],
      }),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Top error codes'),
      o.error_codes.length === 0
        ? h('p', {}, 'None in this range.')
        : h(
            'div',
            { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Top error codes' },
            h(
              'table',
              {},
              h('caption', {}, "The channels' commonest error codes"),
              h(
                'thead',
                {},
                h('tr', {}, h('th', { scope: 'col' }, 'Code'), h('th', { scope: 'col' }, 'Count')),
              ),
              h(
                'tbody',
                {},
                o.error_codes.map((e) =>
                  h('tr', {}, h('th', { scope: 'row' }, e.code), h('td', {}, String(e.count))),
                ),
              ),
            ),
          ),
    ),
  ]
}

// ——— Providers ———————————————————————————————————————————————————————————————————————

function providersPage() {
  const list = pagedTable({
    caption: 'Providers',
    empty: 'No providers yet.',
    path: (cursor) => api(withQuery('/admin/providers', { limit: PAGE_SIZE, cursor })),
    columns: [
      ['Id', (p) => p.id],
      ['Name', (p) => p.name],
      [
        'Status',
        // A sandbox provider's clients send nothing for real (docs/sending.md "Sandbox").
        (p) =>
          p.sandbox ? [statusBadge(p.status), ' ', statusBadge('sandbox')] : statusBadge(p.status),
      ],
      ['Created', (p) => time(p.created_at)],
      [
        'Pages',
        (p) =>
          h(
            'ul',
            { class: 'inline' },
            h('li', {}, link(`#/providers/${enc(p.id)}/clients`, 'Clients')),
            h('li', {}, link(`#/providers/${enc(p.id)}/subscriptions`, 'Subscriptions')),
            h('li', {}, link(`#/providers/${enc(p.id)}/recipients`, 'Recipients')),
            h('li', {}, link(`#/providers/${enc(p.id)}/suppressions`, 'Suppressions')),
            h('li', {}, link(`#/providers/${enc(p.id)}/webhooks`, 'Webhooks')),
          ),
      ],
      [
        'Actions',
        (p) => {
          const disable = p.status === 'active'
          return actionButton(
            `${disable ? 'Disable' : 'Enable'}`,
            async () => {
              await api(`/admin/providers/${enc(p.id)}`, {
                method: 'PATCH',
                body: { status: disable ? 'disabled' : 'active' },
              })
              announce(`Provider ${p.id} ${disable ? 'disabled' : 'enabled'}.`)
              list.reload()
            },
            { 'aria-label': `${disable ? 'Disable' : 'Enable'} provider ${p.id}` },
          )
        },
      ],
    ],
  })
  page(
    'Providers',
    h('h2', {}, 'New provider'),
    form({
      fields: [
        { name: 'id', label: 'Id', hint: 'Digits; generated when empty.' },
        { name: 'name', label: 'Name', required: true },
      ],
      submitLabel: 'Create provider',
      submit: async ({ id, name }, element) => {
        const provider = await api('/admin/providers', {
          method: 'POST',
          body: { ...(id ? { id } : {}), name },
        })
        element.reset()
        announce(`Provider ${provider.id} created.`)
        list.reload()
      },
    }),
    list,
  )
}

function statusBadge(status) {
  return h('span', { class: `badge ${status}` }, status)
}

// ——— Clients ————————————————————————————————————————————————————————————————————————

function clientsPage(providerId) {
  const once = h('div')
  // A sandbox provider's clients send nothing for real (docs/sending.md "Sandbox"): say so.
  const sandboxNote = h('div')
  if (providerId) {
    api(`/admin/providers/${enc(providerId)}`)
      .then((provider) => {
        if (!provider.sandbox) return
        sandboxNote.replaceChildren(
          h(
            'p',
            { class: 'note' },
            statusBadge('sandbox'),
            ' These clients are in the sandbox: their messages go to no channel, their statuses ',
            'simulated from their destinations.',
          ),
        )
      })
      .catch(() => {}) // The page's own list reports what is wrong.
  }
  const scopes = providerId ? PROVIDER_SCOPES : [...OPERATOR_SCOPES, ...PROVIDER_SCOPES]
  const list = pagedTable({
    caption: providerId ? `Clients of provider ${providerId}` : 'All clients',
    empty: 'No clients yet.',
    path: (cursor) =>
      api(withQuery('/admin/clients', { provider_id: providerId, limit: PAGE_SIZE, cursor })),
    columns: [
      ['Client id', (c) => c.client_id],
      ['Name', (c) => c.name],
      ['Provider', (c) => text(c.provider_id)],
      ['Scopes', (c) => text(c.allowed_scopes.join(' '))],
      ['Status', (c) => statusBadge(c.status)],
      ['Old secret valid until', (c) => time(c.previous_secret_valid_until)],
      ['Created', (c) => time(c.created_at)],
      ['Actions', (c) => clientActions(c, list, once)],
    ],
  })
  page(
    providerId ? `Clients of provider ${providerId}` : 'Clients',
    providerId ? h('p', {}, link('#/providers', '← Providers')) : null,
    sandboxNote,
    h('h2', {}, 'New client'),
    form({
      fields: [
        {
          name: 'id',
          label: 'Client id',
          hint: 'Letters, digits and . _ ~ -; generated when empty.',
        },
        { name: 'name', label: 'Name', required: true },
        ...(providerId
          ? []
          : [{ name: 'provider_id', label: 'Provider id', hint: 'Empty: an operator client.' }]),
        { name: 'allowed_scopes', label: 'Scopes', choices: scopes, value: [] },
        {
          name: 'token_lifetime',
          label: 'Token lifetime (seconds)',
          type: 'number',
          min: 60,
          max: 86400,
          value: '3600',
        },
      ],
      submitLabel: 'Create client',
      submit: async (values, element) => {
        const client = await api('/admin/clients', {
          method: 'POST',
          body: {
            ...(values.id ? { id: values.id } : {}),
            provider_id: providerId ?? (values.provider_id || null),
            name: values.name,
            allowed_scopes: values.allowed_scopes,
            token_lifetime: Number(values.token_lifetime || 3600),
          },
        })
        element.reset()
        once.replaceChildren(
          secretPanel({
            title: `Secret of client ${client.client_id}`,
            note: 'Shown this once: Portero keeps only a digest. Copy it now.',
            value: client.client_secret,
          }),
        )
        announce(`Client ${client.client_id} created. Its secret is shown once.`)
        list.reload()
      },
    }),
    once,
    list,
  )
}

function clientActions(c, list, once) {
  const disable = c.status === 'active'
  const details = h(
    'details',
    { class: 'row-tools' },
    h('summary', {}, 'Rotate or change scopes'),
    form({
      className: 'compact',
      fields: [
        {
          name: 'grace_period_seconds',
          label: 'Old secret keeps working for (seconds)',
          type: 'number',
          min: 0,
          max: 604800,
          value: '3600',
        },
      ],
      submitLabel: `Rotate secret of ${c.client_id}`,
      submit: async ({ grace_period_seconds }) => {
        const rotated = await api(`/admin/clients/${enc(c.client_id)}/secret`, {
          method: 'POST',
          body: { grace_period_seconds: Number(grace_period_seconds || 0) },
        })
        once.replaceChildren(
          secretPanel({
            title: `New secret of client ${c.client_id}`,
            note:
              'Shown this once. ' +
              (rotated.previous_secret_valid_until
                ? `The old secret works until ${new Date(rotated.previous_secret_valid_until).toLocaleString()}.`
                : 'The old secret no longer works.'),
            value: rotated.client_secret,
          }),
        )
        announce(`Secret of ${c.client_id} rotated. The new one is shown once.`)
        list.reload()
        once.querySelector('h2')?.setAttribute('tabindex', '-1')
        once.querySelector('h2')?.focus()
      },
    }),
    form({
      className: 'compact',
      fields: [
        {
          name: 'allowed_scopes',
          label: `Scopes of ${c.client_id}`,
          choices: c.allowed_scopes,
          value: c.allowed_scopes,
          hint: 'Untick to narrow: its tokens end, the next ones carry the rest.',
        },
      ],
      submitLabel: 'Save scopes',
      submit: async ({ allowed_scopes }) => {
        await api(`/admin/clients/${enc(c.client_id)}`, {
          method: 'PATCH',
          body: { allowed_scopes },
        })
        announce(`Scopes of ${c.client_id} saved.`)
        list.reload()
      },
    }),
  )
  return h(
    'div',
    { class: 'cell-actions' },
    h(
      'a',
      { href: `#/clients/${enc(c.client_id)}/keys`, 'aria-label': `Keys of ${c.client_id}` },
      'Keys',
    ),
    h(
      'a',
      {
        href: `#/clients/${enc(c.client_id)}/issuers`,
        'aria-label': `Trusted issuers of ${c.client_id}`,
      },
      'Issuers',
    ),
    actionButton(
      disable ? 'Disable' : 'Enable',
      async () => {
        await api(`/admin/clients/${enc(c.client_id)}`, {
          method: 'PATCH',
          body: { status: disable ? 'disabled' : 'active' },
        })
        announce(`Client ${c.client_id} ${disable ? 'disabled' : 'enabled'}.`)
        list.reload()
      },
      { 'aria-label': `${disable ? 'Disable' : 'Enable'} client ${c.client_id}` },
    ),
    details,
  )
}

// ——— A client's keys ————————————————————————————————————————————————————————————————

/** A JWK, a list of them or a JWK set, as pasted: the `keys` the API takes. */
function parseKeys(pasted) {
  let value
  try {
    value = JSON.parse(pasted)
  } catch {
    throw new ApiError(400, {
      detail: 'The keys are not JSON.',
      errors: [{ path: 'keys', message: 'Paste a public JWK, a list of them or a JWK set.' }],
    })
  }
  if (Array.isArray(value)) return value
  if (Array.isArray(value?.keys)) return value.keys
  return [value]
}

const KEYS_HINT =
  'Public JWKs as JSON: one key, a list, or a JWK set ({"keys": [...]}). EC P-256, Ed25519 or ' +
  'RSA, each with its own kid. Never a private key.'

function clientKeysPage(id) {
  const base = `/admin/clients/${enc(id)}/keys`
  const list = pagedTable({
    caption: `Public keys of client ${id}`,
    empty: 'No keys: the client authenticates with its secret only.',
    path: async () => ({ items: (await api(base)).keys }),
    columns: [
      ['Key id', (k) => k.kid],
      ['Algorithm', (k) => k.alg],
      ['Type', (k) => text([k.jwk.kty, k.jwk.crv].filter(Boolean).join(' '))],
      ['Registered', (k) => time(k.created_at)],
      ['Refused after', (k) => time(k.expires_at)],
      [
        'Actions',
        (k) =>
          actionButton(
            'Remove',
            async () => {
              await api(`${base}/${enc(k.kid)}`, { method: 'DELETE' })
              announce(`Key ${k.kid} of ${id} removed: assertions it signs are refused.`)
              list.reload()
            },
            { 'aria-label': `Remove key ${k.kid}` },
          ),
      ],
    ],
  })
  page(
    `Keys of client ${id}`,
    h('p', {}, link('#/clients', '← Clients')),
    h(
      'p',
      {},
      'The client may authenticate with an assertion signed by any key listed here ' +
        '(private_key_jwt); its secret, if it has one, keeps working.',
    ),
    list,
    h('h2', {}, 'Register keys'),
    form({
      fields: [
        { name: 'keys', label: 'Keys to add', type: 'textarea', required: true, hint: KEYS_HINT },
      ],
      submitLabel: 'Register keys',
      submit: async ({ keys }, element) => {
        const added = parseKeys(keys)
        await api(base, { method: 'POST', body: { keys: added } })
        element.reset()
        announce(`${added.length === 1 ? 'One key' : `${added.length} keys`} registered for ${id}.`)
        list.reload()
      },
    }),
    h('h2', {}, 'Rotate keys'),
    form({
      fields: [
        { name: 'keys', label: 'New keys', type: 'textarea', required: true, hint: KEYS_HINT },
        {
          name: 'old_keys_valid_for',
          label: 'Keys held now keep working for (seconds)',
          type: 'number',
          min: 0,
          value: '86400',
          hint: '0 removes them at once.',
        },
      ],
      submitLabel: 'Rotate keys',
      submit: async ({ keys, old_keys_valid_for }, element) => {
        await api(base, {
          method: 'PUT',
          body: { keys: parseKeys(keys), old_keys_valid_for: Number(old_keys_valid_for || 0) },
        })
        element.reset()
        announce(`Keys of ${id} rotated.`)
        list.reload()
      },
    }),
  )
}

// ——— A client's trusted issuers ————————————————————————————————————————————————————————

/** A trusted issuer as listed, in the shape PUT takes it back. */
function issuerBody(t) {
  return {
    issuer: t.issuer,
    ...(t.jwks ? { jwks: t.jwks } : {}),
    ...(t.subject_pattern === null
      ? { subject: t.subject }
      : { subject_pattern: t.subject_pattern }),
    ...(t.audience === null ? {} : { audience: t.audience }),
    claims: t.claims,
  }
}

/** Optional pasted JSON (an object), or undefined when the field is empty. */
function parseOptionalJson(pasted, path, what) {
  if (!pasted.trim()) return undefined
  try {
    return JSON.parse(pasted)
  } catch {
    throw new ApiError(400, {
      detail: `The ${what} are not JSON.`,
      errors: [{ path, message: `Paste ${what} as a JSON object.` }],
    })
  }
}

function clientIssuersPage(id) {
  const base = `/admin/clients/${enc(id)}/issuers`
  const held = async () => (await api(base)).issuers
  const replace = (issuers) => api(base, { method: 'PUT', body: { issuers } })
  const list = pagedTable({
    caption: `Issuers trusted by client ${id}`,
    empty: 'No trusted issuer: no platform token authenticates this client.',
    path: async () => ({ items: await held() }),
    columns: [
      ['Issuer', (t) => t.issuer],
      [
        'Subject',
        (t) => (t.subject_pattern === null ? t.subject : `${t.subject_pattern} (pattern)`),
      ],
      ['Audience', (t) => t.audience ?? "Portero's issuer"],
      ['Required claims', (t) => text(JSON.stringify(t.claims))],
      ['Keys', (t) => (t.jwks ? `${t.jwks.keys.length} fixed` : 'discovery')],
      [
        'Actions',
        (t) =>
          actionButton(
            'Remove',
            async () => {
              const same = (o) =>
                o.issuer === t.issuer &&
                o.subject === t.subject &&
                o.subject_pattern === t.subject_pattern
              const issuers = (await held()).filter((o) => !same(o)).map(issuerBody)
              await replace(issuers)
              announce(`${t.issuer} no longer trusted for ${id}.`)
              list.reload()
            },
            { 'aria-label': `Remove trust in ${t.issuer} for ${t.subject ?? t.subject_pattern}` },
          ),
      ],
    ],
  })
  page(
    `Trusted issuers of client ${id}`,
    h('p', {}, link('#/clients', '← Clients')),
    h(
      'p',
      {},
      'The client may authenticate with a token one of these issuers gave its workload (a CI ' +
        'job, a Kubernetes service account), with no secret or key of its own.',
    ),
    list,
    h('h2', {}, 'Trust an issuer'),
    form({
      fields: [
        {
          name: 'issuer',
          label: 'Issuer',
          type: 'url',
          required: true,
          hint: 'The exact iss, https://.',
        },
        { name: 'subject', label: 'Subject', required: true, hint: 'The exact sub, or a pattern.' },
        {
          name: 'match',
          label: 'Subject is',
          type: 'select',
          value: 'exact',
          options: [
            ['exact', 'exact'],
            ['pattern', 'a pattern: * is one or more characters other than :'],
          ],
        },
        { name: 'audience', label: 'Audience', hint: "Empty: Portero's issuer." },
        {
          name: 'claims',
          label: 'Required claims',
          type: 'textarea',
          hint: 'Optional JSON object of exact string values, e.g. {"repository_owner": "org"}.',
        },
        {
          name: 'jwks',
          label: 'Fixed keys',
          type: 'textarea',
          hint: 'Optional JWK set; empty: the keys are found by OpenID discovery.',
        },
      ],
      submitLabel: 'Trust issuer',
      submit: async ({ issuer, subject, match, audience, claims, jwks }, element) => {
        const entry = {
          issuer,
          [match === 'pattern' ? 'subject_pattern' : 'subject']: subject,
          ...(audience ? { audience } : {}),
        }
        const required = parseOptionalJson(claims, 'claims', 'required claims')
        const keys = parseOptionalJson(jwks, 'jwks', 'keys')
        if (required !== undefined) entry.claims = required
        if (keys !== undefined) entry.jwks = Array.isArray(keys) ? { keys } : keys
        await replace([...(await held()).map(issuerBody), entry])
        element.reset()
        announce(`${issuer} trusted for ${id}.`)
        list.reload()
      },
    }),
  )
}

// ——— Services and subscriptions ————————————————————————————————————————————————————————

function servicesPage() {
  const list = pagedTable({
    caption: 'Services',
    empty: 'No services yet.',
    path: (cursor) => api(withQuery('/admin/services', { limit: PAGE_SIZE, cursor })),
    columns: [
      ['Id', (s) => String(s.id)],
      ['Name', (s) => s.name],
      ['Kind', (s) => s.kind],
      ['Channels', (s) => s.allowed_channels.join(', ')],
      ['Required', (s) => s.required_parameters.join(', ')],
      ['Enabled', (s) => (s.enabled ? 'yes' : 'no')],
      ['Created', (s) => time(s.created_at)],
      ['Actions', (s) => serviceEditor(s, list)],
    ],
  })
  page(
    'Services',
    h('h2', {}, 'New service'),
    form({
      fields: [
        { name: 'id', label: 'Id', type: 'number', min: 1, hint: 'Generated when empty.' },
        { name: 'name', label: 'Name', required: true },
        {
          name: 'allowed_channels',
          label: 'Channels',
          choices: ['sms', 'fcm', 'whatsapp'],
          value: ['sms'],
        },
        {
          name: 'required_parameters',
          label: 'Required parameters',
          choices: ['destination', 'notification', 'advertisement', 'qr_code'],
          value: ['destination'],
        },
      ],
      submitLabel: 'Create service',
      submit: async (values, element) => {
        const service = await api('/admin/services', {
          method: 'POST',
          body: {
            ...(values.id ? { id: Number(values.id) } : {}),
            name: values.name,
            allowed_channels: values.allowed_channels,
            required_parameters: values.required_parameters,
          },
        })
        element.reset()
        announce(`Service ${service.id} created.`)
        list.reload()
      },
    }),
    list,
  )
}

const yesNo = [
  ['true', 'yes'],
  ['false', 'no'],
]

/** A service's row tool: every field PATCH /admin/services/{id} changes, filled in with today's. */
function serviceEditor(s, list) {
  return h(
    'details',
    { class: 'row-tools' },
    h('summary', { 'aria-label': `Edit service ${s.id}` }, 'Edit'),
    form({
      className: 'compact',
      fields: [
        { name: 'name', label: `Name of service ${s.id}`, required: true, value: s.name },
        { name: 'kind', label: 'Kind', required: true, value: s.kind },
        {
          name: 'allowed_channels',
          label: 'Channels',
          choices: ['sms', 'fcm', 'whatsapp'],
          value: s.allowed_channels,
        },
        {
          name: 'required_parameters',
          label: 'Required parameters',
          choices: ['destination', 'notification', 'advertisement', 'qr_code'],
          value: s.required_parameters,
        },
        {
          name: 'enabled',
          label: 'Enabled',
          type: 'select',
          options: yesNo,
          value: String(s.enabled),
          hint: 'A disabled service is refused, and its queued deliveries fail.',
        },
        {
          name: 'direct_numbers',
          label: 'Direct numbers',
          type: 'select',
          options: yesNo,
          value: String(s.direct_numbers),
          hint: 'SMS to an E.164 number outside the recipients directory.',
        },
        {
          name: 'direct_number_country_codes',
          label: 'Country codes of direct numbers',
          value: (s.direct_number_country_codes ?? []).join(', '),
          hint: 'Such as 54, 52; empty: any.',
        },
      ],
      submitLabel: `Save service ${s.id}`,
      submit: async (values) => {
        const codes = values.direct_number_country_codes.split(/[\s,]+/).filter(Boolean)
        await api(`/admin/services/${enc(s.id)}`, {
          method: 'PATCH',
          body: {
            name: values.name,
            kind: values.kind,
            allowed_channels: values.allowed_channels,
            required_parameters: values.required_parameters,
            enabled: values.enabled === 'true',
            direct_numbers: values.direct_numbers === 'true',
            direct_number_country_codes: codes.length ? codes : null,
          },
        })
        announce(`Service ${s.id} saved.`)
        list.reload()
      },
    }),
  )
}

async function subscriptionsPage(providerId) {
  const once = h('div')
  const list = pagedTable({
    caption: `Subscriptions of provider ${providerId}`,
    empty: 'No subscriptions yet.',
    path: (cursor) =>
      api(
        withQuery(`/admin/providers/${enc(providerId)}/subscriptions`, {
          limit: PAGE_SIZE,
          cursor,
        }),
      ),
    // The list answers each service_token too: the console shows it only when it is issued.
    columns: [
      ['Service', (s) => String(s.service_id)],
      ['Status', (s) => statusBadge(s.status)],
      ['Created', (s) => time(s.created_at)],
      [
        'Actions',
        (s) =>
          s.status === 'active'
            ? actionButton(
                'Rotate service_token',
                async () => {
                  const rotated = await api(
                    `/admin/providers/${enc(providerId)}/subscriptions/${enc(s.service_id)}/token`,
                    { method: 'POST' },
                  )
                  once.replaceChildren(
                    secretPanel({
                      title: `New service_token of provider ${providerId} for service ${s.service_id}`,
                      note: 'Shown here this once. The old one is refused from now on.',
                      value: rotated.service_token,
                    }),
                  )
                  announce(`service_token for service ${s.service_id} rotated. Shown once.`)
                  once.querySelector('h2')?.setAttribute('tabindex', '-1')
                  once.querySelector('h2')?.focus()
                },
                { 'aria-label': `Rotate service_token for service ${s.service_id}` },
              )
            : '—',
      ],
    ],
  })
  const mine = renderId
  const services = await api(withQuery('/admin/services', { limit: 100 })).catch(() => null)
  if (mine !== renderId) return
  const serviceField = services?.items.length
    ? {
        name: 'service_id',
        label: 'Service',
        type: 'select',
        required: true,
        options: services.items.map((s) => [String(s.id), `${s.id} · ${s.name}`]),
      }
    : { name: 'service_id', label: 'Service id', type: 'number', min: 1, required: true }
  page(
    `Subscriptions of provider ${providerId}`,
    h('p', {}, link('#/providers', '← Providers'), ' · ', link('#/services', 'Services')),
    h('h2', {}, 'Subscribe to a service'),
    form({
      fields: [serviceField],
      submitLabel: 'Subscribe',
      submit: async ({ service_id }) => {
        const subscription = await api(`/admin/providers/${enc(providerId)}/subscriptions`, {
          method: 'POST',
          body: { service_id: Number(service_id) },
        })
        once.replaceChildren(
          secretPanel({
            title: `service_token of provider ${providerId} for service ${subscription.service_id}`,
            note: 'Shown here this once: the provider sends it with every /Services request.',
            value: subscription.service_token,
          }),
        )
        announce(
          `Subscribed to service ${subscription.service_id}. Its service_token is shown once.`,
        )
        list.reload()
      },
    }),
    once,
    list,
  )
}

// ——— Recipients ——————————————————————————————————————————————————————————————————————

function recipientsPage(providerId) {
  page(
    `Recipients of provider ${providerId}`,
    h('p', {}, link('#/providers', '← Providers')),
    h('p', {}, 'Read only: a provider manages its own directory through /recipients.'),
    pagedTable({
      caption: `Recipients of provider ${providerId}`,
      empty: 'No recipients.',
      path: (cursor) =>
        api(
          withQuery(`/admin/providers/${enc(providerId)}/recipients`, {
            limit: PAGE_SIZE,
            cursor,
          }),
        ),
      columns: [
        ['User id', (r) => r.user_id],
        ['Phone', (r) => text(r.phone)],
        ['Push tokens', (r) => String(r.fcm_tokens?.length ?? 0)],
        [
          'Opted out',
          (r) => text([r.sms_opt_out && 'SMS', r.fcm_opt_out && 'push'].filter(Boolean).join(', ')),
        ],
        ['WhatsApp opt-in', (r) => (r.whatsapp_opt_in ? time(r.whatsapp_opt_in_at) : '—')],
        ['Created', (r) => time(r.created_at)],
      ],
    }),
  )
}

// ——— Suppressions ————————————————————————————————————————————————————————————————————

const SUPPRESSION_SOURCES = {
  admin: 'an operator',
  directory: 'opted out in the directory',
  stop_reply: 'replied STOP',
  sms_api_error: 'the SMS API refused it (21610)',
}

function suppressionsPage(providerId) {
  const list = pagedTable({
    caption: `Numbers suppressed for provider ${providerId}`,
    empty: 'No number is suppressed.',
    path: (cursor) =>
      api(
        withQuery(`/admin/providers/${enc(providerId)}/suppressions`, {
          limit: PAGE_SIZE,
          cursor,
        }),
      ),
    columns: [
      ['Phone', (s) => s.phone],
      ['Source', (s) => SUPPRESSION_SOURCES[s.source] ?? s.source],
      ['Scope', (s) => (s.all_providers ? 'every provider' : 'this provider')],
      ['Since', (s) => time(s.created_at)],
      [
        'Actions',
        // Only an operator's own can be lifted here: a STOP ends with START, an opt-out in the
        // provider's own directory.
        (s) =>
          s.source === 'admin'
            ? actionButton(
                'Lift',
                async () => {
                  await api(`/admin/providers/${enc(providerId)}/suppressions/${enc(s.phone)}`, {
                    method: 'DELETE',
                  })
                  announce(`${s.phone} may receive SMS from provider ${providerId} again.`)
                  list.reload()
                },
                { 'aria-label': `Lift the suppression of ${s.phone}` },
              )
            : '—',
      ],
    ],
  })
  page(
    `Suppressions of provider ${providerId}`,
    h('p', {}, link('#/providers', '← Providers')),
    h(
      'p',
      {},
      '/Services refuses to send an SMS to any number listed here. Numbers are kept in their ' +
        'canonical E.164 form.',
    ),
    h('h2', {}, 'Suppress a number'),
    form({
      fields: [
        {
          name: 'phone',
          label: 'Phone',
          type: 'tel',
          required: true,
          hint: 'E.164, such as +5491155550000.',
        },
      ],
      submitLabel: 'Suppress number',
      submit: async ({ phone }, element) => {
        const suppression = await api(`/admin/providers/${enc(providerId)}/suppressions`, {
          method: 'POST',
          body: { phone },
        })
        element.reset()
        announce(`${suppression.phone} suppressed for provider ${providerId}.`)
        list.reload()
      },
    }),
    list,
  )
}

// ——— Webhooks ————————————————————————————————————————————————————————————————————————

function webhooksPage(providerId) {
  page(
    `Webhook endpoints of provider ${providerId}`,
    h('p', {}, link('#/providers', '← Providers')),
    h(
      'p',
      {},
      'A provider registers, changes and re-enables its own endpoints through /webhooks; here ' +
        'its events can be sent again on its behalf. Secrets are never shown.',
    ),
    pagedTable({
      caption: `Webhook endpoints of provider ${providerId}`,
      empty: 'No webhook endpoints.',
      path: (cursor) =>
        api(
          withQuery(`/admin/providers/${enc(providerId)}/webhooks`, { limit: PAGE_SIZE, cursor }),
        ),
      columns: [
        ['URL', (e) => e.url],
        ['Events', (e) => e.event_types.join(', ')],
        ['Status', (e) => statusBadge(e.enabled ? 'enabled' : 'disabled')],
        [
          'Disabled',
          (e) => (e.enabled ? '—' : [text(e.disabled_reason), ' ', time(e.disabled_at)]),
        ],
        ['Consecutive failures', (e) => String(e.consecutive_failures)],
        [
          'Attempts',
          (e) =>
            h(
              'a',
              {
                href: `#/providers/${enc(providerId)}/webhooks/${enc(e.id)}`,
                'aria-label': `Events and attempts of ${e.url}`,
              },
              'Events and attempts',
            ),
        ],
      ],
    }),
  )
}

function attemptsTable(providerId, endpointId, { caption, empty, outcome }) {
  return pagedTable({
    caption,
    empty,
    path: (cursor) =>
      api(
        withQuery(`/admin/providers/${enc(providerId)}/webhooks/${enc(endpointId)}/attempts`, {
          limit: PAGE_SIZE,
          cursor,
          outcome,
        }),
      ),
    columns: [
      ['Attempted', (a) => time(a.attempted_at)],
      ['Event', (a) => text(a.event_type)],
      ['Event id', (a) => a.event_id],
      ['Attempt', (a) => String(a.attempt)],
      ['HTTP status', (a) => text(a.http_status)],
      ['Error', (a) => text(a.error)],
      ['Duration', (a) => `${a.duration_ms} ms`],
      ['Outcome', (a) => statusBadge(a.outcome)],
      ['Next attempt', (a) => time(a.next_attempt_at)],
    ],
  })
}

function webhookEndpointPage(providerId, endpointId) {
  const base = `/admin/providers/${enc(providerId)}/webhooks/${enc(endpointId)}`
  const events = pagedTable({
    caption: 'Recent events, newest first',
    empty: 'No events yet.',
    path: (cursor) => api(withQuery(`${base}/events`, { limit: PAGE_SIZE, cursor })),
    columns: [
      ['Time', (e) => time(e.created_at)],
      ['Event', (e) => e.type],
      ['Event id', (e) => e.event_id],
      ['Delivery', (e) => statusBadge(e.status)],
      ['Attempts', (e) => String(e.attempts)],
      [
        'Actions',
        // A pending event is on its way already; a succeeded or dead one can be sent again.
        (e) =>
          e.status === 'pending'
            ? '—'
            : actionButton(
                'Send again',
                async () => {
                  await api(`${base}/events/${enc(e.event_id)}/redeliver`, { method: 'POST' })
                  announce(`Event ${e.event_id} will be sent again.`)
                  events.reload()
                },
                { 'aria-label': `Send again the event ${e.event_id}` },
              ),
      ],
    ],
  })
  page(
    `Webhook endpoint ${endpointId}`,
    h('p', {}, link(`#/providers/${enc(providerId)}/webhooks`, '← Webhook endpoints')),
    h('h2', {}, 'Recent events'),
    h(
      'p',
      {},
      'Sending an event again gives it a first attempt and a new retry schedule, with the same ' +
        'webhook-id. The endpoint must be enabled.',
    ),
    form({
      fields: [
        {
          name: 'since',
          label: 'Dead since',
          type: 'datetime-local',
          required: true,
          hint: 'Every event dead for this endpoint since then is sent again (500 at most a time).',
        },
      ],
      submitLabel: 'Send dead events again',
      submit: async ({ since }) => {
        const done = await api(`${base}/redeliver`, {
          method: 'POST',
          body: { since: instant(since) },
        })
        announce(
          `${done.redelivered.length} dead events will be sent again` +
            (done.more ? ': more remain, send again.' : '.'),
        )
        events.reload()
      },
    }),
    events,
    h('h2', {}, 'Recent attempts'),
    attemptsTable(providerId, endpointId, {
      caption: 'Recent attempts, newest first',
      empty: 'No attempts yet.',
    }),
    h('h2', {}, 'Dead events'),
    h('p', {}, 'Events given up on after their last attempt: this endpoint will not receive them.'),
    attemptsTable(providerId, endpointId, {
      caption: 'Dead events, newest first',
      empty: 'No dead events.',
      outcome: 'dead',
    }),
  )
}

// ——— Messages ————————————————————————————————————————————————————————————————————————

/** The last search, kept in memory (never in the URL: a destination is a person's). */
let messageSearch = {}

function messagesPage() {
  const results = h('div')
  const search = (filters) => {
    messageSearch = filters
    results.replaceChildren(
      pagedTable({
        caption: 'Messages, newest first',
        empty: 'No message matches.',
        path: (cursor) =>
          api(withQuery('/admin/messages', { ...filters, limit: PAGE_SIZE, cursor })),
        columns: [
          ['Message', (m) => link(`#/messages/${enc(m.id)}`, m.id)],
          ['Status', (m) => statusBadge(m.status)],
          ['Provider', (m) => m.provider_id],
          ['Service', (m) => String(m.service_id)],
          ['Destination', (m) => m.destination],
          ['Created', (m) => time(m.created_at)],
        ],
      }),
    )
  }
  const local = (iso) => (iso ? toLocalInput(iso) : '')
  page(
    'Messages',
    form({
      fields: [
        { name: 'provider_id', label: 'Provider id', value: messageSearch.provider_id },
        {
          name: 'destination',
          label: 'Destination',
          value: messageSearch.destination,
          hint: 'A recipient user id or an E.164 number.',
        },
        {
          name: 'status',
          label: 'Status',
          type: 'select',
          value: messageSearch.status ?? '',
          options: [['', 'Any'], ...MESSAGE_STATUSES.map((s) => [s, s])],
        },
        {
          name: 'since',
          label: 'Since',
          type: 'datetime-local',
          value: local(messageSearch.since),
        },
        {
          name: 'until',
          label: 'Until',
          type: 'datetime-local',
          value: local(messageSearch.until),
        },
      ],
      submitLabel: 'Search',
      submit: async (values) =>
        search({ ...values, since: instant(values.since), until: instant(values.until) }),
    }),
    results,
  )
  search(messageSearch)
}

/** An ISO instant as a datetime-local value in the browser's time zone. */
function toLocalInput(iso) {
  const date = new Date(iso)
  const pad = (n) => String(n).padStart(2, '0')
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  )
}

async function messagePage(id) {
  const mine = renderId
  const body = h('div', { class: 'message' }, h('p', { class: 'state' }, 'Loading…'))
  page(`Message ${id}`, h('p', {}, link('#/messages', '← Messages')), body)
  let shown = null
  for (let round = 0; round < 120 && mine === renderId; round++) {
    let message
    try {
      message = await api(`/admin/messages/${enc(id)}`)
    } catch (err) {
      if (mine !== renderId) return
      body.replaceChildren(h('p', { class: 'state form-error' }, err.message))
      return
    }
    if (mine !== renderId) return
    if (message.status !== shown) {
      body.replaceChildren(...messageView(message))
      if (shown !== null) announce(`Message ${id} is now ${message.status}.`)
      shown = message.status
    }
    if (FINAL.has(message.status)) return
    // Receipts arrive within seconds: look again while the page is open.
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}

function messageView(m) {
  return [
    facts([
      ['Status', statusBadge(m.status)],
      ['Provider', m.provider_id],
      ['Service', String(m.service_id)],
      ['Destination', m.destination],
      ['Created', time(m.created_at)],
      // docs/sending.md "Scheduled sends and quiet hours": when a scheduled message is due.
      ...(m.scheduled_for ? [['Scheduled for', time(m.scheduled_for)]] : []),
    ]),
    ...m.deliveries.map((d, i) =>
      h(
        'section',
        { class: 'card delivery', 'aria-labelledby': `delivery-${i}` },
        h(
          'h2',
          { id: `delivery-${i}` },
          `Delivery ${i + 1}: ${d.channel ?? ''} ${d.part ?? ''}`.trim(),
        ),
        facts([
          ['Status', statusBadge(d.status)],
          ['To', text(d.to)],
          ['Attempts', String(d.attempts ?? 0)],
          ['Last error', text(d.last_error)],
          ['Error code', text(d.error_code)],
          ['Carrier id', text(d.provider_message_id)],
          // docs/sending.md "A second SMS route", "WhatsApp", "Fallback between channels".
          ...(d.route ? [['SMS route', d.route]] : []),
          ...(d.content_sid ? [['Template', d.content_sid]] : []),
          ...(d.fallback_delivery_id ? [['Fell back to', d.fallback_delivery_id]] : []),
          ...(d.fallback_of ? [['Sent in place of', d.fallback_of]] : []),
        ]),
        h('h3', {}, 'Timeline'),
        d.events?.length
          ? h(
              'ol',
              { class: 'timeline' },
              d.events.map((e) =>
                h(
                  'li',
                  {},
                  time(e.at),
                  ' ',
                  statusBadge(e.status),
                  e.attempt ? ` attempt ${e.attempt}` : '',
                  e.error_code ? ` · error ${e.error_code}` : '',
                  e.detail ? ` · ${e.detail}` : '',
                ),
              ),
            )
          : h('p', { class: 'state' }, 'No events yet.'),
      ),
    ),
  ]
}

// ——— Audit log ———————————————————————————————————————————————————————————————————————

let auditSearch = {}

function auditPage() {
  const results = h('div')
  const search = (filters) => {
    auditSearch = filters
    results.replaceChildren(
      pagedTable({
        caption: 'Audit events, newest first',
        empty: 'No event matches.',
        path: (cursor) => api(withQuery('/admin/audit', { ...filters, limit: PAGE_SIZE, cursor })),
        columns: [
          ['Time', (e) => time(e.occurred_at)],
          ['Action', (e) => e.action],
          ['Outcome', (e) => statusBadge(e.outcome)],
          ['Actor', (e) => text(e.actor)],
          ['Target', (e) => text(e.target)],
          ['Count', (e) => String(e.count ?? 1)],
          ['Request id', (e) => text(e.request_id)],
          ['Detail', (e) => (e.detail ? h('code', {}, JSON.stringify(e.detail)) : '—')],
        ],
      }),
    )
  }
  page(
    'Audit log',
    form({
      fields: [
        { name: 'actor', label: 'Actor', value: auditSearch.actor },
        {
          name: 'action',
          label: 'Action',
          value: auditSearch.action,
          hint: 'e.g. provider.create, client.rotate_secret, token.issued',
        },
        { name: 'target', label: 'Target', value: auditSearch.target },
        {
          name: 'outcome',
          label: 'Outcome',
          type: 'select',
          value: auditSearch.outcome ?? '',
          options: [
            ['', 'Any'],
            ['success', 'success'],
            ['failure', 'failure'],
          ],
        },
        { name: 'since', label: 'Since', type: 'datetime-local' },
        { name: 'until', label: 'Until', type: 'datetime-local' },
      ],
      submitLabel: 'Search',
      submit: async (values) =>
        search({ ...values, since: instant(values.since), until: instant(values.until) }),
    }),
    results,
  )
  search(auditSearch)
}

// ——— Login locks ————————————————————————————————————————————————————————————————————

function loginLocksPage() {
  page(
    'Login locks',
    h(
      'p',
      {},
      'Failed logins lock a client from the address that made them (10 a minute), and an ' +
        'address for every client (20 a minute), for 60 s: the answer is 429. Portero keeps no ' +
        'list of them; the audit log has every failure. Lift a lock here when a caller cannot ' +
        'wait.',
    ),
    h(
      'p',
      {},
      h(
        'a',
        { href: '#/audit', onclick: () => (auditSearch = { action: 'login.failed' }) },
        'Failed logins in the audit log',
      ),
    ),
    h('h2', {}, "Lift a client's locks"),
    form({
      fields: [
        {
          name: 'client_id',
          label: 'Client id',
          required: true,
          hint: 'From every address at once.',
        },
      ],
      submitLabel: 'Lift client locks',
      submit: async ({ client_id }, element) => {
        await api(`/admin/clients/${enc(client_id)}/login-locks`, { method: 'DELETE' })
        element.reset()
        announce(`Login locks of ${client_id} lifted.`)
      },
    }),
    h('h2', {}, "Lift an address's lock"),
    form({
      fields: [
        {
          name: 'ip',
          label: 'Address',
          required: true,
          hint: 'IPv4 or IPv6 (an IPv6 address lifts its /64).',
        },
      ],
      submitLabel: 'Lift address lock',
      submit: async ({ ip }, element) => {
        await api(withQuery('/admin/login-locks', { ip }), { method: 'DELETE' })
        element.reset()
        announce(`Login lock of ${ip} lifted.`)
      },
    }),
  )
}

// ——— Routing ————————————————————————————————————————————————————————————————————————

const ROUTES = [
  [/^#\/providers\/([^/]+)\/clients$/, (id) => clientsPage(id)],
  [/^#\/providers\/([^/]+)\/subscriptions$/, (id) => subscriptionsPage(id)],
  [/^#\/providers\/([^/]+)\/recipients$/, (id) => recipientsPage(id)],
  [/^#\/providers\/([^/]+)\/suppressions$/, (id) => suppressionsPage(id)],
  [/^#\/providers\/([^/]+)\/webhooks$/, (id) => webhooksPage(id)],
  [/^#\/providers\/([^/]+)\/webhooks\/([^/]+)$/, (id, ep) => webhookEndpointPage(id, ep)],
  [/^#\/clients\/([^/]+)\/keys$/, (id) => clientKeysPage(id)],
  [/^#\/clients\/([^/]+)\/issuers$/, (id) => clientIssuersPage(id)],
  [/^#\/clients$/, () => clientsPage(null)],
  [/^#\/services$/, () => servicesPage()],
  [/^#\/messages\/([^/]+)$/, (id) => messagePage(id)],
  [/^#\/messages$/, () => messagesPage()],
  [/^#\/audit$/, () => auditPage()],
  [/^#\/login-locks$/, () => loginLocksPage()],
  [/^#\/providers$/, () => providersPage()],
  [/^#\/overview$/, () => overviewPage()],
]

function route() {
  renderId++
  if (!signedIn()) return signInPage()
  nav.hidden = false
  who.hidden = false
  who.textContent = `Signed in as ${clientId()}`
  signOutButton.hidden = false
  const hash = location.hash || '#/overview'
  for (const [pattern, render] of ROUTES) {
    const match = pattern.exec(hash)
    if (!match) continue
    Promise.resolve(render(...match.slice(1).map(decodeURIComponent))).catch((err) =>
      announce(err.message, 'error'),
    )
    return
  }
  page('Not found', h('p', {}, 'No such page. '), link('#/overview', 'Overview'))
}

window.addEventListener('hashchange', route)
route()
