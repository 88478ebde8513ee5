// Start GraphiQL on the GraphQL endpoint of the server that serves this
// page (a relative URL: the page loads nothing from other hosts). Plain
// JSON requests, as /graphql answers them. Headers typed in the Headers
// tab (e.g. {"Authorization": "Bearer <access_token>"} for staff views and
// `me`) are sent with each query and, by default, not kept in the
// browser's storage.
const DEFAULT_QUERY = `# The Nexus catalog, read-only.
# Ctrl-Enter runs the query; Docs lists the schema.
# As staff (inactive products too), under Headers:
# {"Authorization": "Bearer <access_token>"}
query FirstProducts($first: Int = 5) {
  products(first: $first) {
    totalCount
    edges {
      node {
        id
        name
        price
        inStock
        category {
          name
        }
        variants {
          sku
          price
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
`;

window.addEventListener("load", function () {
  const fetcher = GraphiQL.createFetcher({
    url: "/graphql",
    enableIncrementalDelivery: false,
  });
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      shouldPersistHeaders: false,
    }),
  );
});
