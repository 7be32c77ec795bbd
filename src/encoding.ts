// Byte encodings and hashing shared by the domain and storage modules.
//
// Hex is the runtime's (Uint8Array.prototype.toHex, Uint8Array.fromHex). The loops remain for
// the Node 24 that runs scripts/ (seed, bootstrap-admin, generate-keys import these modules): its
// V8 has no hex or base64 methods on Uint8Array yet.

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)
  if (typeof view.toHex === 'function') return view.toHex()
  return Array.from(view, (b) => b.toString(16).padStart(2, '0')).join('')
}

export function fromHex(hex: string): Uint8Array {
  if (typeof Uint8Array.fromHex === 'function') return Uint8Array.fromHex(hex)
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16))
}

/** Hex SHA-256 of a string: how KV keys name a token, IP or id without storing it. */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
}
