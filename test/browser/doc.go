// Package browser tests the owner's web page in a real browser: headless
// Chromium driven with chromedp against the real `iotgw run`, which
// replays the bundled capture of a small home network inside a network
// namespace the test builds. It holds tests only; the screenshots it
// takes go to test/browser/artifacts/ (not committed).
package browser
