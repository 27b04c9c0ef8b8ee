// LAPOR's GraphiQL page, loaded from the package (CSP: script-src 'self', no inline script).
// Queries over HTTP POST to this same /graphql; subscriptions over the websocket on it.
// Nothing typed here is written to the URL: a tracking page's access code must not end up in
// the browser history or in a server's access log. Headers (a bearer token) are not persisted.
(function () {
  "use strict";
  var fetchURL = window.location.href.split("?")[0].split("#")[0];
  var socketURL = new URL(fetchURL);
  socketURL.protocol = socketURL.protocol === "https:" ? "wss:" : "ws:";

  var fetcher = GraphiQL.createFetcher({
    url: fetchURL,
    subscriptionUrl: socketURL.toString(),
  });

  var DEFAULT_QUERY =
    "# LAPOR GraphQL. Kirim token staf sebagai header (send a staff token as a header):\n" +
    '# {"Authorization": "Bearer <access token>"}\n' +
    "{\n  tenant {\n    slug\n    name\n  }\n}\n";

  function App() {
    var explorer = GraphiQLPluginExplorer.explorerPlugin();
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      defaultEditorToolsVisibility: true,
      plugins: [explorer],
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
