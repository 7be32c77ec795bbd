// E.164 phone numbers (ITU-T E.164), as recipients are stored and SMS is sent: "+" and then 7 to 15
// digits, the first of which (a country code's) is never 0. And their one canonical form, in which
// they are stored, looked up, counted and sent (docs/sending.md "Phone numbers", decisions.md D37).

export const E164 = /^\+[1-9]\d{6,14}$/

// Country calling codes whose national trunk prefix is written after the code by mistake: the
// prefix dialled inside the country before the national number (ITU-T national numbering plans).
// In each of these countries no national number starts with that prefix, so "+44 07700…" can only
// be "+44 7700…": removing it never makes two phones one. Countries whose national numbers start
// with 0 (Italy +39, San Marino +378, Vatican +379, Côte d'Ivoire +225, Congo +242, Gabon +241)
// are not here: their 0 is part of the number. `length`: the national number's length without the
// prefix, where the prefix's digit can also start a number.
export const TRUNK_PREFIXES: Record<string, { prefix: string; length?: number }> = {
  '1': { prefix: '1', length: 10 }, // North American Numbering Plan: area codes start with 2–9
  '7': { prefix: '8', length: 10 }, // Russia, Kazakhstan: 8 also starts 10-digit numbers (800…)
  '20': { prefix: '0' }, // Egypt
  '27': { prefix: '0' }, // South Africa
  '31': { prefix: '0' }, // Netherlands
  '32': { prefix: '0' }, // Belgium
  '33': { prefix: '0' }, // France
  '36': { prefix: '06' }, // Hungary
  '41': { prefix: '0' }, // Switzerland
  '43': { prefix: '0' }, // Austria
  '44': { prefix: '0' }, // United Kingdom, Guernsey, Jersey, Isle of Man
  '46': { prefix: '0' }, // Sweden
  '49': { prefix: '0' }, // Germany
  '51': { prefix: '0' }, // Peru
  '55': { prefix: '0' }, // Brazil (a carrier code after the 0 is not recognised)
  '58': { prefix: '0' }, // Venezuela
  '61': { prefix: '0' }, // Australia
  '62': { prefix: '0' }, // Indonesia
  '63': { prefix: '0' }, // Philippines
  '64': { prefix: '0' }, // New Zealand
  '66': { prefix: '0' }, // Thailand
  '81': { prefix: '0' }, // Japan
  '82': { prefix: '0' }, // South Korea
  '84': { prefix: '0' }, // Vietnam
  '86': { prefix: '0' }, // China
  '90': { prefix: '0' }, // Turkey
  '91': { prefix: '0' }, // India
  '92': { prefix: '0' }, // Pakistan
  '94': { prefix: '0' }, // Sri Lanka
  '234': { prefix: '0' }, // Nigeria
  '254': { prefix: '0' }, // Kenya
  '353': { prefix: '0' }, // Ireland
  '358': { prefix: '0' }, // Finland
  '380': { prefix: '0' }, // Ukraine
  '598': { prefix: '0' }, // Uruguay
  '972': { prefix: '0' }, // Israel
}

/**
 * Argentina (+54): a national number is 10 digits, area code and local number. A mobile is
 * written "+54 9" and those 10 digits internationally, but "0" (trunk) and "15" (after the area
 * code) nationally, and all of these reach one phone. Only mobiles take SMS, so the canonical form
 * is "+549" and the 10 digits. "15" is recognised after Buenos Aires' area code 11 only: after
 * the other area codes (2 to 4 digits) it cannot be told from a local number's first digits.
 */
function argentina(national: string): string | null {
  // No area code starts with 0 or 9.
  let rest = national.replace(/^0?9?/, '')
  if (rest.length === 12 && rest.startsWith('1115')) rest = `11${rest.slice(4)}`
  return rest.length === 10 ? `+549${rest}` : null
}

/**
 * Mexico (+52): national numbers are 10 digits since 2019. The "1" once written after +52 for a
 * mobile, and the national prefixes 01, 02, 044 and 045, are dropped.
 */
function mexico(national: string): string | null {
  const rest = national.replace(/^(?:1|0[12]|04[45])(?=\d{10}$)/, '')
  return rest.length === 10 ? `+52${rest}` : null
}

const SPECIAL: Record<string, (national: string) => string | null> = {
  '52': mexico,
  '54': argentina,
}

/**
 * The canonical form of an E.164 number: what the SMS API delivers to the same phone, written one
 * way, so that a suppression, a recipient's phone and a quota's destination compare equal however
 * the number was written. The national trunk prefix after the country code is removed
 * (TRUNK_PREFIXES), Argentina's and Mexico's mobile conventions are resolved (SPECIAL); any other
 * number, or one that would no longer be E.164, is returned as given. Idempotent.
 */
export function canonicalPhone(phone: string): string {
  if (!E164.test(phone)) return phone
  for (const length of [1, 2, 3]) {
    const code = phone.slice(1, 1 + length)
    const national = phone.slice(1 + length)
    const special = SPECIAL[code]
    if (special) {
      const canonical = special(national)
      return canonical && E164.test(canonical) ? canonical : phone
    }
    const trunk = TRUNK_PREFIXES[code]
    if (trunk) {
      if (!national.startsWith(trunk.prefix)) return phone
      const rest = national.slice(trunk.prefix.length)
      if (trunk.length !== undefined && rest.length !== trunk.length) return phone
      const canonical = `+${code}${rest}`
      return E164.test(canonical) ? canonical : phone
    }
  }
  return phone
}
