// Package clientjs contains no code, only the browser tests of client.js,
// the web client that sdk/webtelemetry serves. The tests drive headless
// Chromium through chromedp, which the sdk module does not depend on, so
// they live in the root module. The Node tests of client.js stay in
// sdk/webtelemetry/testdata/client_test.mjs.
package clientjs
