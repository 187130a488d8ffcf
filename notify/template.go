package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/voipshield/tfps"
)

//go:embed templates/*.tmpl
var builtin embed.FS

const commonTemplate = "_common.tmpl"

// TimeLayout is how times appear in mails.
const TimeLayout = "2006-01-02 15:04:05 MST"

// Templates renders the subject and plain-text body of each notification
// kind: the built-in templates, each replaceable by a file of the same name
// (<kind>.tmpl, _common.tmpl) in the operator's folder.
type Templates struct {
	byKind  map[tfps.NotificationKind]*template.Template
	loc     *time.Location
	product string
}

// TemplateError is a template that does not parse or fails to render. It is
// final: sending again renders the same way.
type TemplateError struct {
	Kind tfps.NotificationKind
	Err  error
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("render %s template: %v", e.Kind, e.Err)
}

func (e *TemplateError) Unwrap() error   { return e.Err }
func (e *TemplateError) Retryable() bool { return false }

// LoadTemplates parses the built-in templates and the overrides in dir (may
// be empty), and renders every kind once with sample data so a broken
// override is reported at start-up. Times are shown in loc.
func LoadTemplates(dir string, loc *time.Location) (*Templates, error) {
	if loc == nil {
		loc = time.UTC
	}
	t := &Templates{byKind: map[tfps.NotificationKind]*template.Template{}, loc: loc, product: "TFPS"}
	var override fs.FS
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("open templates folder: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("templates folder %s is not a folder", dir)
		}
		override = os.DirFS(dir)
		if err := checkOverrideNames(override); err != nil {
			return nil, err
		}
	}
	for _, kind := range tfps.NotificationKinds {
		tmpl := template.New(string(kind)).Funcs(funcs).Option("missingkey=zero")
		for _, name := range []string{commonTemplate, string(kind) + ".tmpl"} {
			var err error
			if tmpl, err = parseFrom(tmpl, builtin, "templates/"+name); err != nil {
				return nil, err
			}
			if override != nil {
				if _, err := fs.Stat(override, name); err == nil {
					if tmpl, err = parseFrom(tmpl, override, name); err != nil {
						return nil, fmt.Errorf("in %s: %w", dir, err)
					}
				}
			}
		}
		for _, part := range []string{"subject", "body"} {
			if tmpl.Lookup(part) == nil {
				return nil, &TemplateError{Kind: kind, Err: fmt.Errorf("no %q template defined", part)}
			}
		}
		t.byKind[kind] = tmpl
	}
	for _, kind := range tfps.NotificationKinds {
		n := sample(kind)
		if _, _, err := t.Render(&n, []tfps.Notification{n}); err != nil {
			return nil, fmt.Errorf("check templates: %w", err)
		}
	}
	return t, nil
}

// checkOverrideNames rejects *.tmpl files that would be ignored because no
// kind has that name: a typo in a file name should not silently keep the
// built-in mail.
func checkOverrideNames(dir fs.FS) error {
	names, err := fs.Glob(dir, "*.tmpl")
	if err != nil {
		return fmt.Errorf("list templates: %w", err)
	}
	for _, name := range names {
		kind := tfps.NotificationKind(strings.TrimSuffix(name, ".tmpl"))
		if name != commonTemplate && !kind.Valid() {
			return fmt.Errorf("template %s names no notification kind (known: %s.tmpl, %v)", name, strings.TrimSuffix(commonTemplate, ".tmpl"), tfps.NotificationKinds)
		}
	}
	return nil
}

func parseFrom(t *template.Template, fsys fs.FS, name string) (*template.Template, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read template %s: %w", name, err)
	}
	// Parsing into the same set replaces earlier definitions of the same name.
	if _, err := t.Parse(string(b)); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", filepath.Base(name), err)
	}
	return t, nil
}

var funcs = template.FuncMap{
	"join":  strings.Join,
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
}

// SummaryLine is one throttled alert folded into a later mail.
type SummaryLine struct {
	tfps.Notification
	Time    string
	Subject string
}

type templateData struct {
	tfps.Notification
	Account string
	Time    string
	Hours   string
	Product string
	Summary []SummaryLine
}

// Render returns the subject and body of n. summary holds the alerts the
// rate limit held back since the last mail of this kind and account.
func (t *Templates) Render(n *tfps.Notification, summary []tfps.Notification) (subject, body string, err error) {
	tmpl, ok := t.byKind[n.Kind]
	if !ok {
		return "", "", &TemplateError{Kind: n.Kind, Err: errors.New("unknown notification kind")}
	}
	data := t.data(n)
	for i := range summary {
		s := &summary[i]
		line, err := t.exec(t.byKind[s.Kind], "subject", t.data(s))
		if err != nil {
			return "", "", &TemplateError{Kind: s.Kind, Err: err}
		}
		data.Summary = append(data.Summary, SummaryLine{Notification: *s, Time: s.At.In(t.loc).Format(TimeLayout), Subject: oneLine(line)})
	}
	if subject, err = t.exec(tmpl, "subject", data); err != nil {
		return "", "", &TemplateError{Kind: n.Kind, Err: err}
	}
	if body, err = t.exec(tmpl, "body", data); err != nil {
		return "", "", &TemplateError{Kind: n.Kind, Err: err}
	}
	subject = oneLine(subject)
	if len(summary) > 0 {
		subject = fmt.Sprintf("%s (+%d more)", subject, len(summary))
	}
	return subject, body, nil
}

func (t *Templates) data(n *tfps.Notification) *templateData {
	hours := "business hours"
	if n.OffHours {
		hours = "off hours"
	}
	return &templateData{
		Notification: *n,
		Account:      n.Account(),
		Time:         n.At.In(t.loc).Format(TimeLayout),
		Hours:        hours,
		Product:      t.product,
	}
}

func (t *Templates) exec(tmpl *template.Template, name string, data *templateData) (string, error) {
	if tmpl == nil {
		return "", errors.New("unknown notification kind")
	}
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// sample is a notification with every field set, used to check templates.
func sample(kind tfps.NotificationKind) tfps.Notification {
	return tfps.Notification{
		ID: "sample", Kind: kind, At: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
		User: "1001", Domain: "pbx.example.com", Email: "owner@example.com",
		SourceIP: "203.0.113.7", Caller: "1001", Number: "+442071234567",
		SourceCountry: "US", DestinationCountry: "GB", Countries: []string{"US", "GB"}, Range: "4420794",
		Count: 6, Limit: 5, ConcurrentCalls: 2, DailyQuota: 10, DailyQuotaOff: 2,
		Flow: "captcha", Detail: "sample",
		Fields: map[string]string{"rule_id": "1", "param": "calls per minute", "value": "12", "threshold": "10"},
	}
}
