// Package dashboard serves the collector's authenticated query API and its
// dashboard web page.
//
// A Handler serves these routes:
//
//	GET  /api/v1/overview          totals, events per name, top versions and platforms
//	GET  /api/v1/trends            events per period and event, optionally by 1 or 2 properties
//	GET  /api/v1/events_per_day    events per day and event, the same as trends with interval=day
//	GET  /api/v1/active_installs   installs active per day in windows of 1, 7 and 30 days
//	GET  /api/v1/new_installs      installs with a first launch per period
//	GET  /api/v1/histogram         events per value of a base2, bucket or count property
//	GET  /api/v1/errors            the declared error event per period by its declared properties
//	GET  /api/v1/funnel            installs that complete ordered steps within a window
//	GET  /api/v1/retention         weekly cohorts by first-seen week and their later activity
//	GET  /api/v1/export/aggregate  events per day, event, version and platform
//	GET  /api/v1/export/events     raw events as CSV or Parquet, only with k-anonymity off
//	GET  /api/v1/catalog           the events and properties the other routes
//	                               accept, of the catalog of the project
//	                               parameter, which defaults as there
//	GET  /                         the dashboard, or the login form
//	POST /login                    checks the admin token and starts a session
//	POST /logout                   ends the session
//	GET  /assets/...               CSS, JavaScript and the bundled Chart.js
//
// Every data route takes the filter parameters from and to (UTC dates as
// YYYY-MM-DD, both inclusive), version, platform and project, and format:
// json (the default), csv or parquet. Version and platform select several
// values when repeated or separated by commas. An item in double quotes
// may contain commas, and a backslash in it makes the next character
// literal: platform="a,b" selects the platform a,b, and platform=a,b
// selects a and b. Without from and to a query
// covers all time, and without project it covers Config.Project. An empty
// project covers every project of Config.Projects, and never the events
// of a project that is stored but not configured. The
// overview, trends, events_per_day, active_installs, histogram, retention
// and export routes also take event, which selects event names in the same
// way. The routes'
// own parameters are:
//
//	trends           interval (day, week, month or all), breakdown (1 or 2
//	                 comma-separated properties), limit (values kept per
//	                 property, default 20, the rest merged as "(other)"),
//	                 where (property=value, repeatable)
//	active_installs  window (days, comma-separated; default 1,7,30)
//	new_installs     interval
//	histogram        property (required), where
//	errors           interval, breakdown (default: the declared error
//	                 breakdown), limit
//	funnel           step (repeated, 2 to 10, such as
//	                 app_started[isFirstLaunch=true] or
//	                 message_sent[model=m1,thinkingLevel=high]; default:
//	                 the declared funnel), window (such as 30m, 24h or 7d;
//	                 default 1d)
//	retention        weeks (0 to 52, default 8)
//
// A funnel condition's value that contains a comma, ], > or a double quote
// goes in double quotes, in which \" is a double quote and \\ a backslash:
// message_sent[thinkingLevel="a>b,c"]. The funnel's event column writes
// each step in this form, and the page's Steps field, which separates
// steps with >, reads it.
//
// Events and properties are names from the catalogs of Config.Projects,
// with dots for nested objects. A request for one project checks them
// against that project's catalog, and a request for every project against
// all catalogs. A property that two catalogs give different classes may be
// used only in a request for one project. A where value must be one that the
// property's class stores: message_length_b2=350 gets 400 that names 512,
// the value a base2 property stores for 350. Enum values are not checked,
// since older events may hold values that the catalog no longer lists.
// Unknown parameters and invalid values get 400 with a JSON error that
// names the parameter. A project that is not in Config.Projects gets 404,
// in every format, with the body {"error": "...", "projects": [...]} that
// lists the configured projects, as DELETE /api/v1/installs does in
// package server. The page responds to it with 404 and the same message.
// A JSON response of a data route is
// {"k_anonymity": k, "rows": [...]} with one object per row. The overview
// keeps the shape of store.Overview: total_events, installs, events (a map
// of event names to counts), top_versions and top_platforms, with
// event_installs and suppressed_events next to them. CSV and Parquet files
// have one column per row key and a suppressed column.
//
// # Declared events
//
// The new_installs, errors and funnel routes count events that each app
// names in its catalog with catalog.Dashboard. These are the first-launch
// event, with an optional bool property such as isFirstLaunch, the default
// funnel, and the error event with 1 or 2 properties to break it down by. Mux declares app_started[isFirstLaunch=true],
// the funnel app_started[isFirstLaunch=true] > workspace_created >
// message_sent, and error_occurred by errorType and context. A request for
// one project uses that project's declaration from Config.Projects. A
// request for all projects uses the declaration that every declaring
// project agrees on, and counts only the events of those projects, so a
// project that declares nothing adds no events that share the names.
//
// When there is no such declaration, the route responds 409 Conflict with
// the JSON body {"error": "...", "undeclared": PART}, in every format.
// PART is first_launch, funnel or errors, and the message names what to
// declare and where. A funnel request with step parameters needs no
// declared funnel. The page shows the same message in the panel instead of
// a chart.
//
// # k-anonymity
//
// Every row carries the number of distinct installs it was built from. A
// row built from fewer than Config.KAnonymity installs is suppressed. It
// keeps its dimensions, such as the day and the event name, loses its
// counts and gets "suppressed": true, which the page shows as "< k". One
// function, kAnonymity.release, does this for every route and format. The
// page's headlines and the cells of its errors and active-installs tables
// apply the same rule to counts that have no row, such as new installs over
// a range without first launches. With k above 1 they show "< k" instead
// of 0, but the charts still draw such a count as 0. Raw
// events come from one install each, so they are exported only when
// KAnonymity is 1. Suppression is per row, so a total next to the visible
// rows of a breakdown can reveal what the hidden rows add up to.
//
// # Authentication and the page
//
// Every route except /assets/ requires the admin token, sent either as
// "Authorization: Bearer TOKEN" or through the session cookie that the login
// form and the link /?token=TOKEN set. Sessions are random IDs kept in
// memory for SessionLifetime, so a restart logs every browser out while
// bearer tokens keep working. The cookie never contains the token. It
// has the Secure attribute when the request came over TLS, or through a
// proxy that terminates TLS and sends X-Forwarded-Proto: https or
// Forwarded: proto=https. Behind such a proxy, have it set one of the two
// headers, or the browser also sends the cookie over plain HTTP.
//
// The page keeps its whole view in its URL: the filters and each panel's
// settings, so a copied link opens the same view. A filter or a panel
// setting that the page cannot show, such as interval=year, gets 400 and
// a page that names it. Everything it loads is
// embedded in the binary: it fetches nothing from other hosts, and the
// Content-Security-Policy header forbids inline scripts and styles.
//
// A query that fails in the store gets a JSON error and is logged. It
// gets 503 with Retry-After: 5 when the store is unavailable: the error
// matches store.ErrUnavailable, the connection was refused, or the store
// failed a ping. While a query runs, the store is pinged after 1 s and
// then 1 s after each ping. A ping that fails or takes more than 2 s
// cancels the query, so a hung store gets 503 after about 3 s. A query
// that outlasts Config.QueryTimeout (DefaultQueryTimeout, 30 s) while the
// store responds to pings gets 503 without Retry-After and a message to narrow the date
// range, and any other failure gets 500. A panel whose load fails is
// emptied and shows the error. After a 503 with Retry-After, or a request
// that got no response, the page loads that panel again after the
// Retry-After or 5 s.
//
// The data routes need a store that implements store.Analytics. With a
// store that implements only store.Store, the overview still works and the
// other data routes answer 501. A Handler is safe for concurrent use and
// starts no goroutines.
package dashboard
