package telemetry

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// NoticeFile is the file in Config.Home that records the version of the
// privacy notice the user was last shown, one line.
const NoticeFile = "telemetry_notice"

// noticeWidth is the line width of the notice text.
const noticeWidth = 72

// noticeCache is the version recorded in NoticeFile as last read. The file
// is read again whenever its size or modification time changes.
type noticeCache struct {
	version      string // the current notice version: the catalog fingerprint
	stamp        fileStamp
	haveStamp    bool
	shownVersion string // the version in NoticeFile, "" when there is none
}

// Notice returns the privacy notice the app shows the user, its version and
// whether it needs showing. The version is the catalog fingerprint, so the
// notice needs showing on the first run and again whenever the catalog
// changes. needsShowing is false once MarkNoticeShown recorded this version,
// and while a switch other than the notice keeps telemetry off, because
// then nothing would be sent.
//
// The text is generated from the config and the catalog: what is sent,
// where it goes, and how to turn it off.
func (c *Client) Notice() (text, version string, needsShowing bool) {
	version = c.privacy.notice.version
	wouldSend := c.switches.evaluate().Enabled
	needsShowing = wouldSend && c.shownNoticeVersion() != version
	return c.noticeText(), version, needsShowing
}

// MarkNoticeShown records in <Home>/telemetry_notice that the user was
// shown the current notice. With Config.RequireNotice it lets the client
// start sending at once.
func (c *Client) MarkNoticeShown() error {
	if c.cfg.Home == "" {
		return errors.New("record telemetry notice: no home folder: set Config.Home")
	}
	if err := os.MkdirAll(c.cfg.Home, 0o700); err != nil {
		return fmt.Errorf("record telemetry notice: create home folder: %s", errorText(err))
	}
	path := filepath.Join(c.cfg.Home, NoticeFile)
	if err := replaceFile(path, ".telemetry_notice-*", []byte(c.privacy.notice.version+"\n")); err != nil {
		return fmt.Errorf("record telemetry notice: %w", err)
	}

	c.privacy.mu.Lock()
	c.privacy.notice.haveStamp = false
	c.privacy.mu.Unlock()
	c.refresh()
	select {
	case c.nudge <- struct{}{}:
	default:
	}
	return nil
}

// shownNoticeVersion returns the version recorded in NoticeFile, or "".
func (c *Client) shownNoticeVersion() string {
	if c.cfg.Home == "" {
		return ""
	}
	path := filepath.Join(c.cfg.Home, NoticeFile)
	n := &c.privacy.notice
	c.privacy.mu.Lock()
	defer c.privacy.mu.Unlock()

	stamp, err := statFile(path)
	if err != nil || !stamp.exists {
		n.haveStamp, n.shownVersion = false, ""
		return ""
	}
	if n.haveStamp && stamp == n.stamp {
		return n.shownVersion
	}
	data, err := os.ReadFile(path)
	if err != nil {
		n.haveStamp, n.shownVersion = false, ""
		return ""
	}
	n.stamp, n.haveStamp, n.shownVersion = stamp, true, strings.TrimSpace(string(data))
	return n.shownVersion
}

// noticeGate reports whether the notice keeps telemetry off now, with the
// sentence that Status and Switches show for it.
func (c *Client) noticeGate() (applies bool, reason string) {
	version := c.privacy.notice.version
	switch {
	case !c.cfg.RequireNotice:
		return false, "Config.RequireNotice is off, so sending does not wait for the notice"
	case c.shownNoticeVersion() == version:
		return false, "notice " + version + " was shown"
	}
	return true, "notice " + version + " has not been shown, so nothing is sent until the app shows it (Config.RequireNotice)"
}

// applyNotice adds the notice to a status that the four switches decided.
// With Config.RequireNotice and the current notice not shown, telemetry is
// off: Capture ignores events, no install ID or secret is created and the
// spool is not sent.
func (c *Client) applyNotice(st Status) Status {
	if !c.cfg.RequireNotice {
		return st
	}
	applies, reason := c.noticeGate()
	st.Reasons = append(st.Reasons, reason)
	if applies && st.Switch == "" {
		st.Switch, st.Enabled = SwitchNotice, false
	}
	return st
}

// noticeText writes the notice from the config and the catalog.
func (c *Client) noticeText() string {
	app := c.cfg.App
	events := make([]string, len(c.cfg.Catalog.Events))
	for i, e := range c.cfg.Catalog.Events {
		events[i] = e.Name
	}
	host := c.cfg.Endpoint
	if u, err := url.Parse(c.cfg.Endpoint); err == nil && u.Host != "" {
		host = u.Host
	}

	paragraphs := []string{
		fmt.Sprintf("%s sends anonymous usage telemetry to help improve it.", app),
		fmt.Sprintf("What is sent: %s of its catalog (%s), each with the app version, "+
			"the operating system, runtime versions and a random install ID. Every value is checked against its privacy "+
			"class before it leaves this machine, so free text, file paths, email addresses, URLs, IP addresses and keys "+
			"are never sent.", eventKinds(len(events)), strings.Join(events, ", ")),
		fmt.Sprintf("Where it goes: %s. You can have the events of this install deleted there with the app's "+
			"\"telemetry forget\" command.", host),
		fmt.Sprintf("How to turn it off: set %s=1 or %s=1, or save the choice with the app's \"telemetry disable\" "+
			"command. \"telemetry show\" prints what would be sent.", EnvVar(app, DisableVarSuffix), DoNotTrackVar),
		fmt.Sprintf("Catalog version: %s.", c.privacy.notice.version),
	}
	for i, p := range paragraphs {
		paragraphs[i] = wrapText(p, noticeWidth)
	}
	return strings.Join(paragraphs, "\n\n") + "\n"
}

// eventKinds returns the phrase for n kinds of events, singular when n is 1.
func eventKinds(n int) string {
	if n == 1 {
		return "the one kind of event"
	}
	return fmt.Sprintf("the %d kinds of events", n)
}

// wrapText breaks s into lines of at most width bytes at spaces. A word
// longer than width gets a line of its own.
func wrapText(s string, width int) string {
	var b strings.Builder
	line := 0
	for _, word := range strings.Fields(s) {
		switch {
		case line == 0:
		case line+1+len(word) > width:
			b.WriteByte('\n')
			line = 0
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String()
}
