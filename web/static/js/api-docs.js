/* Starts GraphiQL (served from /static/vendor/graphiql) on the /graphql docs page. No inline script:
   the page's CSP is script-src 'self'. The examples' "open in the explorer" buttons load a query. */
(function () {
  'use strict';
  function start() {
    var box = document.getElementById('graphiql');
    if (!box || !window.React || !window.ReactDOM || !window.GraphiQL) {
      return;
    }
    var endpoint = box.getAttribute('data-endpoint') || '/graphql';
    var fetcher = window.GraphiQL.createFetcher({ url: endpoint });
    var root = window.ReactDOM.createRoot(box);
    var state = { query: document.querySelector('.api-example-load') ?
      document.querySelector('.api-example-load').getAttribute('data-query') : '', key: 0 };
    function render() {
      root.render(window.React.createElement(window.GraphiQL, {
        key: state.key,
        fetcher: fetcher,
        defaultQuery: state.query,
        query: state.query,
        defaultEditorToolsVisibility: true,
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false
      }));
    }
    render();
    box.setAttribute('data-ready', '1');
    var buttons = document.querySelectorAll('.api-example-load');
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = false;
      button.addEventListener('click', function () {
        state.query = button.getAttribute('data-query');
        state.key += 1;
        render();
        box.scrollIntoView();
      });
    });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
