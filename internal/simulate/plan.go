package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// install is one simulated Mux installation and everything it will send.
type install struct {
	index     int
	installID string
	version   string
	platform  string
	events    []timedEvent
}

type timedEvent struct {
	at    time.Time
	event catalog.Event
}

// planInstall draws one install's profile and its sessions from rng. The
// same rng state always gives the same install.
func planInstall(rng *rand.Rand, index, days int, end time.Time) *install {
	in := &install{
		index:     index,
		installID: randomUUID(rng),
		version:   versions.pick(rng),
		platform:  platforms.pick(rng),
	}
	userAgent, navPlatform := frontend(in.platform, in.version)
	front := mux.FrontendPlatform{UserAgent: userAgent, Platform: navPlatform}
	start := end.Add(-time.Duration(days) * 24 * time.Hour)

	// Installs arrive over the whole period; each keeps coming back with a
	// probability that decays over its first weeks.
	firstDay := rng.IntN(days)
	loyalty := 0.25 + 0.6*rng.Float64()
	vim := rng.Float64() < 0.12
	var workspaces []string
	firstLaunch := true

	for day := firstDay; day < days; day++ {
		age := float64(day - firstDay)
		if day != firstDay && rng.Float64() > loyalty*math.Exp(-age/20)+0.05 {
			continue
		}
		sessions := 1 + rng.IntN(3)
		hour := 6 + rng.IntN(12)
		for s := 0; s < sessions; s++ {
			t := start.Add(time.Duration(day)*24*time.Hour + time.Duration(hour+s*2)*time.Hour +
				time.Duration(rng.IntN(3600))*time.Second)
			// A long session pushes the next one back, so each install's
			// events stay in time order.
			if n := len(in.events); n > 0 {
				if earliest := in.events[n-1].at.Add(10 * time.Minute); t.Before(earliest) {
					t = earliest
				}
			}
			p := sessionPlanner{rng: rng, in: in, now: t, front: front}
			workspaces = p.session(firstLaunch, vim, workspaces)
			firstLaunch = false
		}
	}

	// Keep every event inside the simulated period.
	kept := in.events[:0]
	for _, e := range in.events {
		if e.at.Before(end) {
			kept = append(kept, e)
		}
	}
	in.events = kept
	return in
}

// sessionPlanner appends the events of one app session to an install.
type sessionPlanner struct {
	rng   *rand.Rand
	in    *install
	now   time.Time
	front mux.FrontendPlatform
}

func (p *sessionPlanner) emit(ev catalog.Event) {
	p.in.events = append(p.in.events, timedEvent{at: p.now, event: ev})
	p.now = p.now.Add(time.Duration(5+p.rng.IntN(240)) * time.Second)
}

// session plays one app session and returns the install's workspaces.
func (p *sessionPlanner) session(firstLaunch, vim bool, workspaces []string) []string {
	rng := p.rng
	p.emit(mux.AppStarted{IsFirstLaunch: firstLaunch, VimModeEnabled: vim})

	runtime := runtimes.pick(rng)
	if len(workspaces) == 0 || rng.Float64() < 0.2 {
		id := randomUUID(rng)
		p.emit(mux.WorkspaceCreated{WorkspaceID: id, RuntimeType: runtime, FrontendPlatform: p.front})
		workspaces = append(workspaces, id)
	}
	current := workspaces[len(workspaces)-1]
	if len(workspaces) > 1 && rng.Float64() < 0.5 {
		next := workspaces[rng.IntN(len(workspaces))]
		if next != current {
			p.emit(mux.WorkspaceSwitched{FromWorkspaceID: current, ToWorkspaceID: next})
			current = next
		}
	}

	model := models.pick(rng)
	agent := agents.pick(rng)
	thinking := thinkingLevels.pick(rng)
	messages := 1 + int(rng.ExpFloat64()*4)
	for m := 0; m < messages; m++ {
		if rng.Float64() < 0.08 {
			p.emit(mux.CommandUsed{Command: commands.pick(rng)})
		}
		if rng.Float64() < 0.1 {
			model = models.pick(rng)
		}
		p.emit(mux.MessageSent{
			WorkspaceID:      current,
			Model:            model,
			AgentID:          agent,
			MessageLength:    messageLength(rng),
			RuntimeType:      runtime,
			FrontendPlatform: p.front,
			ThinkingLevel:    thinking,
		})
		if rng.Float64() < 0.03 {
			p.emit(mux.ErrorOccurred{ErrorType: errorTypes.pick(rng), Context: errorContexts.pick(rng)})
			continue
		}
		seconds := math.Exp(rng.NormFloat64()*0.9 + 3)
		p.emit(mux.StreamCompleted{
			Model:          model,
			WasInterrupted: rng.Float64() < 0.07,
			DurationSecs:   seconds,
			OutputTokens:   int64(math.Exp(rng.NormFloat64()*1.0 + 6.5)),
		})
	}
	if rng.Float64() < 0.01 {
		p.emit(mux.ErrorOccurred{ErrorType: errorTypes.pick(rng), Context: errorContexts.pick(rng)})
	}
	return workspaces
}

// messageLength draws a message length in characters from a log-normal
// distribution with a median of about 150.
func messageLength(rng *rand.Rand) int {
	return 1 + int(math.Exp(rng.NormFloat64()*1.1+5))
}

// randomUUID returns a version 4 UUID drawn from rng, so a seed reproduces
// every ID of a simulation.
func randomUUID(rng *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
