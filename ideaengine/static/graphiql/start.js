// Starts GraphiQL on the page's own /graphql (HTTP and graphql-transport-ws). Queries, variables and headers
// are kept in the URL for sharing; headers (e.g. Authorization: Bearer ...) persist in the browser.
const parameters = Object.fromEntries(new URLSearchParams(window.location.search));

function updateURL(data) {
  Object.assign(parameters, data);
  const kept = Object.entries(parameters).filter(([, value]) => Boolean(value));
  history.replaceState(null, "", "?" + new URLSearchParams(kept).toString());
}

const url = window.location.href.split("?")[0];
const subscriptionUrl = url.replace(/^http/, "ws");
const fetcher = GraphiQL.createFetcher({ url, subscriptionUrl });

function App() {
  const [query, setQuery] = React.useState(parameters.q);
  const [variables, setVariables] = React.useState(parameters.variables);
  return React.createElement(GraphiQL, {
    fetcher,
    defaultEditorToolsVisibility: true,
    plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    query,
    variables,
    onEditQuery: (q) => { setQuery(q); updateURL({ q }); },
    onEditVariables: (v) => { setVariables(v); updateURL({ variables: v }); },
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
