declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import('cloudflare:test').D1Migration[]
    TEST_SERVICE_ACCOUNT_PUBLIC_JWK: string
  }
}
