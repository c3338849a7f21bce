package catalog_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

type randomIDProbe struct {
	ID string `json:"id" candor:"random_id"`
}

func (randomIDProbe) EventName() string { return "random_id_probe" }

type userAgentProbe struct {
	UserAgent string `json:"userAgent" candor:"user_agent"`
}

func (userAgentProbe) EventName() string { return "user_agent_probe" }

// probeCatalog returns a catalog whose base properties cover the
// identifier, version and variant classes, plus one event each for the
// random_id and user_agent classes.
func probeCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c := catalog.New("probe")
	c.MustRegister(randomIDProbe{}, "")
	c.MustRegister(userAgentProbe{}, "")
	return c
}

// normalizeAs returns the value that the class keeps of v and the reason
// it rejects v, if any.
func normalizeAs(t *testing.T, c *catalog.Catalog, class catalog.Class, v string) (any, catalog.Reason) {
	t.Helper()
	switch class {
	case catalog.Identifier:
		return c.NormalizeBase("$lib", v)
	case catalog.Version:
		return c.NormalizeBase("version", v)
	case catalog.Variant:
		return c.NormalizeBase(catalog.FeaturePrefix+"new-onboarding", v)
	case catalog.RandomID, catalog.UserAgent:
		event, name := "random_id_probe", "id"
		if class == catalog.UserAgent {
			event, name = "user_agent_probe", "userAgent"
		}
		out, _, err := c.Normalize(event, map[string]any{name: v})
		var violation *catalog.Violation
		if errors.As(err, &violation) {
			return nil, violation.Reason
		}
		if err != nil {
			t.Fatalf("Normalize %s %q: %v", class, v, err)
		}
		return out[name], ""
	}
	t.Fatalf("normalizeAs: no probe for class %s", class)
	return nil, ""
}

// muxEnumValues returns every allowed value of the Mux catalog's enum
// properties, nested ones included.
func muxEnumValues() []string {
	var values []string
	var walk func(props []catalog.Property)
	walk = func(props []catalog.Property) {
		for _, p := range props {
			values = append(values, p.Values...)
			walk(p.Properties)
		}
	}
	c := mux.Catalog()
	walk(c.Base)
	for _, e := range c.Events {
		walk(e.Properties)
	}
	return values
}

// realisticIdentifiers are values that the identifier and variant classes
// must keep: model ids, agent names, error types and codes, providers and
// setting names as Mux, the simulator, the SDK's tests and the docs send
// them.
var realisticIdentifiers = []string{
	// Model ids, as providers and routers name them.
	"anthropic/claude-sonnet-4-5", "anthropic/claude-opus-4-1", "openai/gpt-4.1-mini", "openai/gpt-5",
	"openai/gpt-5-codex", "google/gemini-2.5-pro", "xai/grok-code-fast-1", "ollama/qwen3-coder:30b",
	"gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022", "o3-mini", "text-embedding-3-large",
	"meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-Coder-32B-Instruct", "openrouter/qwen/qwen3-coder",
	"huggingface/Qwen/Qwen2", "mistralai/Mixtral-8x7B-Instruct-v0.1", "deepseek-ai/DeepSeek-V3",
	"bedrock/anthropic.claude-3-5-sonnet-20241022-v2:0", "ollama:llama3.1", "mistral.large-2",
	"openrouter/anthropic/claude-3.7-sonnet", "vertex_ai/gemini-1.5-pro-002",
	// Agents, providers, settings and libraries.
	"exec", "plan", "explore", "anthropic", "openai", "apiKey", "baseUrl", "candor-go", "posthog-go",
	"darwin", "linux", "win32", "new-onboarding", "control", "test", "variant-b", "treatment2",
	// Error types and codes. Windows writes its error codes as 0x and eight
	// hex digits, the same digits inet_aton reads as an IPv4 address.
	"APICallError", "RateLimitError", "AbortError", "GitError", "TypeError", "std::fmt::Error",
	"ECONNRESET", "ERR_MODULE_NOT_FOUND", "E_ACCESSDENIED", "0x80070005", "0xC0000005", "HTTP_429",
	"0x00000000", "0x00000005", "0x8007000E", "0xC0000409", "0xE00002C2", "0x10004003",
	"context_length_exceeded", "overloaded_error", "invalid_request_error",
	// Versions inside identifiers: two numbers joined by a dot are also
	// inet_aton's shorthand for an IPv4 address.
	"3.1", "4.1", "1.2.3", "1.2.3.4567", "0.1", "gpt-3.5-turbo", "llama-3.2-1b", "qwen2.5-coder-7b",
	"gemini-2.0-flash", "mistral-7b-v0.1", "python3.12",
	// ... also where they read as a private address after a name.
	"macos-10.15", "ubuntu-10.04", "node-10.24", "win-10.0.19045",
	// Hex digits that are no encoded text: a catalog fingerprint and a
	// commit hash.
	"9fceb02d0ae598e9", "build-9fceb02d0ae5",
	"3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b", "01890a5d-ac96-774b-bcce-b302099a8057",
}

