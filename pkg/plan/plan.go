// Package plan reads and validates notifyctl plans.
//
// A plan is a directory holding plan.yaml and the files it names (app files, the
// unit file). Plans shipped with notifyctl are embedded in the binary; others are
// read from disk. A plan is validated completely before anything on the host is
// touched: every error names the plan file and the field.
package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/notifyctl/notifyctl/pkg/harden"
)

// FileName is the name of the plan file inside a plan directory.
const FileName = "plan.yaml"

// MaxSourceSize bounds each file a plan ships; larger files are refused.
const MaxSourceSize = 16 << 20

// MaxContentSize bounds all the files of a plan together: what Load reads
// and what its templates render, held in memory until they are written.
const MaxContentSize = 64 << 20

// MaxVarSize bounds a var's value: one line for a config file or the unit.
const MaxVarSize = 4096

// maxMappingKeys and maxKeys bound the keys of one YAML mapping and of the
// whole plan file: the YAML decoder checks a mapping's keys for duplicates
// pair by pair, which takes minutes with 100,000 keys.
const maxMappingKeys, maxKeys = 1000, 10000

// Plan is a validated plan.
type Plan struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Packages    []string    `yaml:"packages"`
	User        *User       `yaml:"user"`
	Directories []Directory `yaml:"directories"`
	Files       []File      `yaml:"files"`
	Unit        Unit        `yaml:"unit"`
	Readiness   Readiness   `yaml:"readiness"`
	OnReady     OnReady     `yaml:"on_ready"`
	// Vars are values that template files (template: true) and the unit use.
	Vars map[string]string `yaml:"vars"`
	// Checks run after the files and the unit are written and before the
	// service is enabled and started, whenever this run changed them.
	Checks []Check `yaml:"checks"`
	// Data are paths the service itself creates (its StateDirectory=,
	// LogsDirectory=): kept on uninstall unless --purge.
	Data []string `yaml:"data"`
	// Hardening is the sandbox the unit gets, as a drop-in.
	Hardening Hardening `yaml:"hardening"`

	// Origin says where the plan came from: "embedded:NAME" or a path.
	Origin string `yaml:"-"`
	// Source is the plan file as shown in messages.
	Source string `yaml:"-"`
	// UnitContent is the unit file's content.
	UnitContent []byte `yaml:"-"`
	// DropIn is the hardening drop-in for the unit; empty with profile none.
	DropIn []byte `yaml:"-"`
}

// Hardening selects a hardening profile for the unit and what the app needs
// relaxed; notifyctl writes it as a drop-in next to the unit.
type Hardening struct {
	// Profile is "strict" (the default) or "none".
	Profile string `yaml:"profile"`
	// Disable lists directives of the profile the app cannot run with.
	Disable []string `yaml:"disable"`
	// ReadWritePaths stay writable under ProtectSystem=strict.
	ReadWritePaths   []string `yaml:"read_write_paths"`
	StateDirectory   string   `yaml:"state_directory"`
	LogsDirectory    string   `yaml:"logs_directory"`
	RuntimeDirectory string   `yaml:"runtime_directory"`
	// BindPrivilegedPort lets the service listen below port 1024.
	BindPrivilegedPort bool `yaml:"bind_privileged_port"`
	// IPAddressAllow confines the service's traffic to these prefixes.
	IPAddressAllow []string `yaml:"ip_address_allow"`
	// DenyWriteExecute adds MemoryDenyWriteExecute=yes.
	DenyWriteExecute bool   `yaml:"deny_write_execute"`
	UMask            string `yaml:"umask"`
	// MaxExposure, when set, is the highest `systemd-analyze security` score
	// install accepts; above it, nothing is changed.
	MaxExposure *float64 `yaml:"max_exposure"`
}

// DropInPath is where the hardening drop-in goes.
func (p *Plan) DropInPath() string { return harden.DropInPath(p.Unit.Name) }

// User is the system user (and its group) the service runs as.
type User struct {
	Name  string `yaml:"name"`
	Group string `yaml:"group"`
	Home  string `yaml:"home"`
	Shell string `yaml:"shell"`
}

