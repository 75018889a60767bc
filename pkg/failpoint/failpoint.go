//go:build !failpoints

// Package failpoint marks the places where a crash is most interesting: after
// each step's intent is journaled, between the parts of a step, before a
// rename. In a normal build Inject does nothing and costs nothing. Built with
// -tags failpoints, notifyctl kills itself with SIGKILL at the point named by
// NOTIFYCTL_FAILPOINT (see failpoints.go), so tests can prove that every such
// crash can be uninstalled and reinstalled cleanly.
package failpoint

// Inject marks a failpoint; partial, if given, runs just before a crash there
// (to leave a half-written record, say).
func Inject(name string, partial ...func()) {}
