package app

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/finesse/rest"
	"github.com/finesse-notify/finesse-notify/server"
)

// DirectoryReload says what a reload changed.
type DirectoryReload = rest.DirectoryReload

// ErrNoDirectoryFile is ReloadDirectory's answer when the service runs on
// the embedded default directory: there is no file to read again.
var ErrNoDirectoryFile = rest.ErrNoDirectoryFile

// OnDirectoryReload registers f, called after every successful reload with
// the directory's contents before and after it (two immutable snapshots).
// Register during Setup; f runs on the reloading goroutine.
func (a *App) OnDirectoryReload(f func(previous, current *directory.Directory)) {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	a.onReload = append(a.onReload, f)
}

// ReloadDirectory reads the --directory file again and, when it is valid,
// puts its contents in place of the current ones: every component holding
// the directory sees the new users, teams and codes from then on. The XMPP
// sessions of removed users are closed (their accounts are gone). An
// invalid file changes nothing and returns the validation error. The
// binary calls it on SIGHUP; administrators through the control endpoint.
func (a *App) ReloadDirectory() (DirectoryReload, error) {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	if a.cfg.DirectoryFile == "" {
		return DirectoryReload{}, ErrNoDirectoryFile
	}
	next, err := directory.Load(a.cfg.DirectoryFile)
	if err != nil {
		a.log.Warn("directory reload refused: the file is invalid", zap.Error(err))
		return DirectoryReload{}, fmt.Errorf("reload: %w", err)
	}
	previous := a.dir.Swap(next)

	var change DirectoryReload
	change.Users, change.Teams = len(next.Users()), len(next.Teams())
	for _, u := range next.Users() {
		if !previous.Exists(u.ID) {
			change.Added++
		}
	}
	for _, u := range previous.Users() {
		if next.Exists(u.ID) {
			continue
		}
		change.Removed++
		bare := server.JID{Local: u.Localpart(), Domain: a.srv.Domain()}
		for _, s := range a.srv.Resources(bare) {
			s.Close(&server.StreamError{Condition: server.CondNotAuthorized, Text: "the account was removed from the directory"})
		}
	}
	for _, f := range a.onReload {
		f(previous, next)
	}
	a.log.Info("directory reloaded", zap.String("file", a.cfg.DirectoryFile),
		zap.Int("users", change.Users), zap.Int("teams", change.Teams),
		zap.Int("added", change.Added), zap.Int("removed", change.Removed))
	return change, nil
}
