// Starts Swagger UI on this origin's OpenAPI description. A file, not an inline script, so that the
// page's Content-Security-Policy can allow 'self' scripts only (src/openapi/docs-page.ts).
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  // The bundle's own presets and layout: no top bar, so no field to load another origin's document.
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  deepLinking: true,
  displayRequestDuration: true,
  // The default posts the document to validator.swagger.io for a badge; nothing leaves this origin.
  validatorUrl: null,
})
