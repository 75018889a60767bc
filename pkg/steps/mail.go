package steps

import (
	"context"

	"github.com/notifyctl/notifyctl/pkg/engine"
)

// Mail sends a confirmation mail once the service is ready, only when this
// run started or restarted it: a rerun that changes nothing sends nothing.
type Mail struct {
	H                 *Host
	To, Subject, Body string
}

// Kind implements engine.Step.
func (s *Mail) Kind() string { return "mail" }

// Key implements engine.Step.
func (s *Mail) Key() string { return s.To }

// Check implements engine.Step.
func (s *Mail) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	if !r.Changed("start") {
		return engine.Change{}, nil
	}
	if s.H.Mailer == nil || !s.H.Mailer.CanMail() {
		return engine.Change{Detail: "skipped: no /usr/sbin/sendmail on this host"}, nil
	}
	return engine.Change{Action: "send", Detail: s.Subject, Before: struct{}{}}, nil
}

// Apply implements engine.Step.
func (s *Mail) Apply(ctx context.Context, r *engine.Run, c engine.Change) error {
	return s.H.Mailer.Mail(ctx, s.To, s.Subject, s.Body)
}
