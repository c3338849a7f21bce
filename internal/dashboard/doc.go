// Package dashboard serves the collector's authenticated query API and its
// dashboard web page.
//
// A Handler serves these routes:
//
//	GET  /api/v1/overview        store.Overview as JSON
//	GET  /api/v1/events_per_day  []store.DayCount as JSON
//	GET  /api/v1/active_installs []store.DayValue as JSON
//	GET  /                       the dashboard, or the login form
//	POST /login                  checks the admin token and starts a session
//	POST /logout                 ends the session
//	GET  /assets/...             CSS, JavaScript and the bundled Chart.js
//
// The API routes take the query parameters from and to (UTC dates as
// YYYY-MM-DD, both inclusive), and version, platform, event and project.
// Version, platform and event select several values when repeated or
// separated by commas. Without from and to a query covers all time, and
// without project it covers Config.Project. Unknown parameters and invalid
// dates get 400 with a JSON error that names the parameter.
//
// Every route except /assets/ requires the admin token, sent either as
// "Authorization: Bearer TOKEN" or through the session cookie that the login
// form and the link /?token=TOKEN set. Sessions are random IDs kept in
// memory for SessionLifetime, so a restart logs every browser out while
// bearer tokens keep working. The cookie never contains the token.
//
// Everything the page loads is embedded in the binary: it fetches nothing
// from other hosts, and the Content-Security-Policy header forbids inline
// scripts and styles. A Handler is safe for concurrent use and starts no
// goroutines.
package dashboard