// Directory is a directory the plan owns.
type Directory struct {
	Path  string `yaml:"path"`
	Mode  Mode   `yaml:"mode"`
	Owner string `yaml:"owner"`
	Group string `yaml:"group"`
}

// File is an app file copied from the plan onto the host.
type File struct {
	Source string `yaml:"source"`
	Dest   string `yaml:"dest"`
	Mode   Mode   `yaml:"mode"`
	Owner  string `yaml:"owner"`
	Group  string `yaml:"group"`
	// Template renders the source with the plan's vars (Go text/template).
	Template bool `yaml:"template"`

	// Content is the source file's content, read at load time; for
	// SelfSource, filled in by whoever runs the plan (see Plan.SetSelf).
	Content []byte `yaml:"-"`
}

// SelfSource as a file's source stands for the notifyctl binary itself, so
// that a plan can install `notifyctl run` as its service's readiness wrapper
// in a place the plan owns.
const SelfSource = "@notifyctl"

// UsesSelf says whether a file of the plan is the notifyctl binary.
func (p *Plan) UsesSelf() bool {
	for _, f := range p.Files {
		if f.Source == SelfSource {
			return true
		}
	}
	return false
}

// SetSelf gives the content of the notifyctl binary to the files that install it.
func (p *Plan) SetSelf(content []byte) {
	for i := range p.Files {
		if p.Files[i].Source == SelfSource {
			p.Files[i].Content = content
		}
	}
}

// Unit is the systemd unit the plan installs.
type Unit struct {
	Name   string `yaml:"name"`
	Source string `yaml:"source"`
	Enable *bool  `yaml:"enable"`
	// Template renders the unit file with the plan's vars.
	Template bool `yaml:"template"`
}

// Check is a command that must succeed before the service is started.
type Check struct {
	// Name says what is checked, in messages.
	Name string `yaml:"name"`
	// Run is the command and its arguments (no shell).
	Run []string `yaml:"run"`
	// User runs it as this user (default root), such as the service's.
	User string `yaml:"user"`
	// Dir is the working directory.
	Dir string `yaml:"dir"`
}

// Enabled says whether the unit is enabled at boot (the default).
func (u Unit) Enabled() bool { return u.Enable == nil || *u.Enable }

// Path is where the unit file is installed.
func (u Unit) Path() string { return path.Join(UnitDir, u.Name) }

// UnitDir is where plans install their units.
const UnitDir = harden.UnitDir

// Readiness says how long to wait for the service and how to tell it answers.
type Readiness struct {
	// Timeout bounds the wait for ActiveState=active and the checks after it.
	Timeout Duration `yaml:"timeout"`
	// HTTP, when set, is fetched once the unit is active; any 2xx answer means ready.
	HTTP string `yaml:"http"`
}

// OnReady is what install does once the service is ready, when this run
// started or restarted it.
type OnReady struct {
	Mail *Mail `yaml:"mail"`
}

// Mail is a local confirmation mail, sent with /usr/sbin/sendmail when the
// host has one.
type Mail struct {
	To      string `yaml:"to"`
	Subject string `yaml:"subject"`
	Body    string `yaml:"body"`
}

// DefaultTimeout is used when a plan sets no readiness timeout.
const DefaultTimeout = 90 * time.Second

// Mode is a file mode written in octal ("0644" or 0644).
type Mode uint32

// UnmarshalYAML accepts an octal string or number.
func (m *Mode) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineError(n, "must be an octal mode such as \"0644\"")
	}
	s := strings.TrimPrefix(strings.TrimPrefix(n.Value, "0o"), "0")
	if s == "" {
		s = "0"
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return lineError(n, fmt.Sprintf("%q is not an octal mode such as \"0644\"", n.Value))
	}
	*m = Mode(v)
	return nil
}

func (m Mode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// Duration is a Go duration ("30s", "2m").
type Duration time.Duration

// UnmarshalYAML accepts a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return lineError(n, fmt.Sprintf("%q is not a duration such as \"30s\"", n.Value))
	}
	*d = Duration(v)
	return nil
}

// Error is a plan that failed to load or validate.
type Error struct {
	File  string // the plan file as given
	Field string // the field, such as files[1].mode; empty for the whole file
	Msg   string
}

