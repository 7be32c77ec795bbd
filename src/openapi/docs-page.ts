// The HTML of GET /docs and its Content-Security-Policy: Swagger UI on /openapi.json, every file
// from this origin (the Worker's static assets in public/docs/, copied by scripts/docs-assets.ts).

/** Where scripts/docs-assets.ts copies swagger-ui-dist's files, under the assets directory. */
export const SWAGGER_UI_PATH = '/docs/swagger-ui'

export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portero API reference</title>
<link rel="stylesheet" href="${SWAGGER_UI_PATH}/swagger-ui.css">
<link rel="stylesheet" href="${SWAGGER_UI_PATH}/index.css">
<link rel="icon" type="image/png" href="${SWAGGER_UI_PATH}/favicon-32x32.png">
<script src="${SWAGGER_UI_PATH}/swagger-ui-bundle.js" defer></script>
<script src="/docs/init.js" defer></script>
</head>
<body>
<div id="swagger-ui"></div>
<noscript>The API reference needs JavaScript. The description itself is at
<a href="/openapi.json">/openapi.json</a>.</noscript>
</body>
</html>
`

/**
 * Only this origin's scripts and styles, no inline script and no eval. Swagger UI's stylesheet
 * draws its icons as data: SVGs, and "Try it out" calls the API with fetch, hence img-src data:
 * and connect-src 'self' (the document's server is the issuer, which is this origin).
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')
