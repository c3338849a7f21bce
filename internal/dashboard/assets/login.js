// The server renders the login page for a link with an invalid ?token=,
// which can be a pasted write key. This script removes the token from the
// address bar and the history entry, as the redirect after a valid token
// does.
(function () {
  const url = new URL(window.location.href);
  if (url.searchParams.has('token')) {
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
})();