// Error is one line: control characters that came from the plan (a key with
// a newline in it, an escape sequence) are shown escaped, never sent to the
// terminal as they are.
func (e *Error) Error() string {
	if e.Field == "" {
		return oneLine(fmt.Sprintf("%s: %s", e.File, e.Msg))
	}
	return oneLine(fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg))
}

// oneLine escapes control characters.
func oneLine(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r): // C1, such as U+009B, read by some terminals as ESC [
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Load reads and validates the plan file named file in fsys (a plan
// directory). source names the plan file in messages, origin says where the
// plan came from.
func Load(fsys fs.FS, file, source, origin string) (*Plan, error) {
	fail := func(field, format string, a ...any) error {
		return &Error{File: source, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	st, err := fs.Stat(fsys, file)
	if err == nil && st.Size() > MaxSourceSize {
		return nil, fail("", "the plan file is larger than %d bytes", MaxSourceSize)
	}
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fail("", "no such plan file")
		}
		if escapes(err) {
			return nil, fail("", "the plan file leads out of its directory (a symlink to %s?)", linkTarget(fsys, file))
		}
		return nil, fail("", "%v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fail("", "the plan file is empty")
	}
	if len(data) > MaxSourceSize {
		return nil, fail("", "the plan file is larger than %d bytes", MaxSourceSize)
	}
	if !validUTF8Text(data) {
		return nil, fail("", "not a plan: the file is not text")
	}
	// The document as nodes first, which takes time in proportion to its
	// size: one document, with keys few enough and without duplicates for
	// the decoder's quadratic check of them.
	var doc, extra yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fail(fieldOf(data, err), "%s", yamlMessage(err))
	}
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fail("", "more than one YAML document")
	}
	if field, line, msg := checkKeys(&doc); msg != "" {
		return nil, fail(field, "line %d: %s", line, msg)
	}
	var p Plan
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fail(fieldOf(data, err), "%s", yamlMessage(err))
	}
	p.Origin = origin
	p.Source = source
	if err := p.validate(fsys, file, fail); err != nil {
		return nil, err
	}
	return &p, nil
}

// checkKeys finds a mapping key that is defined twice, or one key too many,
// and says in which field and on which line; aliases are not followed (they
// repeat a mapping checked where it is defined).
func checkKeys(doc *yaml.Node) (field string, line int, msg string) {
	type key struct {
		kind  yaml.Kind
		value string
	}
	total := 0
	var walk func(n *yaml.Node, prefix string) bool
	walk = func(n *yaml.Node, prefix string) bool {
		switch n.Kind {
		case yaml.MappingNode:
			total += len(n.Content) / 2
			switch {
			case len(n.Content)/2 > maxMappingKeys:
				field, line, msg = prefix, n.Line, fmt.Sprintf("a mapping with more than %d keys", maxMappingKeys)
				return false
			case total > maxKeys:
				field, line, msg = prefix, n.Line, fmt.Sprintf("more than %d keys in the plan file", maxKeys)
				return false
			}
			seen := make(map[key]int, len(n.Content)/2)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				name := k.Value
				if prefix != "" {
					name = prefix + "." + name
				}
				if prev, ok := seen[key{k.Kind, k.Value}]; ok {
					field, line, msg = name, k.Line, fmt.Sprintf("mapping key %q already defined at line %d", k.Value, prev)
					return false
				}
				seen[key{k.Kind, k.Value}] = k.Line
				if !walk(n.Content[i+1], name) {
					return false
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if !walk(c, fmt.Sprintf("%s[%d]", prefix, i)) {
					return false
				}
			}
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if !walk(c, prefix) {
					return false
				}
			}
		}
		return true
	}
	walk(doc, "")
	return field, line, msg
}

// lineError is a decoding error at n that yaml reports with n's line.
func lineError(n *yaml.Node, msg string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, msg)}}
}

var lineRE = regexp.MustCompile(`line (\d+):`)

// fieldOf names the field a decoding error is about, from the line it gives:
// the outermost key on that line, such as files[1].mode; "" when none.
func fieldOf(data []byte, err error) string {
	m := lineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	line, _ := strconv.Atoi(m[1])
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return ""
	}
	return fieldAt(&doc, line, "")
}

