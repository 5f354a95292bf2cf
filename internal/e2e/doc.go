// Package e2e holds ekbom's end-to-end tests. They build the real ekbom
// binary, run `ekbom serve` on a temporary SQLite database (and, when
// EKBOM_TEST_POSTGRES_DSN is set, on PostgreSQL), and drive it over real
// HTTP and from Debian's headless Chromium through chromedp:
//
//   - browser tests: sign in, create a patient, record visits, assess, read
//     the plan, the timeline charts, the print view and the handout, and
//     field-level form errors, with a full-page screenshot of each main page
//     saved under EKBOM_ARTIFACTS (default: a temporary directory);
//   - a crash test: SIGKILL the server during a stream of API writes, restart
//     it and check that every acknowledged write is there and the database is
//     consistent;
//   - security tests: CSRF, unauthenticated access, roles, bogus tokens and
//     field-level API errors.
//
// Without Chromium the browser tests skip, unless CI=true, where they fail.
// The package has only tests.
package e2e
