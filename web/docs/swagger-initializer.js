// Start Swagger UI on the spec of the server that serves this page.
// validatorUrl: null turns off the badge that would ask an online
// validator about the spec: /docs loads nothing from other hosts.

// Swagger UI writes the example of a media type whose name contains
// "json" as one JSON value, so an NDJSON upload's example (lines of
// JSON, a string in the spec) would be shown and sent as one quoted
// string. NDJSON examples are shown and sent as written.
const NdjsonExamplesAsWritten = function () {
  return {
    afterLoad: function (system) {
      const sampleOf = system.fn.getSampleSchema;
      system.fn.getSampleSchema = function (schema, contentType, config, example) {
        const text = example && typeof example.toJS === "function" ? example.toJS() : example;
        if (/ndjson/i.test(contentType || "") && typeof text === "string") return text;
        return sampleOf(schema, contentType, config, example);
      };
    },
  };
};

window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    displayOperationId: false,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl, NdjsonExamplesAsWritten],
    layout: "StandaloneLayout",
  });
});