func fieldAt(n *yaml.Node, line int, prefix string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if f := fieldAt(c, line, prefix); f != "" {
				return f
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			name := n.Content[i].Value
			if prefix != "" {
				name = prefix + "." + name
			}
			if n.Content[i].Line == line {
				return name
			}
			if f := fieldAt(n.Content[i+1], line, name); f != "" {
				return f
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if f := fieldAt(c, line, fmt.Sprintf("%s[%d]", prefix, i)); f != "" {
				return f
			}
		}
	}
	return ""
}

// yamlMessage turns the decoder's message into one line.
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}

func validUTF8Text(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	return strings.ToValidUTF8(string(b), "\uFFFD") == string(b)
}

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
	accountRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	pkgRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
)

type failFunc func(field, format string, a ...any) error

func (p *Plan) validate(fsys fs.FS, file string, fail failFunc) error {
	if !nameRE.MatchString(p.Name) {
		return fail("name", "%q must be lowercase letters, digits and '-', starting with a letter, at most 31 characters", p.Name)
	}
	for k, v := range p.Vars {
		if !varRE.MatchString(k) {
			return fail("vars."+k, "a var name is letters, digits and '_', starting with a letter")
		}
		if hasControl(v) {
			return fail("vars."+k, "must be one line without control characters")
		}
		if len(v) > MaxVarSize {
			return fail("vars."+k, "is longer than %d bytes", MaxVarSize)
		}
	}
	if hasControl(p.Description) {
		return fail("description", "must not contain control characters")
	}
	seenPkg := map[string]bool{}
	for i, pkg := range p.Packages {
		if !pkgRE.MatchString(pkg) {
			return fail(fmt.Sprintf("packages[%d]", i), "%q is not a Debian package name", pkg)
		}
		if seenPkg[pkg] {
			return fail(fmt.Sprintf("packages[%d]", i), "%q is listed twice", pkg)
		}
		seenPkg[pkg] = true
	}
	if p.User != nil {
		u := p.User
		if !accountRE.MatchString(u.Name) {
			return fail("user.name", "%q is not a valid user name", u.Name)
		}
		if u.Group == "" {
			u.Group = u.Name
		}
		if !accountRE.MatchString(u.Group) {
			return fail("user.group", "%q is not a valid group name", u.Group)
		}
		if u.Home == "" {
			u.Home = "/nonexistent"
		}
		if err := checkAbs(u.Home); err != nil {
			return fail("user.home", "%v", err)
		}
		if u.Shell == "" {
			u.Shell = "/usr/sbin/nologin"
		}
		if err := checkAbs(u.Shell); err != nil {
			return fail("user.shell", "%v", err)
		}
	}
	owners := func(field, owner, group string) (string, string, error) {
		if owner == "" {
			owner = "root"
		}
		if group == "" {
			group = "root"
			if p.User != nil && owner == p.User.Name {
				group = p.User.Group
			}
		}
		if !accountRE.MatchString(owner) {
			return "", "", fail(field+".owner", "%q is not a valid user name", owner)
		}
		if !accountRE.MatchString(group) {
			return "", "", fail(field+".group", "%q is not a valid group name", group)
		}
		return owner, group, nil
	}
	// size is what the plan's files add up to so far, read and rendered;
	// tmplSize what its templates do, which cost far more to parse.
	size, tmplSize := 0, 0
	load := func(field, source string, template bool) ([]byte, error) {
		content, err := readSource(fsys, source)
		if err != nil {
			return nil, fail(field, "%v", err)
		}
		size += len(content)
		if template {
			if tmplSize += len(content); tmplSize > MaxTemplateSize {
				return nil, fail(field, "the plan's templates add up to more than %d bytes", MaxTemplateSize)
			}
			if content, err = p.render(source, content); err != nil {
				return nil, fail(field, "%v", err)
			}
			size += len(content)
		}
		if size > MaxContentSize {
			return nil, fail(field, "the plan's files add up to more than %d bytes", MaxContentSize)
		}
		return content, nil
	}
	dests := map[string]string{}
	claim := func(field, p string) error {
		if prev, ok := dests[p]; ok {
			return fail(field, "%s is already claimed by %s", p, prev)
		}
		dests[p] = field
		return nil
	}
	for i := range p.Directories {
		d := &p.Directories[i]
		field := fmt.Sprintf("directories[%d]", i)
		if err := checkDest(d.Path); err != nil {
			return fail(field+".path", "%v", err)
		}
		if err := claim(field+".path", d.Path); err != nil {
			return err
		}
		if d.Mode == 0 {
			d.Mode = 0o755
		}
		if err := checkMode(d.Mode); err != nil {
			return fail(field+".mode", "%v", err)
		}
		var err error
		if d.Owner, d.Group, err = owners(field, d.Owner, d.Group); err != nil {
			return err
		}
	}
	for i := range p.Files {
		f := &p.Files[i]
		field := fmt.Sprintf("files[%d]", i)
		if f.Source != SelfSource {
			if err := checkSource(f.Source, file); err != nil {
				return fail(field+".source", "%v", err)
			}
			content, err := load(field+".source", f.Source, f.Template)
			if err != nil {
				return err
			}
			f.Content = content
		} else if f.Template {
			return fail(field+".template", "the notifyctl binary is not a template")
		}
		if err := checkDest(f.Dest); err != nil {
			return fail(field+".dest", "%v", err)
		}
		if strings.HasPrefix(f.Dest+"/", UnitDir+"/") {
			return fail(field+".dest", "unit files are installed through unit:, not files:")
		}
		if err := claim(field+".dest", f.Dest); err != nil {
			return err
		}
		if f.Mode == 0 {
			f.Mode = 0o644
		}
		if err := checkMode(f.Mode); err != nil {
			return fail(field+".mode", "%v", err)
		}
		var err error
		if f.Owner, f.Group, err = owners(field, f.Owner, f.Group); err != nil {
			return err
		}
	}
	// A file inside a plan directory needs that directory to come first, and
	// a directory must not be placed under a file.
	for i, f := range p.Files {
		if field, ok := dests[path.Dir(f.Dest)]; ok && strings.HasPrefix(field, "files") {
			return fail(fmt.Sprintf("files[%d].dest", i), "its parent is a file (%s)", field)
		}
	}
	if p.Unit.Name == "" {
		return fail("unit.name", "missing: the plan must install a unit such as %s.service", p.Name)
	}
	if !ValidUnit(p.Unit.Name) {
		return fail("unit.name", "%q is not a service unit name (NAME.service)", p.Unit.Name)
	}
	if p.Unit.Source == "" {
		p.Unit.Source = p.Unit.Name
	}
	if err := checkSource(p.Unit.Source, file); err != nil {
		return fail("unit.source", "%v", err)
	}
	content, err := load("unit.source", p.Unit.Source, p.Unit.Template)
	if err != nil {
		return err
	}
	if err := checkUnitText(content); err != nil {
		return fail("unit.source", "%v", err)
	}
	p.UnitContent = content
	hd := p.Hardening
	p.DropIn, err = harden.DropIn(harden.Options{
		Profile: hd.Profile, Disable: hd.Disable, ReadWritePaths: hd.ReadWritePaths,
		StateDirectory: hd.StateDirectory, LogsDirectory: hd.LogsDirectory, RuntimeDirectory: hd.RuntimeDirectory,
		BindPrivilegedPort: hd.BindPrivilegedPort, IPAddressAllow: hd.IPAddressAllow,
		DenyWriteExecute: hd.DenyWriteExecute, UMask: hd.UMask,
	})
	if err != nil {
		return fail("hardening", "%v", err)
	}
	if m := hd.MaxExposure; m != nil && !(*m >= 0 && *m <= 10) { // NaN fails both
		return fail("hardening.max_exposure", "must be between 0 and 10 (systemd-analyze security's scale)")
	}
	if p.Readiness.Timeout == 0 {
		p.Readiness.Timeout = Duration(DefaultTimeout)
	}
	if p.Readiness.Timeout < Duration(time.Second) || time.Duration(p.Readiness.Timeout) > time.Hour {
		return fail("readiness.timeout", "must be between 1s and 1h")
	}
	if h := p.Readiness.HTTP; h != "" {
		if !(strings.HasPrefix(h, "http://") || strings.HasPrefix(h, "https://")) || hasControl(h) || strings.ContainsAny(h, " \t") {
			return fail("readiness.http", "%q is not an http:// or https:// URL", h)
		}
	}
	for i := range p.Checks {
		c := &p.Checks[i]
		field := fmt.Sprintf("checks[%d]", i)
		if len(c.Run) == 0 || !path.IsAbs(c.Run[0]) {
			return fail(field+".run", "must be a command with an absolute path, and its arguments")
		}
		for _, a := range c.Run {
			if hasControl(a) {
				return fail(field+".run", "arguments must not contain control characters")
			}
		}
		if c.Name == "" {
			c.Name = path.Base(c.Run[0])
		}
		if hasControl(c.Name) {
			return fail(field+".name", "must be one line")
		}
		if c.User != "" && !accountRE.MatchString(c.User) {
			return fail(field+".user", "%q is not a valid user name", c.User)
		}
		if c.Dir != "" {
			if err := checkAbs(c.Dir); err != nil {
				return fail(field+".dir", "%v", err)
			}
		}
	}
	for i, d := range p.Data {
		field := fmt.Sprintf("data[%d]", i)
		if err := checkDest(d); err != nil {
			return fail(field, "%v", err)
		}
		if err := claim(field, d); err != nil {
			return err
		}
	}
	if m := p.OnReady.Mail; m != nil {
		if m.To == "" {
			m.To = "root"
		}
		if !mailRE.MatchString(m.To) {
			return fail("on_ready.mail.to", "%q is not a local user or mail address", m.To)
		}
		if m.Subject == "" {
			m.Subject = p.Name + " ready"
		}
		if hasControl(m.Subject) {
			return fail("on_ready.mail.subject", "must be one line without control characters")
		}
		if strings.ContainsRune(m.Body, 0) {
			return fail("on_ready.mail.body", "must be text")
		}
	}
	return nil
}

var varRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

var mailRE = regexp.MustCompile(`^[a-zA-Z0-9._+-]+(@[a-zA-Z0-9.-]+)?$`)

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

func checkAbs(p string) error {
	if hasControl(p) {
		return errors.New("must not contain control characters")
	}
	if !path.IsAbs(p) || path.Clean(p) != p {
		return fmt.Errorf("%q must be an absolute, clean path", p)
	}
	return nil
}

// forbidden are trees no plan may write into.
// /usr/local/lib/systemd holds units and drop-ins as /etc/systemd does: a
// file there could change the plan's unit behind unit: and its hardening.
// /var/run and /var/lock are Debian's links into /run: refused here, by
// name, rather than at the write, which never follows a link.
var forbidden = []string{"/proc", "/sys", "/dev", "/boot", "/run", "/var/run", "/var/lock", "/var/lib/notifyctl", "/etc/systemd", "/usr/lib/systemd", "/lib/systemd", "/usr/local/lib/systemd"}

// protected are existing system files no plan may replace.
var protected = []string{"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers", "/etc/fstab", "/etc/hosts", "/etc/hostname", "/etc/machine-id"}

// CheckDest accepts a path a plan may own (a file or directory), or says why not.
func CheckDest(p string) error { return checkDest(p) }

// ValidAccount says whether name is a valid user or group name.
func ValidAccount(name string) bool { return accountRE.MatchString(name) }

