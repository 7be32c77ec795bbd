// Structured JSON logs, one object per line, redacted on the way out (the access log that writes
// one per request is http/access-log.ts). Callers never pass secrets or tokens on purpose:
// redaction is for what slips through inside error messages and library output (SECURITY.md
// "Logs").

export type Level = 'info' | 'warn' | 'error'

export function log(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  write(level, redact({ level, message, time: new Date().toISOString(), ...fields }))
}

/** Writes one entry as it is: the caller has masked what needs masking. */
export function write(level: Level, entry: unknown): void {
  const line = JSON.stringify(entry)
  if (level === 'error') console.error(line)
  else if (level === 'warn') console.warn(line)
  else console.log(line)
}

export const REDACTED = '[redacted]'

/** Field names whose value is dropped whole, wherever they occur. */
const SECRET_KEY = new RegExp(
  'secret|password|passwd|token|authorization|cookie|credential|api[-_]?key|private[-_]?key|' +
    'pepper|signature',
  'i',
)

const B64 = '[A-Za-z0-9_-]'
/**
 * JWTs (JWS, three segments, and JWE, five): base64url of a JSON object ("ey…", "ew…") and then
 * more segments, or any three long base64url segments. Hostnames do not look like either.
 */
const JWT = new RegExp(
  `(?<![A-Za-z0-9_-])(?:e[w-z0-9_-]${B64}{6,}(?:\\.${B64}*){2,4}` +
    `|${B64}{16,}\\.${B64}{16,}\\.${B64}{16,})`,
  'g',
)
/**
 * RFC 9110 §11.4 credentials (token68) after an auth scheme. A plain word is prose ("the Basic
 * credentials are…"); a credential has a digit or symbol in it, or is long.
 */
const SCHEME_CREDENTIALS = /\b(Bearer|Basic|Digest)(\s+)([A-Za-z0-9._~+/=-]+)/gi
/** `name=value`, `name: value`, `"name":"value"` for the credential names clients send. */
const SECRET_NAMES =
  'client_?secret|app_secret|password|access_token|refresh_token|service_token|token'
const SECRET_PAIR = new RegExp(
  `\\b((?:${SECRET_NAMES})\\\\?["']?\\s*[:=]\\s*\\\\?["']?)[^\\s"'&,;}\\\\]+`,
  'gi',
)
/** Standard Webhooks signing secrets (`whsec_` + base64), wherever they appear. */
const WEBHOOK_SECRET = /\bwhsec_[A-Za-z0-9+/=_-]*/g
/** E.164 numbers (+ and up to 15 digits), also percent-encoded as in a form body. */
const PHONE = /(?:\+|%2B)[1-9]\d{6,14}(?!\d)/gi

/** Masks what looks like a token, a credential or a phone number in a piece of text. */
export function redactText(text: string): string {
  return text
    .replace(SCHEME_CREDENTIALS, (match, scheme: string, space: string, credential: string) =>
      /^[A-Za-z]{1,23}$/.test(credential) ? match : `${scheme}${space}${REDACTED}`,
    )
    .replace(JWT, REDACTED)
    .replace(SECRET_PAIR, `$1${REDACTED}`)
    .replace(WEBHOOK_SECRET, `whsec_${REDACTED}`)
    .replace(PHONE, '[phone]')
}

const MAX_DEPTH = 8

/** A copy of `value` fit for a log line: secret-named fields dropped, every string masked. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value)
  if (value instanceof Error) return redactText(`${value.name}: ${value.message}`)
  if (value === null || typeof value !== 'object') return value
  if (depth >= MAX_DEPTH) return '[too deep]'
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1))
  const copy: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    const secret = SECRET_KEY.test(key) && item !== null && item !== undefined
    copy[key] = secret ? REDACTED : redact(item, depth + 1)
  }
  return copy
}
