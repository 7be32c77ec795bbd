// Signed 64-bit integers, as D1 (SQLite INTEGER) stores provider ids. Carried as decimal strings:
// a JavaScript number is exact only up to 2^53 − 1.

const MAX_INT64 = 2n ** 63n - 1n

/** True for the decimal spelling of an integer from 1 to 2^63 − 1, with no sign or leading 0. */
export function isPositiveInt64(text: string): boolean {
  return /^[1-9]\d{0,18}$/.test(text) && BigInt(text) <= MAX_INT64
}
