// npm start keeps its files of secrets readable by their owner only: .dev.vars and
// stand-in/.dev.vars are mode 0600 after every start, whether it wrote them or found them.
/// <reference types="node" />
import { chmodSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { DEV_VARS, STAND_IN_DEV_VARS } from '../../scripts/dev-vars.ts'
import { restartServer } from './server.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const FILES = [DEV_VARS, STAND_IN_DEV_VARS].map((file) => join(ROOT, file))

const modeOf = (file: string) => statSync(file).mode & 0o777

describe('npm start and its files of secrets', () => {
  it(
    'makes an existing .dev.vars of mode 0644 private (0600) again',
    { timeout: 90_000 },
    async () => {
      // As a copy, a restore from backup or an editor may leave them: complete, so nothing is
      // rewritten.
      await restartServer(() => {
        for (const file of FILES) chmodSync(file, 0o644)
      })
      expect(FILES.map(modeOf)).toEqual([0o600, 0o600])
    },
  )
})
