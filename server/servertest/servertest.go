package servertest

import "strings"

// Accounts is a server.Accounts kept in a map from lower-case localpart to
// password. Like the real directory it matches the user case-insensitively.
type Accounts map[string]string

// Authenticate checks user's password.
func (a Accounts) Authenticate(user, password string) (string, bool) {
	local := strings.ToLower(user)
	want, ok := a[local]
	return local, ok && want == password
}

// Exists reports whether local is an account.
func (a Accounts) Exists(local string) bool {
	_, ok := a[local]
	return ok
}
