// Vitest globalSetup (Node): `npm start` before the e2e files, stopped after them. The browser test
// can reuse it as is (globalSetup: ['./test/e2e/global-setup.ts']) or call startServer/stopServer.
/// <reference types="node" />
import type { TestProject } from 'vitest/node'
import { restoreDevVars } from './dev-vars.ts'
import { startServer, stopServer, type DevCredentials } from './server.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The credentials of the first start (readCredentials() follows restarts). */
    portero: DevCredentials
  }
}

export default async function setup(project: TestProject) {
  // A run that died before its teardown may have left a rotated key set in .dev.vars: put the
  // original back, once the lock says no other run is using it.
  project.provide('portero', await startServer({ prepare: restoreDevVars }))
  return async function teardown() {
    try {
      await stopServer()
    } finally {
      restoreDevVars()
    }
  }
}
