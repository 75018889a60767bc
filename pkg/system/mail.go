package system

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Sendmail is where a local mail transfer agent provides sendmail.
const Sendmail = "/usr/sbin/sendmail"

// Mailer sends mail through the local sendmail.
type Mailer struct{}

// CanMail says whether the host has a sendmail (following its alternatives
// symlink) to hand mail to.
func (Mailer) CanMail() bool {
	st, err := os.Stat(Sendmail)
	return err == nil && st.Mode().IsRegular()
}

// Mail hands a message to the local sendmail.
func (Mailer) Mail(ctx context.Context, to, subject, body string) error {
	msg := fmt.Sprintf("To: %s\nSubject: %s\nAuto-Submitted: auto-generated\n\n%s\n", to, subject, strings.TrimRight(body, "\n"))
	cmd := exec.CommandContext(ctx, Sendmail, "-i", "--", to)
	cmd.Stdin = strings.NewReader(msg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sendmail: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