// realisticVersions are values that the version class must keep.
var realisticVersions = []string{
	"1.4.2", "2024.10.1", "10.0.19045.3803", "10.0.22631", "v0.9.0-rc.1+build.7", "v2.0.0-rc.1", "go1.26.8",
	"unknown", "0.1.0+build.5", "20241022", "33.2.1", "1", "2024-01-02", "131.0.6778.85", "138.0.7204.100",
	"37.2.0", "0.12.0", "0.12.1", "0.13.0", "0.13.1", "0.14.0", "22.11.0", "v20.18.0", "1.1.38", "3.12.7",
	"2.0.0-beta.3", "1.0.0+20130313144700", "6.8.0-45-generic",
	"24.04", "15.1.1", "2.45.2.windows.1", "1.21.0-alpha.3", "2024.3.1.1", "17.4.1", "126.0.2592.113",
	"v0.0.0-20241022153045-abcdef123456", "1.2.1-0.20241022153045-abcdef123456", "1.2.3",
	// Kernel releases of WSL 2, Linux distributions, Android and Raspberry
	// Pi OS, Windows builds, the Darwin kernel and runtimes.
	"5.15.153.1-microsoft-standard-WSL2", "5.15.167.4-microsoft-standard-WSL2", "6.6.87.2-microsoft-standard-WSL2",
	"5.10.102.1-microsoft-standard-WSL2", "4.19.128-microsoft-standard", "4.4.0-19041-Microsoft",
	"5.14.0-427.13.1.el9_4.x86_64", "6.1.0-28-amd64", "6.6.51+rpt-rpi-v8", "5.10.198-android12-9-00085-g226a9632f13d",
	"10.0.22631.4460", "10.0.26100.2605", "24.1.0", "14.7.1", "v22.12.0", "go1.23.4",
	// Builds of Windows, Office and Visual Studio, Chrome, calendar
	// versions with a build number or a date, and .NET Framework.
	"10.0.22631.4602", "6.3.9600.20719", "16.0.17928.20156", "17.11.35222.181", "120.0.6099.291",
	"2024.12.1", "2024.01.15.1", "2024.03.10.232019", "1.0.20241022.1", "4.8.09032", "go1.22.3",
	// Builds of Edge and Opera, Firefox and its ESR, Android and iOS
	// builds, Electron, Windows 7, Windows PowerShell, Defender, the
	// Visual C++ runtime, Windows Terminal, WebKit and ChromeOS.
	"131.0.2903.86", "114.0.5282.102", "133.0.3", "128.5.1esr", "15", "18.1.1", "22B91",
	"AP3A.241105.007", "33.2.1", "34.0.0-beta.9", "6.1.7601.24546", "5.1.19041.5247", "5.1.22621.4391",
	"4.18.24090.11", "14.42.34433.0", "1.21.3231.0", "605.1.15", "16033.58.0",
}

