// Package directory is the Finesse directory: the users who may sign in
// (agents, supervisors, administrators), their teams, the reason codes an
// agent gives for NOT_READY and LOGOUT, and the media routing domains (MRDs)
// an agent signs in to.
//
// A Directory is read once, from the embedded default (Default) or from a
// YAML file (Load, Parse), validated as a whole, and never changed after:
// every method is safe for concurrent use without locks. It implements
// server.Accounts, so the XMPP core checks SASL PLAIN passwords against it;
// the REST API reads users, teams, reason codes and MRDs through its lookups.
//
// The file format and the default accounts are described in default.yaml.
package directory
