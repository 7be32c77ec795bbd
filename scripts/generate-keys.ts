// Production secrets: prints a new signing key set (or one more key for an existing set, for
// rotation) or a new pepper, with how to store it as a Worker secret. Printed to stdout, to be
// piped into `wrangler secret put`: no secret needs to touch the disk (docs/deployment.md).
//
//   node scripts/generate-keys.ts [--alg ES256|EdDSA] [--rotate current.json|-] [--out keys.json]
//   node scripts/generate-keys.ts --rotate - --publish    (the new key first: published, not signing)
//   node scripts/generate-keys.ts --promote -              (the first key moves to the end and signs)
//   node scripts/generate-keys.ts --pepper
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { generatePepper } from '../src/domain/secrets.ts'
import {
  generateSigningKey,
  parseSigningKeySet,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
} from '../src/domain/signing-keys.ts'

const { values } = parseArgs({
  options: {
    alg: { type: 'string', default: 'ES256' },
    rotate: { type: 'string' },
    out: { type: 'string' },
    pepper: { type: 'boolean', default: false },
    publish: { type: 'boolean', default: false },
    promote: { type: 'string' },
  },
})

if (values.pepper) {
  console.log(generatePepper())
  console.error(
    '\nStore it once, before the first client is created (changing it invalidates every secret):',
  )
  console.error(
    'pipe it into `wrangler secret put SECRET_PEPPER --env <environment>` and keep it in your ' +
      'secrets vault, not in a file.',
  )
  process.exit(0)
}

const alg = values.alg as SigningAlgorithm
if (!SIGNING_ALGORITHMS.includes(alg)) {
  console.error(`--alg must be one of ${SIGNING_ALGORITHMS.join(', ')}`)
  process.exit(2)
}

// `--rotate -` reads the current set from stdin, so it can come from a vault through a pipe.
const source = values.promote ?? values.rotate
const currentText =
  source === undefined ? undefined : readFileSync(source === '-' ? 0 : source, 'utf8')
const current = currentText ? (JSON.parse(currentText) as { keys: object[] }) : { keys: [] }
// The last key signs. --publish puts the new key first, so resource servers can fetch it before
// any token names it; --promote later moves that first key to the end, where it signs.
const [first, ...rest] = current.keys
const keySet = values.promote
  ? { keys: first === undefined ? [] : [...rest, first] }
  : values.publish
    ? { keys: [await generateSigningKey(alg), ...current.keys] }
    : { keys: [...current.keys, await generateSigningKey(alg)] }
const json = JSON.stringify(keySet)
await parseSigningKeySet(json) // refuse to print a set the Worker would refuse

if (values.out) {
  writeFileSync(values.out, json + '\n', { mode: 0o600 })
  console.error(`Wrote ${keySet.keys.length} key(s) to ${values.out} (mode 600).`)
} else {
  console.log(json)
}
const store = values.out
  ? `wrangler secret put SIGNING_KEYS --env <environment> < ${values.out}   # then delete it`
  : 'pipe this output into: wrangler secret put SIGNING_KEYS --env <environment>'
console.error(`
Store it as the SIGNING_KEYS secret (${store}),
and keep the set in your secrets vault, not in a file: rotation needs it. The last key in the set
signs; every key verifies. To rotate (docs/operations.md "Rotating the signing key"): --rotate - --publish,
store; after the key set's cache lifetime (6 min) --promote -, store; after the longest token
lifetime and 6 min more, remove the old key from the front of the set and store the set again.`)
