package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

var pageNames = []string{"login", "error", "live", "accounts", "account", "confirm", "lists", "ranges", "rules", "outbox"}

func (s *server) parseTemplates() error {
	funcs := template.FuncMap{
		"time": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.In(s.opt.Location).Format("2006-01-02 15:04:05")
		},
		"join": strings.Join,
		// pair shows a warning/critical threshold pair; 0 is off.
		"pair": func(warn, crit int) string {
			f := func(n int) string {
				if n == 0 {
					return "—"
				}
				return fmt.Sprint(n)
			}
			if warn == 0 && crit == 0 {
				return "—"
			}
			return f(warn) + " / " + f(crit)
		},
		"link": s.accountLink,
	}
	s.pages = make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("console: parse template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

// render writes page name with data plus what every page needs: the
// prefix, the session (user, CSRF token) and a flash message.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["Prefix"] = s.opt.Prefix
	data["Page"] = name
	if ss := sessionOf(r); ss != nil {
		data["Who"] = ss.who
		data["CSRF"] = ss.csrf
		data["CanAct"] = ss.who.CanAct()
		data["Flash"] = s.sessions.takeFlash(ss)
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "console page failed to render", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// resultColours are the chart's colours, also used by the stylesheet.
var chartSeries = []struct{ Result, Colour string }{
	{"approve", "#2e7d32"}, {"verify", "#f9a825"}, {"reject", "#c62828"},
}

// chart draws decisions per minute by result as stacked bars in SVG,
// rendered on the server so the page needs no chart library.
func chart(mins []MinuteCount, loc *time.Location) template.HTML {
	const w, h, left, bottom, top = 720, 200, 40, 20, 10
	if len(mins) == 0 {
		return ""
	}
	peak := 0
	for _, m := range mins {
		total := 0
		for _, v := range m.Counts {
			total += v
		}
		peak = max(peak, total)
	}
	scale := max(niceCeil(peak), 1)
	plotH := float64(h - bottom - top)
	barW := float64(w-left) / float64(len(mins))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="decisions per minute by result, last hour" preserveAspectRatio="none">`, w, h)
	// Axis and scale.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, left, h-bottom, w, h-bottom)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="end" fill="#555">%d</text>`, left-4, top+8, scale)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="end" fill="#555">0</text>`, left-4, h-bottom)
	for i, m := range mins {
		x := float64(left) + float64(i)*barW
		y := float64(h - bottom)
		for _, sr := range chartSeries {
			n := m.Counts[sr.Result]
			if n == 0 {
				continue
			}
			bh := plotH * float64(n) / float64(scale)
			y -= bh
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %d</title></rect>`,
				x+0.5, y, max(barW-1, 1), bh, sr.Colour, m.Minute.In(loc).Format("15:04"), sr.Result, n)
		}
		if i%10 == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" fill="#555">%s</text>`, x, h-4, m.Minute.In(loc).Format("15:04"))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten.
func niceCeil(n int) int {
	if n <= 0 {
		return 0
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}
