package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/server"
)

func TestReloadDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir.yaml")
	write := func(src string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("teams: [{id: 3, name: Night}]\nusers:\n  - {id: a1, password: pw, role: Agent, team: 3}\n  - {id: a2, password: pw, role: Agent, team: 3}\n")
	cfg := testConfig()
	cfg.DirectoryFile = path
	var seen [][2]int // users before and after, per reload
	cfg.Setup = func(a *App) error {
		a.OnDirectoryReload(func(previous, current *directory.Directory) {
			seen = append(seen, [2]int{len(previous.Users()), len(current.Users())})
		})
		return nil
	}
	a := start(t, cfg)

	tcp, err := client.DialTCP(a.Addr(ListenerXMPP), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Drop()
	removed := client.New(tcp, "localhost")
	if err := removed.Login("a2", "pw", "r"); err != nil {
		t.Fatal(err)
	}

	write("teams: [{id: 3, name: Night}]\nusers:\n  - {id: a1, password: pw, role: Agent, team: 3}\n  - {id: a3, password: pw, role: Agent, team: 3}\n  - {id: a4, password: pw, role: Agent, team: 3}\n")
	change, err := a.ReloadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	if want := (DirectoryReload{Users: 3, Teams: 1, Added: 2, Removed: 1}); change != want {
		t.Errorf("reload = %+v, want %+v", change, want)
	}
	if cond, err := removed.ExpectEnd(); err != nil || cond != server.CondNotAuthorized {
		t.Errorf("the removed user's stream ended with %q, %v; want not-authorized", cond, err)
	}
	if _, ok := a.Directory().Authenticate("a3", "pw"); !ok {
		t.Error("an added user cannot log in after the reload")
	}
	if a.Directory().Exists("a2") {
		t.Error("the removed user is still in the directory")
	}
	if len(seen) != 1 || seen[0] != [2]int{2, 3} {
		t.Errorf("reload listeners saw %v, want one reload from 2 to 3 users", seen)
	}

	// An invalid file changes nothing.
	write("users: [{id: a1, role: Agent}]\n")
	if _, err := a.ReloadDirectory(); err == nil || !strings.Contains(err.Error(), "empty password") {
		t.Errorf("reloading an invalid file: %v", err)
	}
	if !a.Directory().Exists("a3") || len(seen) != 1 {
		t.Error("an invalid file changed the directory or told the listeners")
	}
}

func TestReloadWithoutDirectoryFile(t *testing.T) {
	a := start(t, testConfig())
	if _, err := a.ReloadDirectory(); !errors.Is(err, ErrNoDirectoryFile) {
		t.Errorf("reload without a file: %v", err)
	}
}
