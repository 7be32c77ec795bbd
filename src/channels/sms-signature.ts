// The SMS API's request signature (Twilio's X-Twilio-Signature), which proves a status callback or
// an inbound-message webhook came from the API: base64 of HMAC-SHA1, keyed with the account's auth
// token, over the full URL the request was sent to followed by every form parameter's name and
// value, sorted by name (Twilio, "Webhooks security").

export const SMS_SIGNATURE_HEADER = 'x-twilio-signature'

/** Form parameters as a request carries them: a name may repeat. */
export type FormParams = URLSearchParams | Iterable<readonly [string, string]>

/** The text the signature covers: the URL, then each name and value, by name and then value. */
function signedText(url: string, params: FormParams): string {
  const pairs = [...params].map(([name, value]) => [name, value] as const)
  pairs.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
  return pairs.reduce((text, [name, value]) => text + name + value, url)
}

async function hmacSha1(authToken: string, text: string): Promise<Uint8Array> {
  const encoder = new TextEncoder()
  const key = await crypto.subtle.importKey(
    'raw',
    encoder.encode(authToken),
    { name: 'HMAC', hash: 'SHA-1' },
    false,
    ['sign'],
  )
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(text)))
}

/** The signature the SMS API sends with a request of `params` to `url`. */
export async function smsSignature(
  authToken: string,
  url: string,
  params: FormParams,
): Promise<string> {
  const mac = await hmacSha1(authToken, signedText(url, params))
  return mac.toBase64()
}

function decodeBase64(text: string): Uint8Array | null {
  try {
    return Uint8Array.fromBase64(text)
  } catch {
    return null
  }
}

/**
 * The URLs the API may have signed for this one: as received, and with the default port written
 * out or left out (the API signs the URL as configured, and a proxy may add or drop `:443`).
 */
function urlVariants(url: string): string[] {
  const match = /^(https?):\/\/([^/?#:]+|\[[^\]]+\])(?::(\d+))?(.*)$/i.exec(url)
  if (!match) return [url]
  const [, scheme, host, port, rest] = match
  const defaultPort = scheme!.toLowerCase() === 'https' ? '443' : '80'
  if (port === undefined) return [url, `${scheme}://${host}:${defaultPort}${rest}`]
  return port === defaultPort ? [url, `${scheme}://${host}${rest}`] : [url]
}

/**
 * Whether `signature` is the SMS API's signature of a request of `params` to `url`, compared in
 * constant time. An empty auth token verifies nothing.
 */
export async function verifySmsSignature(
  authToken: string,
  url: string,
  params: FormParams,
  signature: string | null | undefined,
): Promise<boolean> {
  if (!authToken || !signature) return false
  const given = decodeBase64(signature.trim())
  if (!given || given.byteLength !== 20) return false
  const pairs = [...params]
  for (const candidate of urlVariants(url)) {
    const expected = await hmacSha1(authToken, signedText(candidate, pairs))
    if (crypto.subtle.timingSafeEqual(expected, given)) return true
  }
  return false
}