// ValidUnit says whether name is a service unit name a plan may install.
func ValidUnit(name string) bool { return harden.ValidUnit(name) }

// ValidPackage says whether name is a Debian package name.
func ValidPackage(name string) bool { return pkgRE.MatchString(name) }

// checkDest accepts a path a plan may own.
func checkDest(p string) error {
	if p == "" {
		return errors.New("missing")
	}
	if err := checkAbs(p); err != nil {
		return err
	}
	if strings.Count(p, "/") < 2 { // "/", "/opt", "/etc"
		return fmt.Errorf("%s is a top-level system directory, not something a plan may own", p)
	}
	for _, f := range forbidden {
		if p == f || strings.HasPrefix(p, f+"/") {
			return fmt.Errorf("%s is under %s, which a plan may not write", p, f)
		}
	}
	for _, f := range protected {
		if p == f {
			return fmt.Errorf("%s is a system file a plan may not replace", p)
		}
	}
	return nil
}

func checkSource(s, planFile string) error {
	if s == "" {
		return errors.New("missing")
	}
	if !fs.ValidPath(s) || s == "." || s == planFile {
		return fmt.Errorf("%q must be a relative path inside the plan directory", s)
	}
	return nil
}

func readSource(fsys fs.FS, name string) ([]byte, error) {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file in the plan directory", name)
		}
		if escapes(err) {
			return nil, fmt.Errorf("%s leads out of the plan directory (a symlink to %s?): a plan installs only its own files", name, linkTarget(fsys, name))
		}
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if st.Size() > MaxSourceSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, MaxSourceSize)
	}
	return fs.ReadFile(fsys, name)
}

