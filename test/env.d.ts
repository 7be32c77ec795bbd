declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import('cloudflare:test').D1Migration[]
    TEST_SERVICE_ACCOUNT_PUBLIC_JWK: string
    // Optional when deployed (src/config.ts); vitest.config.ts always sets them.
    SMS_AUTH_TOKEN: string
    FCM_SERVICE_ACCOUNT: string
  }
}