// probeValues are values an attacker sent to learn which ones the classes
// let through, with the reason each class must give.
var probeValues = []struct {
	class catalog.Class
	value string
	want  catalog.Reason
}{
	// base64 of +15551234567, shorter than the 20 characters that make a
	// run look like a key.
	{catalog.Identifier, "KzE1NTUxMjM0NTY3", catalog.ReasonLooksLikeSecret},
	{catalog.Variant, "KzE1NTUxMjM0NTY3", catalog.ReasonLooksLikeSecret},
	{catalog.Version, "KzE1NTUxMjM0NTY3", catalog.ReasonInvalidVersion},
	{catalog.Identifier, "model-KzE1NTUxMjM0NTY3", catalog.ReasonLooksLikeSecret},
	// base64 of 5551234567 and of alice smith.
	{catalog.Identifier, "NTU1MTIzNDU2Nw", catalog.ReasonLooksLikeSecret},
	{catalog.Identifier, "YWxpY2Ugc21pdGg", catalog.ReasonLooksLikeSecret},
	// 127.0.0.1 written in hex parts, as inet_aton reads it.
	{catalog.Identifier, "0x7f.0x0.0x0.0x1", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "0x7f.1", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "peer-0xc0.0xa8.0x1.0x17", catalog.ReasonLooksLikeIP},
	// IPv6 addresses in the form of ipv6-literal.net names, with - for :
	// and s before the zone.
	{catalog.Identifier, "fe80--1-eth0", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "fe80--1seth0", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "2001-db8-85a3-0-0-8a2e-370-7334", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "host/2001-db8--1", catalog.ReasonLooksLikeIP},
	// An AWS secret access key, 40 base64 characters, split by slashes
	// into pieces shorter than 20.
	{catalog.Identifier, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", catalog.ReasonLooksLikeSecret},
	{catalog.Variant, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", catalog.ReasonLooksLikeSecret},
	// North American phone numbers written with dots.
	{catalog.Version, "555.123.4567", catalog.ReasonInvalidVersion},
	{catalog.Version, "1.555.123.4567", catalog.ReasonInvalidVersion},
	// IPv4 addresses as inet_aton reads them: one hex or decimal number,
	// two or three parts, and octal parts.
	{catalog.Identifier, "0x7f000001", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "0X7F000001", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "0xc0a80117", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "err-0x0a000001", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "127.1", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "127.0.1", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "10.15", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "192.168.279", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "169.254.1", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "2130706433", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "0177.0.0.1", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "0177.1", catalog.ReasonLooksLikeIP},
	{catalog.Identifier, "0300.0250.0.1", catalog.ReasonLooksLikeIP},
	{catalog.Variant, "127.1", catalog.ReasonLooksLikeIP},
	// Text in hex shorter than the 32 digits that read as a key: the hex
	// of alice@x.io, my secret and bob@x.io.
	{catalog.Identifier, "616c69636540782e696f", catalog.ReasonLooksLikeSecret},
	{catalog.Identifier, "6d7920736563726574", catalog.ReasonLooksLikeSecret},
	{catalog.Identifier, "user-626f6240782e696f", catalog.ReasonLooksLikeSecret},
	{catalog.Identifier, "0x616c69636540782e696f", catalog.ReasonLooksLikeSecret},
	{catalog.Variant, "6D7920736563726574", catalog.ReasonLooksLikeSecret},
	{catalog.Version, "1.0.0-616c69636540782e696f", catalog.ReasonInvalidVersion},
	// Names in hex of 5 and 6 bytes: alice, Alice, smith and robert.
	{catalog.Identifier, "616c696365", catalog.ReasonLooksLikeSecret},
	{catalog.Identifier, "user-416c696365", catalog.ReasonLooksLikeSecret},
	{catalog.Identifier, "0x736d697468", catalog.ReasonLooksLikeSecret},
	{catalog.Variant, "726f62657274", catalog.ReasonLooksLikeSecret},
	{catalog.Version, "1.0.0-726f62657274", catalog.ReasonInvalidVersion},
	// Phone numbers outside North America written with dots, with and
	// without the country code, and an IPv4 address before a word.
	{catalog.Version, "44.20.7946.0958", catalog.ReasonInvalidVersion},
	{catalog.Version, "020.7946.0958", catalog.ReasonInvalidVersion},
	{catalog.Version, "33.1.42.68.53.00", catalog.ReasonInvalidVersion},
	{catalog.Version, "01.42.68.53.00", catalog.ReasonInvalidVersion},
	{catalog.Version, "32.470.12.34.56", catalog.ReasonInvalidVersion},
	{catalog.Version, "49.30.1234567", catalog.ReasonInvalidVersion},
	{catalog.Version, "44.7911.123456", catalog.ReasonInvalidVersion},
	{catalog.Version, "555.123.4567-home", catalog.ReasonInvalidVersion},
	{catalog.Version, "v44.20.7946.0958", catalog.ReasonInvalidVersion},
	{catalog.Version, "8.8.8.8-foo", catalog.ReasonInvalidVersion},
	{catalog.Version, "1.2.3.4-beta", catalog.ReasonInvalidVersion},
	// Phone numbers in 4 groups after the country code, without a
	// leading zero, from Australia, Russia, Germany, Japan, China, Spain
	// and Mexico.
	{catalog.Version, "61.2.9876.5432", catalog.ReasonInvalidVersion},
	{catalog.Version, "7.495.123.4567", catalog.ReasonInvalidVersion},
	{catalog.Version, "49.30.1234.5678", catalog.ReasonInvalidVersion},
	{catalog.Version, "81.3.1234.5678", catalog.ReasonInvalidVersion},
	{catalog.Version, "86.138.1234.5678", catalog.ReasonInvalidVersion},
	{catalog.Version, "34.912.345.678", catalog.ReasonInvalidVersion},
	{catalog.Version, "52.55.1234.5678", catalog.ReasonInvalidVersion},
	{catalog.Version, "v61.2.9876.5432", catalog.ReasonInvalidVersion},
	{catalog.Version, "61.2.9876.5432-home", catalog.ReasonInvalidVersion},
	// An account number, a local phone number and the public IPv4
	// address 5.245.224.255 written as one decimal number.
	{catalog.Identifier, "12345678", catalog.ReasonLooksLikeNumber},
	{catalog.Identifier, "account-12345678", catalog.ReasonLooksLikeNumber},
	{catalog.Identifier, "5551234", catalog.ReasonLooksLikeNumber},
	{catalog.Variant, "5551234", catalog.ReasonLooksLikeNumber},
	{catalog.Identifier, "99999999", catalog.ReasonLooksLikeNumber},
	// Words in mixed case without digits.
	{catalog.RandomID, "Workspace-Of-Alice", catalog.ReasonNotRandomID},
	{catalog.RandomID, "WorkspaceOfAlice", catalog.ReasonNotRandomID},
	// Words with a number, in upper case and with rare letters.
	{catalog.RandomID, "Alice-Workspace-24", catalog.ReasonNotRandomID},
	{catalog.RandomID, "WorkspaceOfALICE", catalog.ReasonNotRandomID},
	{catalog.RandomID, "Quiz-Jazz-Box-Jets", catalog.ReasonNotRandomID},
	// IBANs, with valid check digits.
	{catalog.RandomID, "GB82WEST12345698765432", catalog.ReasonNotRandomID},
	{catalog.RandomID, "NL91ABNA0417164300", catalog.ReasonNotRandomID},
	{catalog.RandomID, "CH9300762011623852957", catalog.ReasonNotRandomID},
}

func TestProbeValuesRejected(t *testing.T) {
	c := probeCatalog(t)
	for _, p := range probeValues {
		if _, got := normalizeAs(t, c, p.class, p.value); got != p.want {
			t.Errorf("class %s on %q: reason %q, want %q", p.class, p.value, got, p.want)
		}
	}
}

func TestRealisticValuesKept(t *testing.T) {
	c := probeCatalog(t)
	identifiers := append(muxEnumValues(), realisticIdentifiers...)
	for _, class := range []catalog.Class{catalog.Identifier, catalog.Variant} {
		for _, v := range identifiers {
			if _, r := normalizeAs(t, c, class, v); r != "" {
				t.Errorf("class %s rejects %q: %s", class, v, r)
			}
		}
	}
	for _, v := range realisticVersions {
		if _, r := normalizeAs(t, c, catalog.Version, v); r != "" {
			t.Errorf("class version rejects %q: %s", v, r)
		}
	}
}

func TestRealisticUUIDsKept(t *testing.T) {
	c := probeCatalog(t)
	for i := range 2000 {
		v4, v7 := newUUIDv4(), newUUIDv7()
		if _, r := normalizeAs(t, c, catalog.RandomID, v4); r != "" {
			t.Fatalf("UUID %d: class random_id rejects version 4 UUID %q: %s", i, v4, r)
		}
		if _, r := normalizeAs(t, c, catalog.RandomID, v7); r != "" {
			t.Fatalf("UUID %d: class random_id rejects version 7 UUID %q: %s", i, v7, r)
		}
	}
}

func TestUserAgentMajorVersionCapped(t *testing.T) {
	c := probeCatalog(t)
	tests := []struct{ in, want string }{
		{"Chrome 99999 (macOS)", "Chrome (macOS)"},
		{"Chrome 1000 (macOS)", "Chrome (macOS)"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99999.0.0.0 Safari/537.36", "Chrome (macOS)"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/1330.0", "Firefox (Linux)"},
		{"Chrome 131 (macOS)", "Chrome 131 (macOS)"},
		{"Firefox 133 (Linux)", "Firefox 133 (Linux)"},
		{"Safari 17 (iOS)", "Safari 17 (iOS)"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.85 Safari/537.36", "Chrome 131 (macOS)"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) mux/0.14.0 Chrome/138.0.7204.100 Electron/37.2.0 Safari/537.36", "Electron 37 (Windows)"},
	}
	for _, tt := range tests {
		got, r := normalizeAs(t, c, catalog.UserAgent, tt.in)
		if r != "" {
			t.Errorf("user agent %q rejected: %s", tt.in, r)
			continue
		}
		if got != tt.want {
			t.Errorf("user agent %q reduced to %q, want %q", tt.in, got, tt.want)
		}
	}
}

// newUUIDv4 returns a version 4 UUID from crypto/rand.
func newUUIDv4() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// newUUIDv7 returns a version 7 UUID with a random time in the years 2020
// to 2090 and random bits from crypto/rand.
func newUUIDv7() string {
	var b [16]byte
	rand.Read(b[:])
	millis := uint64(1_577_836_800_000) + uint64(b[15])<<33 // 2020 plus up to about 70 years
	for i := range 6 {
		b[i] = byte(millis >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// PostHog's libraries send $os in their own spelling: posthog-js reduces
// the user agent to names such as "Mac OS X" or "Chrome OS",
// posthog-python sends its own names or sys.platform, and posthog-go
// sends runtime.GOOS. Each must become an OS family and never be dropped.
func TestBaseOSReducedToFamily(t *testing.T) {
	c := mux.Catalog()
	tests := []struct{ sender, in, want string }{
		{"posthog-js", "Windows", "Windows"},
		{"posthog-js", "Windows Phone", "Windows"},
		{"posthog-js", "Windows Mobile", "Windows"},
		{"posthog-js", "Mac OS X", "macOS"},
		{"posthog-js", "iOS", "iOS"},
		{"posthog-js", "Android", "Android"},
		{"posthog-js", "Chrome OS", "ChromeOS"},
		{"posthog-js", "Linux", "Linux"},
		{"posthog-js", "watchOS", "Other"},
		{"posthog-js", "Xbox", "Other"},
		{"posthog-js", "PlayStation", "Other"},
		{"posthog-js", "Nintendo", "Other"},
		{"posthog-js", "BlackBerry", "Other"},
		{"posthog-python", "FreeBSD", "Other"},
		{"posthog-python", "cygwin", "Windows"},
		{"posthog-python", "openbsd7", "Other"},
		{"posthog-python", "sunos5", "Other"},
		{"posthog-python", "emscripten", "Other"},
		{"posthog-go", "linux", "Linux"},
		{"posthog-go", "darwin", "macOS"},
		{"posthog-go", "windows", "Windows"},
		{"posthog-go", "ios", "iOS"},
		{"posthog-go", "android", "Android"},
		{"posthog-go", "freebsd", "Other"},
		{"posthog-go", "netbsd", "Other"},
		{"posthog-go", "openbsd", "Other"},
		{"posthog-go", "dragonfly", "Other"},
		{"posthog-go", "illumos", "Other"},
		{"posthog-go", "solaris", "Other"},
		{"posthog-go", "aix", "Other"},
		{"posthog-go", "plan9", "Other"},
		{"posthog-go", "js", "Other"},
		{"posthog-go", "wasip1", "Other"},
		{"other", "macOS", "macOS"},
		{"other", "iPadOS", "iOS"},
		{"other", "ChromeOS", "ChromeOS"},
		{"other", "Darwin", "macOS"},
		{"other", "LINUX", "Linux"},
		{"other", "win32", "Windows"},
		{"other", "192.168.1.23", "Other"},
		{"other", "alice@example.com", "Other"},
	}
	for _, tt := range tests {
		got, r := c.NormalizeBase("$os", tt.in)
		if r != "" {
			t.Errorf("$os %q from %s dropped: %s", tt.in, tt.sender, r)
			continue
		}
		if got != tt.want {
			t.Errorf("$os %q from %s = %q, want %q", tt.in, tt.sender, got, tt.want)
		}
	}
}

// The names PostHog's libraries send must not change how navigator.platform
// values reduce.
func TestPlatformValuesKeepFamily(t *testing.T) {
	tests := []struct{ in, want string }{
		{"MacIntel", "macOS"},
		{"Win32", "Windows"},
		{"Linux x86_64", "Linux"},
		{"Linux armv8l", "Linux"},
		{"iPhone", "iOS"},
		{"iPad", "iOS"},
		{"CrOS", "ChromeOS"},
		{"FreeBSD amd64", "Other"},
		{"", "Other"},
	}
	for _, tt := range tests {
		if got := catalog.ReducePlatform(tt.in); got != tt.want {
			t.Errorf("ReducePlatform(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
