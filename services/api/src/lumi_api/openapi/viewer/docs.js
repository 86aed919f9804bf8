// Starts Swagger UI on the page at /api/docs; a file, not an inline script, so the page's
// Content-Security-Policy can allow scripts from this origin only.
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
