package simulate

import (
	"fmt"
	"math/rand/v2"
)

// weighted is a discrete distribution over strings.
type weighted []struct {
	value  string
	weight int
}

func (w weighted) pick(rng *rand.Rand) string {
	total := 0
	for _, c := range w {
		total += c.weight
	}
	n := rng.IntN(total)
	for _, c := range w {
		if n < c.weight {
			return c.value
		}
		n -= c.weight
	}
	return w[len(w)-1].value
}

// The mixes below are invented to look like a desktop coding app a few
// months after launch; they are not measurements of Mux.
var (
	versions = weighted{
		{"0.12.0", 8}, {"0.12.1", 12}, {"0.13.0", 25}, {"0.13.1", 20}, {"0.14.0", 35},
	}
	platforms = weighted{{"darwin", 55}, {"linux", 30}, {"win32", 15}}
	models    = weighted{
		{"anthropic/claude-sonnet-4-5", 40}, {"anthropic/claude-opus-4-1", 12}, {"openai/gpt-5", 18},
		{"openai/gpt-5-codex", 10}, {"google/gemini-2.5-pro", 8}, {"xai/grok-code-fast-1", 6},
		{"ollama/qwen3-coder:30b", 6},
	}
	agents         = weighted{{"exec", 50}, {"plan", 25}, {"explore", 10}, {"", 15}}
	thinkingLevels = weighted{{"off", 15}, {"low", 20}, {"medium", 35}, {"high", 20}, {"xhigh", 6}, {"max", 4}}
	runtimes       = weighted{{"local", 45}, {"worktree", 35}, {"ssh", 8}, {"docker", 7}, {"devcontainer", 5}}
	commands       = weighted{
		{"clear", 20}, {"compact", 15}, {"model", 15}, {"new", 10}, {"fork", 8}, {"plan", 8},
		{"mode", 6}, {"providers", 4}, {"vim", 3}, {"clear:hard", 3}, {"clear:soft", 3},
		{"goal", 2}, {"btw", 2}, {"workflow", 1},
	}
	errorTypes = weighted{
		{"APICallError", 40}, {"RateLimitError", 20}, {"AbortError", 15}, {"GitError", 15}, {"TypeError", 10},
	}
	errorContexts = weighted{
		{"message-stream", 40}, {"message-send", 25}, {"git-operation", 12}, {"workspace-creation", 8},
		{"workspace-switch", 6}, {"project-add", 5}, {"workspace-deletion", 2}, {"project-remove", 2},
	}
)

// electronVersion is the desktop shell version every simulated install
// reports.
const electronVersion = "37.2.0"

// frontend returns the user agent and navigator.platform an Electron UI
// reports on the given backend platform.
func frontend(platform, version string) (userAgent, navPlatform string) {
	const engine = "AppleWebKit/537.36 (KHTML, like Gecko) mux/%s Chrome/138.0.7204.100 Electron/" + electronVersion + " Safari/537.36"
	switch platform {
	case "darwin":
		return "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) " + fmt.Sprintf(engine, version), "MacIntel"
	case "win32":
		return "Mozilla/5.0 (Windows NT 10.0; Win64; x64) " + fmt.Sprintf(engine, version), "Win32"
	}
	return "Mozilla/5.0 (X11; Linux x86_64) " + fmt.Sprintf(engine, version), "Linux x86_64"
}