// escapes says whether err is an os.Root refusing a name that resolves
// outside its directory.
func escapes(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

// linkTarget is where the symlink name points, for messages, or "elsewhere".
func linkTarget(fsys fs.FS, name string) string {
	if t, err := fs.ReadLink(fsys, name); err == nil {
		return strconv.Quote(t)
	}
	return "elsewhere"
}

func checkMode(m Mode) error {
	switch {
	case m&0o6000 != 0:
		return fmt.Errorf("%s: setuid and setgid modes are refused", m)
	case m&0o002 != 0:
		return fmt.Errorf("%s: world-writable modes are refused", m)
	}
	return nil
}

// checkUnitText refuses unit files systemd would misread: binary content and
// control characters other than tab and newline.
func checkUnitText(b []byte) error {
	if !validUTF8Text(b) {
		return errors.New("the unit file is not text")
	}
	for i, line := range strings.Split(string(b), "\n") {
		for _, r := range strings.TrimSuffix(line, "\r") {
			if unicode.IsControl(r) && r != '\t' {
				return fmt.Errorf("line %d has a control character", i+1)
			}
		}
	}
	if !bytes.Contains(b, []byte("[Service]")) {
		return errors.New("the unit file has no [Service] section")
	}
	return nil
}

// UnitSetting is one "Key=value" line of a unit file, in its [Section].
type UnitSetting struct {
	Section, Key, Value string
}

// UnitSettings are a unit file's settings in order, line continuations
// joined, comments and blank lines left out, keys and values trimmed.
// Quoting is not interpreted: enough to tell a program or a unit name.
func UnitSettings(content []byte) []UnitSetting {
	var out []UnitSetting
	section := ""
	text := strings.ReplaceAll(string(content), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") {
			// "[Name]"; what systemd calls an invalid header starts no
			// section the caller knows.
			section = ""
			if strings.HasSuffix(line, "]") {
				section = line[1 : len(line)-1]
			}
			continue
		}
		if key, value, ok := strings.Cut(line, "="); ok {
			out = append(out, UnitSetting{section, strings.TrimSpace(key), strings.TrimSpace(value)})
		}
	}
	return out
}

// InstallTargets are the units an enable of the plan's unit links it into:
// its [Install] section's WantedBy= and RequiredBy=, in order, each once (an
// empty assignment resets the list, as in systemd).
func (p *Plan) InstallTargets() []string {
	var wanted, required []string
	for _, s := range UnitSettings(p.UnitContent) {
		switch {
		case s.Section != "Install":
		case s.Key == "WantedBy":
			wanted = appendAssignment(wanted, s.Value)
		case s.Key == "RequiredBy":
			required = appendAssignment(required, s.Value)
		}
	}
	var out []string
	for _, u := range append(wanted, required...) {
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// appendAssignment adds a list setting's value to list; an empty value
// resets it.
func appendAssignment(list []string, value string) []string {
	f := strings.Fields(value)
	if len(f) == 0 {
		return nil
	}
	return append(list, f...)
}

// Owned lists every host path the plan owns, sorted.
func (p *Plan) Owned() []string {
	var out []string
	for _, d := range p.Directories {
		out = append(out, d.Path)
	}
	for _, f := range p.Files {
		out = append(out, f.Dest)
	}
	out = append(out, p.Unit.Path())
	sort.Strings(out)
	return out
}
